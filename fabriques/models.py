from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from fabriques.search import search_text as place_search_text
from fabriques.validators import (
    format_siret,
    normalise_siret,
    validate_commune_code,
    validate_naf_code,
    validate_postal_code,
    validate_rna,
    validate_siret,
)


class Region(models.Model):
    """A région of the INSEE Code officiel géographique. Codes are strings: "01", "84"."""

    code = models.CharField(_("code INSEE"), max_length=3, primary_key=True)
    name = models.CharField(_("nom"), max_length=100)
    cog_year = models.PositiveSmallIntegerField(_("millésime du COG"))

    class Meta:
        verbose_name = _("région")
        verbose_name_plural = _("régions")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Departement(models.Model):
    """A département of the INSEE COG. Codes are strings: "01", "2A", "976"."""

    code = models.CharField(_("code INSEE"), max_length=3, primary_key=True)
    name = models.CharField(_("nom"), max_length=100)
    region = models.ForeignKey(
        Region, verbose_name=_("région"), on_delete=models.PROTECT, related_name="departements"
    )
    cog_year = models.PositiveSmallIntegerField(_("millésime du COG"))

    class Meta:
        verbose_name = _("département")
        verbose_name_plural = _("départements")
        ordering = ("code",)

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class InstructorScope(models.Model):
    """One territory an instructor reviews: a whole région or a single département.

    It lives here rather than in accounts because it points at the territories, and accounts
    must not depend on fabriques.
    """

    instructor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("instructeur"),
        on_delete=models.CASCADE,
        related_name="territorial_scopes",
    )
    region = models.ForeignKey(
        Region, verbose_name=_("région"), null=True, blank=True, on_delete=models.PROTECT
    )
    departement = models.ForeignKey(
        Departement, verbose_name=_("département"), null=True, blank=True, on_delete=models.PROTECT
    )

    class Meta:
        verbose_name = _("périmètre d'instruction")
        verbose_name_plural = _("périmètres d'instruction")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(region__isnull=False, departement__isnull=True)
                    | models.Q(region__isnull=True, departement__isnull=False)
                ),
                name="fabriques_scope_region_xor_departement",
                violation_error_message=_("Choisissez soit une région, soit un département."),
            ),
            models.UniqueConstraint(
                fields=["instructor", "region"],
                condition=models.Q(region__isnull=False),
                name="fabriques_scope_unique_region",
                violation_error_message=_("Cette région fait déjà partie du périmètre."),
            ),
            models.UniqueConstraint(
                fields=["instructor", "departement"],
                condition=models.Q(departement__isnull=False),
                name="fabriques_scope_unique_departement",
                violation_error_message=_("Ce département fait déjà partie du périmètre."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.region or self.departement)


class ApplicantFamily(models.TextChoices):
    """The families of the AMI's eligible applicants, derived from the INSEE legal category."""

    ASSOCIATION = "association", _("Association ou fondation")
    LOCAL_AUTHORITY = "local_authority", _("Collectivité territoriale ou groupement")
    SYNDICAT_MIXTE = "syndicat_mixte", _("Syndicat mixte")
    GIP_GIE = "gip_gie", _("GIP ou GIE")
    COMPANY = "company", _("Entreprise")


class LegalCategory(models.Model):
    """An INSEE legal category (catégorie juridique, level III, 4 digits), loaded by migration."""

    code = models.CharField(_("code INSEE"), max_length=4, primary_key=True)
    label = models.CharField(_("libellé"), max_length=200)
    family = models.CharField(_("famille de porteur"), max_length=20, choices=ApplicantFamily.choices)

    class Meta:
        verbose_name = _("catégorie juridique")
        verbose_name_plural = _("catégories juridiques")
        ordering = ("code",)

    def __str__(self) -> str:
        return f"{self.code} – {self.label}"


class CooperativeKind(models.TextChoices):
    # INSEE has no legal category for a SCIC: the cooperative status is asked separately.
    NONE = "", _("Non coopérative")
    SCIC = "scic", _("SCIC (société coopérative d'intérêt collectif)")
    SCOP = "scop", _("SCOP (société coopérative et participative)")
    CAE = "cae", _("CAE (coopérative d'activité et d'emploi)")


class SiretStatus(models.TextChoices):
    """What the State's directory (API « Recherche d'entreprises », fabriques/sirene.py) said of the
    SIRET. TO_VERIFY: it could not be asked when the structure was entered, so a beat task asks
    again (fabriques.tasks) and clears the flag (VERIFIED) or raises it (CLOSED, NOT_FOUND)."""

    UNCHECKED = "", _("Non vérifié")
    VERIFIED = "verified", _("Vérifié")
    TO_VERIFY = "to_verify", _("À vérifier")
    CLOSED = "closed", _("Établissement fermé")
    NOT_FOUND = "not_found", _("Introuvable dans l'annuaire")


# The states an instructor is shown a warning for.
SIRET_ALERTS = frozenset({SiretStatus.TO_VERIFY, SiretStatus.CLOSED, SiretStatus.NOT_FOUND})


class Organisation(models.Model):
    """A legal person that applies, alone or in a consortium: association, company, authority…"""

    name = models.CharField(_("raison sociale"), max_length=255)
    siret = models.CharField(
        _("SIRET"),
        max_length=14,
        unique=True,
        validators=[validate_siret],
        help_text=_("14 chiffres, sans espaces : SIREN (9 chiffres) suivi du NIC (5 chiffres)."),
    )
    legal_category = models.ForeignKey(
        LegalCategory, verbose_name=_("catégorie juridique"), on_delete=models.PROTECT
    )
    cooperative_kind = models.CharField(
        _("statut coopératif"), max_length=4, choices=CooperativeKind.choices, blank=True, default=""
    )
    rna = models.CharField(
        _("numéro RNA"),
        max_length=10,
        blank=True,
        validators=[validate_rna],
        help_text=_("Pour les associations : W suivi de 9 chiffres."),
    )
    address = models.CharField(_("adresse"), max_length=255)
    postal_code = models.CharField(_("code postal"), max_length=5, validators=[validate_postal_code])
    commune_code = models.CharField(_("code commune INSEE"), max_length=5, validators=[validate_commune_code])
    commune_name = models.CharField(_("commune"), max_length=100)
    departement = models.ForeignKey(
        Departement, verbose_name=_("département"), on_delete=models.PROTECT, related_name="organisations"
    )
    year_created = models.PositiveSmallIntegerField(
        _("année de création"),
        validators=[
            MinValueValidator(1800, _("L'année de création doit être postérieure à 1800.")),
            MaxValueValidator(2100, _("L'année de création doit être antérieure à 2100.")),
        ],
    )
    headcount = models.PositiveIntegerField(_("effectif salarié"), default=0)
    website = models.URLField(_("site internet"), blank=True)
    naf_code = models.CharField(
        _("activité principale (code NAF)"),
        max_length=6,
        blank=True,
        validators=[validate_naf_code],
        help_text=_("Par exemple 94.99Z ; pré-rempli depuis l'annuaire des entreprises."),
    )
    siret_status = models.CharField(
        _("vérification du SIRET"), max_length=10, choices=SiretStatus.choices, blank=True, default=""
    )
    siret_checked_at = models.DateTimeField(_("SIRET vérifié le"), null=True, blank=True)
    is_demo = models.BooleanField(
        _("donnée de démonstration"),
        default=False,
        help_text=_("Structure fictive créée pour la démonstration : son SIRET n'existe pas."),
    )
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="OrganisationMembership",
        verbose_name=_("membres"),
        related_name="organisations",
    )

    class Meta:
        verbose_name = _("structure")
        verbose_name_plural = _("structures")
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(siret__regex=r"^[0-9]{14}$"), name="fabriques_org_siret_14_digits"
            ),
            models.CheckConstraint(
                condition=models.Q(year_created__gte=1800) & models.Q(year_created__lte=2100),
                name="fabriques_org_year_created_plausible",
                violation_error_message=_("L'année de création doit être comprise entre 1800 et 2100."),
            ),
            models.CheckConstraint(
                condition=models.Q(siret_status__in=SiretStatus.values),
                name="fabriques_org_siret_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def family(self) -> str:
        return self.legal_category.family

    @property
    def family_label(self) -> str:
        return str(ApplicantFamily(self.legal_category.family).label)

    @property
    def siret_display(self) -> str:
        return format_siret(self.siret)

    @property
    def siret_alert(self) -> bool:
        return self.siret_status in SIRET_ALERTS

    @property
    def siren(self) -> str:
        return self.siret[:9]

    def clean(self) -> None:
        super().clean()
        self.siret = normalise_siret(self.siret)
        errors: dict[str, Any] = {}
        if self.year_created and self.year_created > timezone.now().year:
            errors["year_created"] = _("L'année de création ne peut pas être dans le futur.")
        family = self.legal_category.family if self.legal_category_id else None
        if self.rna and family != ApplicantFamily.ASSOCIATION:
            errors["rna"] = _("Le numéro RNA ne concerne que les associations.")
        if self.cooperative_kind and family != ApplicantFamily.COMPANY:
            errors["cooperative_kind"] = _("Une coopérative (SCIC, SCOP, CAE) a une forme de société.")
        if (
            self.commune_code
            and self.departement_id
            and not self.commune_code.startswith(
                self.departement_id if self.departement_id.startswith("97") else self.departement_id[:2]
            )
        ):
            errors["commune_code"] = _("Ce code commune n'appartient pas au département choisi.")
        if errors:
            raise ValidationError(errors)


class OrganisationMembership(models.Model):
    """A user who acts for an organisation."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    job_title = models.CharField(_("fonction dans la structure"), max_length=200, blank=True)
    is_legal_representative = models.BooleanField(_("représentant légal"), default=False)
    created_at = models.DateTimeField(_("depuis le"), auto_now_add=True)

    class Meta:
        verbose_name = _("membre d'une structure")
        verbose_name_plural = _("membres des structures")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "user"], name="fabriques_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.organisation}"


class Activity(models.Model):
    """What happens in a tiers-lieu: coworking, fablab, training… Loaded by migration."""

    code = models.SlugField(_("code"), max_length=40, primary_key=True)
    label = models.CharField(_("libellé"), max_length=100)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("activité")
        verbose_name_plural = _("activités")
        ordering = ("position", "label")

    def __str__(self) -> str:
        return self.label


class Zone(models.TextChoices):
    UNKNOWN = "", _("Non renseignée")
    QPV = "qpv", _("Quartier prioritaire de la politique de la ville (QPV)")
    NEAR_QPV = "near_qpv", _("À proximité d'un QPV")
    RURAL = "rural", _("Zone rurale")
    OTHER = "other", _("Autre")


# The fields the places search reads (with the département's name).
SEARCHED_FIELDS = frozenset({"name", "commune_name", "postal_code", "departement", "departement_id"})


class TiersLieu(models.Model):
    """A place: the tiers-lieu a dossier is about, or one of the places of the national census."""

    class Source(models.TextChoices):
        APPLICANT = "applicant", _("Saisi par un porteur")
        CGET_2019 = "cget-2019", _("Recensement CGET 2019")

    name = models.CharField(_("nom"), max_length=255)
    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("structure gestionnaire"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="places",
    )
    address = models.CharField(_("adresse"), max_length=255, blank=True)
    postal_code = models.CharField(
        _("code postal"), max_length=5, blank=True, validators=[validate_postal_code]
    )
    commune_code = models.CharField(
        _("code commune INSEE"), max_length=5, blank=True, validators=[validate_commune_code]
    )
    commune_name = models.CharField(_("commune"), max_length=100, blank=True)
    departement = models.ForeignKey(
        Departement, verbose_name=_("département"), on_delete=models.PROTECT, related_name="places"
    )
    zone = models.CharField(_("zone"), max_length=10, choices=Zone.choices, blank=True, default="")
    qpv_code = models.CharField(
        _("code QPV"),
        max_length=12,
        blank=True,
        help_text=_("Par exemple QP032001 (liste des QPV de 2015) ou QN03201M (liste de 2024)."),
    )
    activities = models.ManyToManyField(Activity, verbose_name=_("activités"), blank=True)
    year_opened = models.PositiveSmallIntegerField(_("année d'ouverture"), null=True, blank=True)
    website = models.CharField(_("site internet"), max_length=255, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    source = models.CharField(_("origine"), max_length=20, choices=Source.choices, default=Source.APPLICANT)
    source_id = models.CharField(_("identifiant d'origine"), max_length=20, blank=True)
    # Name, commune, postcode and département without accents or case, for the places search
    # (fabriques.search); kept by save() and by the census import, which bulk-creates. The
    # database default covers the rows written by COPY (devtools.bulk), which are never searched.
    search_text = models.TextField(
        _("texte de recherche"), blank=True, default="", db_default="", editable=False
    )

    class Meta:
        verbose_name = _("tiers-lieu")
        verbose_name_plural = _("tiers-lieux")
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_id"],
                condition=~models.Q(source_id=""),
                name="fabriques_place_unique_source_id",
            ),
            models.CheckConstraint(
                condition=models.Q(zone__in=["qpv", "near_qpv"]) | models.Q(qpv_code=""),
                name="fabriques_place_qpv_code_only_near_qpv",
            ),
        ]
        indexes = [models.Index(fields=["departement", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.commune_name})" if self.commune_name else self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_text = self.compute_search_text()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) & SEARCHED_FIELDS:
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    def compute_search_text(self, departement_name: str | None = None) -> str:
        if departement_name is None:
            departement_name = self.departement.name if self.departement_id else ""
        return place_search_text(
            (self.name, self.commune_name, self.postal_code, self.departement_id or "", departement_name)
        )

    def clean(self) -> None:
        super().clean()
        if (
            self.zone in (Zone.QPV, Zone.NEAR_QPV)
            and not self.qpv_code
            and self.source == self.Source.APPLICANT
        ):
            raise ValidationError({"qpv_code": _("Indiquez le code du quartier prioritaire.")})
        if self.qpv_code and self.zone not in (Zone.QPV, Zone.NEAR_QPV):
            raise ValidationError(
                {"qpv_code": _("Le code QPV ne concerne qu'un lieu situé dans ou près d'un QPV.")}
            )
