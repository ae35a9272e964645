from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """The roles of the portal. Each is a Group (created by migration) of the same name."""

    APPLICANT = "applicant", _("Porteur de projet")
    INSTRUCTOR = "instructor", _("Instructeur")
    ADMIN = "programme_admin", _("Administrateur du programme")
    # Someone asked for an opinion on dossiers (applications.models.opinions): sees only those,
    # only while the request is open.
    EXPERT = "expert", _("Expert")


def normalise_login(value: object) -> str:
    """An address as the login compares it: without surrounding spaces, lower-cased.

    The failed-login counter (django-axes, accounts.views.lockout_username) uses the same form,
    so that every spelling of one address shares one counter.
    """
    return str(value or "").strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("email_confirmed_at", timezone.now())
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> "User":
        # E-mail addresses are compared without case: Jeanne@X.fr and jeanne@x.fr are one person.
        return self.get(email__iexact=normalise_login(username))


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an e-mail address. What they may do comes from their role."""

    email = models.EmailField(_("adresse e-mail"), unique=True)
    first_name = models.CharField(_("prénom"), max_length=150, blank=True)
    last_name = models.CharField(_("nom"), max_length=150, blank=True)
    phone = models.CharField(_("téléphone"), max_length=30, blank=True)
    job_title = models.CharField(
        _("fonction"),
        max_length=200,
        blank=True,
        help_text=_("Par exemple : directrice, chargé de mission. Figure sur les courriers signés."),
    )
    is_active = models.BooleanField(
        _("actif"),
        default=True,
        help_text=_("Un compte inactif ne peut pas se connecter (adresse non confirmée ou compte fermé)."),
    )
    is_staff = models.BooleanField(_("accès à l'administration technique"), default=False)
    email_confirmed_at = models.DateTimeField(_("adresse confirmée le"), null=True, blank=True)
    date_joined = models.DateTimeField(_("inscrit le"), default=timezone.now)
    # The unread notifications, kept by notifications.services_inbox (F() updates in the transaction
    # that writes or reads them): the header shows it from request.user, without a query per page.
    # A default in the database too: the bulk loaders (devtools.bulk, COPY) name their columns.
    unread_notifications = models.PositiveIntegerField(_("notifications non lues"), default=0, db_default=0)

    objects: ClassVar[UserManager] = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")
        ordering = ("last_name", "first_name", "email")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(unread_notifications__gte=0), name="accounts_user_unread_not_negative"
            ),
        ]
        indexes = [
            # The accounts still waiting for their confirmation, counted on the steering page: a
            # handful among tens of thousands, found without reading the others.
            models.Index(
                fields=["date_joined"],
                name="accounts_user_unconfirmed",
                condition=models.Q(is_active=False, email_confirmed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email


class AuditEvent(models.Model):
    """An append-only record of a sensitive action: who did what to which object, and when.

    Rows are written by services in the same transaction as the action they record; the admin
    shows them read-only and nothing in the portal updates them. The retention run alone deletes
    those past the audit rule's time (retention.rules), and records each batch in a new row.
    """

    occurred_at = models.DateTimeField(_("date"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User,
        verbose_name=_("auteur"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    action = models.CharField(_("action"), max_length=100, db_index=True)
    target_type = models.CharField(_("type d'objet"), max_length=100, blank=True)
    target_id = models.CharField(_("identifiant de l'objet"), max_length=64, blank=True)
    target_repr = models.CharField(_("objet"), max_length=255, blank=True)
    data = models.JSONField(_("détails"), default=dict, blank=True)

    class Meta:
        verbose_name = _("événement du journal d'audit")
        verbose_name_plural = _("journal d'audit")
        ordering = ("-occurred_at", "-id")
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action} {self.target_repr}"


class GroupHeadcount(models.Model):
    """How many accounts each group (role) has, kept by database triggers (migration 0004).

    The steering page shows the accounts per role; counting tens of thousands of user-group links
    on each visit would grow with the number of applicants, this row does not. Every write to the
    user-group links updates it in the same transaction, whatever made it (the role service, the
    admin site, a deletion, a bulk load). No foreign key constraint: the row of a deleted group
    may outlive it for a moment without blocking the deletion.
    """

    group = models.OneToOneField(
        "auth.Group",
        verbose_name=_("groupe"),
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    count = models.IntegerField(_("comptes"), default=0)

    class Meta:
        verbose_name = _("effectif d'un rôle")
        verbose_name_plural = _("effectifs des rôles")

    def __str__(self) -> str:
        return f"{self.group_id}: {self.count}"
