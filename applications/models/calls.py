"""Calls (AMI) with their waves and the supporting documents they ask for."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TypedDict

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.badges import Badge
from fabriques.validators import format_siret


class GrantorGender(models.TextChoices):
    FEMININE = "f", _("féminin (l'Agence, la préfecture)")
    MASCULINE = "m", _("masculin (l'État, le ministère)")


class Letterhead(TypedDict):
    """The issuer every legal document of a call prints (`Call.letterhead()`), strings only."""

    grantor_name: str
    grantor_siret: str
    grantor_represented: str
    grantor_designated: str
    grantor_representative: str
    signatory_name: str
    signatory_title: str
    signature_place: str


class Call(models.Model):
    """A call for expressions of interest. Every figure of the programme is a field here."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("En préparation")
        OPEN = "open", _("Ouvert")
        CLOSED = "closed", _("Clos")

        @property
        def badge(self) -> Badge:
            """A call's state is information, whatever it is."""
            return Badge.INFO

    slug = models.SlugField(_("identifiant"), max_length=80, unique=True)
    title = models.CharField(_("titre"), max_length=200)
    description = models.TextField(_("présentation"), blank=True)
    reference_prefix = models.CharField(
        _("préfixe des références"), max_length=6, help_text=_("Par exemple FDT pour FDT-2026-00042.")
    )
    status = models.CharField(_("état"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    opens_at = models.DateTimeField(_("ouverture des dépôts"))
    closes_at = models.DateTimeField(_("clôture des dépôts"))
    envelope = models.DecimalField(
        _("enveloppe"), max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    target_count = models.PositiveIntegerField(_("nombre de lauréats visé"))
    min_award = models.DecimalField(_("subvention minimale"), max_digits=14, decimal_places=2)
    max_award = models.DecimalField(_("subvention maximale"), max_digits=14, decimal_places=2)
    max_per_year = models.DecimalField(_("plafond annuel"), max_digits=14, decimal_places=2)
    duration_years = models.PositiveSmallIntegerField(_("durée (années)"), default=3)
    signatory_name = models.CharField(
        _("signataire des décisions"),
        max_length=200,
        blank=True,
        help_text=_("Prénom et nom lisibles, tels qu'ils figurent sur les lettres de décision."),
    )
    signatory_title = models.CharField(
        _("qualité du signataire"),
        max_length=300,
        blank=True,
        help_text=_("Par exemple : le préfet de région."),
    )
    # The envelope's counters, changed only by grants.services under a lock on this row: the
    # CHECK below makes an over-commitment impossible whatever path writes them.
    committed_amount = models.DecimalField(
        _("montant engagé"), max_digits=14, decimal_places=2, default=Decimal("0"), editable=False
    )
    laureate_count = models.PositiveIntegerField(_("lauréats"), default=0, editable=False)
    commitment_alert_percent = models.PositiveSmallIntegerField(
        _("seuil d'alerte d'engagement (%)"),
        default=90,
        help_text=_("Les administrateurs sont alertés quand les engagements dépassent ce pourcentage."),
    )
    grantor_name = models.CharField(
        _("autorité qui attribue"), max_length=200, default="Agence nationale de la cohésion des territoires"
    )
    grantor_siret = models.CharField(_("SIRET de l'autorité qui attribue"), max_length=14, blank=True)
    # The documents' wording comes from these settings, never from the templates: another grantor
    # (a préfecture, a région) runs a call with its own signatory, place and representative.
    grantor_gender = models.CharField(
        _("genre grammatical de l'autorité"),
        max_length=1,
        choices=GrantorGender.choices,
        default=GrantorGender.FEMININE,
        help_text=_("Accorde « représentée » ou « représenté » dans les conventions : l'Agence, l'État."),
    )
    grantor_representative = models.CharField(
        _("représentant de l'autorité dans les conventions"),
        max_length=200,
        blank=True,
        help_text=_(
            "Sa qualité, sans formule de délégation, telle qu'elle suit « représentée par » : "
            "par exemple « le directeur général »."
        ),
    )
    signature_place = models.CharField(
        _("lieu de signature"),
        max_length=100,
        blank=True,
        help_text=_("Imprimé avant la date des lettres et des conventions : « Paris, le 3 mars 2026 »."),
    )
    fnt_bonus = models.DecimalField(
        _("bonus fabrique numérique de territoire"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    # The deadlines applicants are held to (applications.services.deadlines): data of the call,
    # like its figures, so that a call with a shorter calendar sets its own.
    corrections_delay_days = models.PositiveSmallIntegerField(
        _("délai des compléments (jours)"),
        default=15,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Délai proposé à l'instructeur quand il demande des compléments ; il peut choisir une autre date."
        ),
    )
    corrections_reminder_days = models.PositiveSmallIntegerField(
        _("rappel avant la fin du délai des compléments (jours)"),
        default=3,
        help_text=_("Le porteur est relancé ce nombre de jours avant la date limite ; 0 : aucun rappel."),
    )
    # Expert opinions (applications.services.opinions): the due date proposed when one is asked,
    # and the expert's reminder before it; data of the call, like the corrections' delays.
    opinion_delay_days = models.PositiveSmallIntegerField(
        _("délai des avis d'expert (jours)"),
        default=15,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Date limite proposée quand un avis est demandé ; l'instructeur peut en choisir une autre."
        ),
    )
    opinion_reminder_days = models.PositiveSmallIntegerField(
        _("rappel avant la date limite d'un avis (jours)"),
        default=3,
        help_text=_("L'expert est relancé ce nombre de jours avant la date limite ; 0 : aucun rappel."),
    )
    # The time the instruction is given from a dossier's last submission: past it, the dossier is
    # « en retard » in the instructors' list (applications.selectors.workspace_filtered).
    instruction_delay_days = models.PositiveSmallIntegerField(
        _("délai d'instruction (jours)"),
        default=60,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Un dossier déposé ou en instruction depuis plus longtemps, compté depuis son dernier "
            "dépôt, est signalé en retard aux instructeurs."
        ),
    )
    draft_reminder_days = models.PositiveSmallIntegerField(
        _("rappel des brouillons avant la clôture d'une vague (jours)"),
        default=7,
        help_text=_(
            "Les porteurs d'un brouillon sont relancés ce nombre de jours avant la date limite de la "
            "vague ; 0 : aucun rappel."
        ),
    )
    # The call's identifier as a « dispositif d'aide » in the open data (schema-dispositif-aide's
    # `id`, the SCDL's `dispositifAide`, the public files' addresses): drawn once when the row is
    # created, never in a form, never changed, so every published file and link keeps pointing at
    # the same scheme whatever happens to the slug or the title.
    open_data_id = models.UUIDField(
        _("identifiant du dispositif d'aide"), default=uuid.uuid4, unique=True, editable=False
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("appel à manifestation d'intérêt")
        verbose_name_plural = _("appels à manifestation d'intérêt")
        ordering = ("-opens_at",)
        constraints = [
            models.CheckConstraint(
                condition=Q(min_award__gt=0) & Q(min_award__lte=models.F("max_award")),
                name="applications_call_award_bounds",
                violation_error_message=_(
                    "La subvention minimale doit être positive et inférieure à la maximale."
                ),
            ),
            models.CheckConstraint(
                condition=Q(max_per_year__gt=0) & Q(duration_years__gte=1) & Q(target_count__gte=1),
                name="applications_call_positive_figures",
                violation_error_message=_("Le plafond annuel, la durée et l'objectif doivent être positifs."),
            ),
            models.CheckConstraint(
                condition=Q(instruction_delay_days__gte=1),
                name="applications_call_instruction_delay_positive",
                violation_error_message=_("Le délai d'instruction doit être d'au moins un jour."),
            ),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")),
                name="applications_call_closes_after_opening",
                violation_error_message=_("La clôture doit suivre l'ouverture."),
            ),
            models.CheckConstraint(
                condition=Q(committed_amount__gte=0) & Q(committed_amount__lte=models.F("envelope")),
                name="applications_call_envelope_never_overcommitted",
                violation_error_message=_("Les engagements ne peuvent pas dépasser l'enveloppe."),
            ),
            models.CheckConstraint(
                condition=Q(envelope__gte=0) & Q(fnt_bonus__gte=0),
                name="applications_call_non_negative_amounts",
                violation_error_message=_("L'enveloppe et le bonus ne peuvent pas être négatifs."),
            ),
            models.CheckConstraint(
                condition=Q(corrections_delay_days__gte=1),
                name="applications_call_corrections_delay_positive",
                violation_error_message=_("Le délai des compléments est d'au moins un jour."),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def letterhead(self) -> "Letterhead":
        """What every letter and agreement of the call prints about its issuer, from the call alone.

        Strings only, so that it can be frozen in a document row's context.
        """
        feminine = self.grantor_gender == GrantorGender.FEMININE
        return {
            "grantor_name": self.grantor_name,
            "grantor_siret": format_siret(self.grantor_siret) if self.grantor_siret else "",
            "grantor_represented": str(_("représentée par") if feminine else _("représenté par")),
            "grantor_designated": str(_("ci-après désignée") if feminine else _("ci-après désigné")),
            "grantor_representative": self.grantor_representative,
            "signatory_name": self.signatory_name,
            "signatory_title": self.signatory_title,
            "signature_place": self.signature_place,
        }

    def is_open_for_submission(self, at: datetime | None = None) -> bool:
        moment = at or timezone.now()
        return self.status == self.Status.OPEN and self.opens_at <= moment <= self.closes_at

    @property
    def years(self) -> range:
        return range(1, self.duration_years + 1)

    @property
    def remaining_amount(self) -> Decimal:
        return self.envelope - self.committed_amount


class Wave(models.Model):
    """A round of examination: dossiers submitted before its deadline are examined together."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveSmallIntegerField(_("numéro"))
    name = models.CharField(_("nom"), max_length=100)
    deadline = models.DateTimeField(_("date limite de dépôt"))

    class Meta:
        verbose_name = _("vague")
        verbose_name_plural = _("vagues")
        ordering = ("call", "deadline")
        constraints = [
            models.UniqueConstraint(fields=["call", "number"], name="applications_wave_unique_number")
        ]

    def __str__(self) -> str:
        return self.name


class RequiredDocument(models.Model):
    """A supporting document a call asks for, possibly only of some applicant families."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="required_documents")
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("intitulé"), max_length=200)
    help_text = models.CharField(_("aide"), max_length=500, blank=True)
    mandatory = models.BooleanField(_("obligatoire"), default=True)
    families = models.JSONField(
        _("familles concernées"),
        default=list,
        blank=True,
        help_text=_("Vide : toutes les familles de porteurs."),
    )
    allowed_formats = models.CharField(
        _("formats acceptés"),
        max_length=100,
        default="pdf",
        help_text=_("Extensions séparées par des virgules."),
    )
    max_size_mb = models.PositiveSmallIntegerField(_("taille maximale (Mo)"), default=10)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("pièce justificative demandée")
        verbose_name_plural = _("pièces justificatives demandées")
        ordering = ("call", "position", "label")
        constraints = [
            models.UniqueConstraint(fields=["call", "code"], name="applications_required_doc_code")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def extensions(self) -> list[str]:
        return [ext.strip().lower().lstrip(".") for ext in self.allowed_formats.split(",") if ext.strip()]

    def applies_to(self, family: str) -> bool:
        return not self.families or family in self.families
