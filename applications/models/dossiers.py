"""Dossiers: the consortium, the budget, the documents, the history, shared access."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applications.models.calls import Call, RequiredDocument, Wave
from core.badges import Badge
from fabriques.models import Departement, Organisation, TiersLieu


class ReferenceCounter(models.Model):
    """The last reference number given per prefix and year, incremented under a row lock.

    Counted per prefix, not per call: two calls sharing a prefix must not hand out the same
    reference.
    """

    prefix = models.CharField(max_length=6)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "year"], name="applications_refcounter_prefix_year")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last_number}"


class Application(models.Model):
    """A dossier: a project of one lead structure, alone or in a consortium, for a call."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")
        SUBMITTED = "submitted", _("Déposé")
        IN_REVIEW = "in_review", _("En instruction")
        CORRECTIONS = "corrections_requested", _("Compléments demandés")
        AWARDED = "awarded", _("Lauréat")
        REFUSED = "refused", _("Refusé")
        CLOSED = "closed", _("Classé sans suite")
        WITHDRAWN = "withdrawn", _("Retiré par le porteur")

        @property
        def badge(self) -> Badge:
            """The DSFR badge a dossier in this state is drawn with ({% status_badge %})."""
            status = type(self)
            return {
                status.DRAFT: Badge.NEW,
                status.CORRECTIONS: Badge.WARNING,
                status.AWARDED: Badge.SUCCESS,
                status.REFUSED: Badge.ERROR,
                status.CLOSED: Badge.ERROR,
                status.WITHDRAWN: Badge.ERROR,
            }.get(self, Badge.INFO)

    class Kind(models.TextChoices):
        FT = "ft", _("Fabrique de territoire")
        FNT = "fnt", _("Fabrique numérique de territoire")

    reference = models.CharField(_("référence"), max_length=20, unique=True)
    call = models.ForeignKey(
        Call, verbose_name=_("appel"), on_delete=models.PROTECT, related_name="applications"
    )
    wave = models.ForeignKey(
        Wave,
        verbose_name=_("vague"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )
    status = models.CharField(
        _("état"), max_length=25, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    kind = models.CharField(_("type de fabrique"), max_length=3, choices=Kind.choices, default=Kind.FT)
    title = models.CharField(_("intitulé du projet"), max_length=200)
    summary = models.TextField(_("résumé du projet"), blank=True, max_length=2000)
    services = models.TextField(_("services et activités proposés"), blank=True, max_length=10000)
    community_governance = models.TextField(_("communauté et gouvernance"), blank=True, max_length=10000)
    partnerships = models.TextField(_("partenariats locaux"), blank=True, max_length=10000)
    resource_role = models.TextField(
        _("rôle de lieu ressource pour les autres tiers-lieux"), blank=True, max_length=10000
    )
    digital_offer = models.TextField(_("offre numérique"), blank=True, max_length=10000)
    territorial_need = models.TextField(_("besoin du territoire"), blank=True, max_length=10000)
    economic_model = models.TextField(_("modèle économique"), blank=True, max_length=10000)
    jobs_fte = models.DecimalField(
        _("emplois (ETP)"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Emplois du lieu en équivalents temps plein, par exemple 2,5."),
    )
    departement = models.ForeignKey(
        Departement,
        verbose_name=_("département"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
        help_text=_(
            "Le territoire qui instruit le dossier : fixé au dépôt (le département de ses lieux choisi "
            "par le porteur), changé ensuite seulement par un administrateur du programme."
        ),
    )
    # The applicant's choice among the départements of the dossier's places, when they differ;
    # applications.selectors.application_territory reads it, application_submit applies it.
    chosen_departement = models.ForeignKey(
        Departement,
        verbose_name=_("département choisi par le porteur"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # Kept up to date by applications.services.review.scores_save when an instructor hands in
    # their scores, so that lists filter and rank by score in SQL.
    score = models.DecimalField(
        _("note sur 100"), max_digits=4, decimal_places=1, null=True, blank=True, editable=False
    )
    score_spread = models.DecimalField(
        _("écart entre instructeurs"), max_digits=4, decimal_places=1, null=True, blank=True, editable=False
    )
    places = models.ManyToManyField(
        TiersLieu, verbose_name=_("tiers-lieux"), blank=True, related_name="applications"
    )
    previous_application = models.ForeignKey(
        "self",
        verbose_name=_("candidature précédente refusée"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reapplications",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("créé par"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)
    submitted_at = models.DateTimeField(_("déposé le"), null=True, blank=True)
    # The day the corrections asked are due (the first day they are late), set by the request for
    # corrections and cleared by every move out of that state (applications.workflow.transition).
    corrections_due_on = models.DateField(
        _("compléments à fournir avant le"), null=True, blank=True, editable=False
    )

    # Where the review stands, kept by database triggers on the assignments and the state changes
    # (migration 0015), whoever writes them, as the dossier counts are: the staff's to-do reads
    # them through partial indexes instead of testing the assignments and the history of every
    # dossier in a state (docs/performance.md). Never written by Python; defaults in the database
    # too, for the rows written without the ORM (seed_bulk's COPY).
    assignment_count = models.IntegerField(_("affectations"), default=0, db_default=0, editable=False)
    # The assignments without conflict of interest, and those of them not scored yet.
    scorer_count = models.IntegerField(_("instructeurs qui notent"), default=0, db_default=0, editable=False)
    unscored_count = models.IntegerField(_("notations attendues"), default=0, db_default=0, editable=False)
    last_scored_at = models.DateTimeField(_("dernière notation remise"), null=True, editable=False)
    # The last change to « déposé »: where it came from (a correction request, or a draft) and when.
    last_submitted_from = models.CharField(
        _("déposé en dernier depuis"), max_length=25, blank=True, default="", db_default="", editable=False
    )
    last_submitted_at = models.DateTimeField(_("dernier dépôt"), null=True, editable=False)

    class Meta:
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        ordering = ("-created_at",)
        indexes = [
            # The review workspace: a tab's states in the order of submission, then the same
            # states within a territory (and « a laureate in this département »).
            models.Index(fields=["status", "submitted_at"], name="applications_status_submitted"),
            models.Index(fields=["departement", "status"], name="applications_dep_status"),
            # The staff's to-do (applications.next_steps), each group in its order.
            models.Index(
                fields=["submitted_at", "id"],
                condition=Q(status="submitted", assignment_count=0),
                name="applications_to_assign",
            ),
            models.Index(
                fields=["last_scored_at", "id"],
                condition=Q(status="in_review", scorer_count__gt=0, unscored_count=0),
                name="applications_to_decide",
            ),
            models.Index(
                fields=["last_submitted_at", "id"],
                condition=Q(status="in_review", last_submitted_from="corrections_requested"),
                name="applications_back_from_fixes",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(status="withdrawn") | Q(submitted_at__isnull=False),
                name="applications_submitted_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(previous_application=models.F("pk")),
                name="applications_not_its_own_predecessor",
            ),
            # A due date belongs to a request for corrections in progress, never to another state.
            models.CheckConstraint(
                condition=Q(corrections_due_on__isnull=True) | Q(status="corrections_requested"),
                name="applications_corrections_due_only_when_asked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} – {self.title}"


class Member(models.Model):
    """A structure of the consortium: exactly one lead (chef de file), and partners."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="members")
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("structure"),
        on_delete=models.PROTECT,
        related_name="application_memberships",
    )
    is_lead = models.BooleanField(_("chef de file"), default=False)
    role = models.CharField(_("rôle dans le projet"), max_length=300)
    share_percent = models.DecimalField(
        _("part du projet (%)"),
        max_digits=5,
        decimal_places=2,
        help_text=_("Sa part du travail et du budget ; les parts des membres totalisent 100 %."),
    )

    class Meta:
        verbose_name = _("membre du consortium")
        verbose_name_plural = _("membres du consortium")
        ordering = ("-is_lead", "organisation__name")
        constraints = [
            models.UniqueConstraint(fields=["application", "organisation"], name="applications_member_once"),
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(is_lead=True),
                name="applications_one_lead",
                violation_error_message=_("Un dossier n'a qu'un chef de file."),
            ),
            models.CheckConstraint(
                condition=Q(share_percent__gte=0) & Q(share_percent__lte=100),
                name="applications_member_share_percent",
                violation_error_message=_("La part d'un membre est comprise entre 0 et 100 %."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} ({self.application.reference})"


class BudgetYear(models.Model):
    """One year of the operating budget: what is asked of the State, other funding, total cost."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="budget_years")
    year_index = models.PositiveSmallIntegerField(_("année du projet"))
    requested = models.DecimalField(
        _("subvention demandée"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    other_funding = models.DecimalField(
        _("autres financements"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    total_cost = models.DecimalField(
        _("coût total de fonctionnement"), max_digits=14, decimal_places=2, default=Decimal("0")
    )

    class Meta:
        verbose_name = _("année de budget")
        verbose_name_plural = _("budget")
        ordering = ("application", "year_index")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "year_index"], name="applications_budget_year_once"
            ),
            models.CheckConstraint(
                condition=Q(requested__gte=0) & Q(other_funding__gte=0) & Q(total_cost__gte=0),
                name="applications_budget_non_negative",
                violation_error_message=_("Les montants ne peuvent pas être négatifs."),
            ),
            models.CheckConstraint(
                condition=Q(requested__lte=models.F("total_cost") - models.F("other_funding")),
                name="applications_budget_balanced",
                violation_error_message=_(
                    "La subvention demandée et les autres financements dépassent le coût total de l'année."
                ),
            ),
            models.CheckConstraint(condition=Q(year_index__gte=1), name="applications_budget_year_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.application.reference} année {self.year_index}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # The stored name is random: the applicant's file name is kept, sanitised, in a column.
    import uuid

    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"dossiers/{instance.application_id}/{uuid.uuid4().hex}.{extension}"


class Attachment(models.Model):
    """A supporting document uploaded for a dossier, checked by its content and fingerprinted."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="attachments")
    required_document = models.ForeignKey(
        RequiredDocument,
        verbose_name=_("pièce demandée"),
        on_delete=models.PROTECT,
        related_name="attachments",
    )
    file = models.FileField(_("fichier"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("nom du fichier"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("taille (octets)"))
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("déposé le"), default=timezone.now)

    class Meta:
        verbose_name = _("pièce justificative")
        verbose_name_plural = _("pièces justificatives")
        ordering = ("required_document__position", "uploaded_at")
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="applications_attachment_not_empty"),
            models.CheckConstraint(
                condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="applications_attachment_sha256"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class StatusChange(models.Model):
    """The history of a dossier: who moved it from which state to which, when, and why."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(
        _("état précédent"), max_length=25, choices=Application.Status.choices, blank=True
    )
    to_status = models.CharField(_("nouvel état"), max_length=25, choices=Application.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("date"), default=timezone.now)
    document = models.ForeignKey(
        "notifications.Document",
        verbose_name=_("document émis"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("L'accusé de réception d'un dépôt, la lettre d'une décision."),
    )

    class Meta:
        verbose_name = _("changement d'état")
        verbose_name_plural = _("historique des états")
        ordering = ("application", "at", "pk")

    def __str__(self) -> str:
        return f"{self.application.reference}: {self.from_status} → {self.to_status}"


class Access(models.Model):
    """A person invited by the lead to view or edit a dossier (a partner's staff, for instance)."""

    class Permission(models.TextChoices):
        VIEW = "view", _("Consultation")
        EDIT = "edit", _("Modification")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="accesses")
    email = models.EmailField(_("adresse e-mail invitée"))
    permission = models.CharField(
        _("droit"), max_length=4, choices=Permission.choices, default=Permission.VIEW
    )
    token = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    invited_at = models.DateTimeField(_("invité le"), default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("compte"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="application_accesses",
    )
    accepted_at = models.DateTimeField(_("acceptée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("accès invité")
        verbose_name_plural = _("accès invités")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "email"], name="applications_access_once_per_email"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.application.reference}"


class TerritoryMove(models.Model):
    """A submitted dossier moved by a programme admin to another département, and why."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="territory_moves")
    from_departement = models.ForeignKey(
        Departement,
        verbose_name=_("ancien département"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_departement = models.ForeignKey(
        Departement, verbose_name=_("nouveau département"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("motif"), max_length=2000)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("auteur"), on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        verbose_name = _("changement de département")
        verbose_name_plural = _("changements de département")
        ordering = ("application", "at", "pk")
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="applications_territory_move_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.application.reference}: {self.from_departement_id} → {self.to_departement_id}"
