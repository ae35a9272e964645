"""Submit a dossier (with its receipt), or withdraw it."""

from datetime import datetime
from typing import TypedDict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from applications.models import Application, Message, StatusChange, Wave
from applications.models.calls import Letterhead
from applications.rules import budget_totals
from applications.selectors import (
    Territory,
    application_completeness,
    application_territory,
    dossier_recipients,
)
from applications.services.notify import submission_notify
from applications.services.opinions import opinions_close_for_withdrawal
from applications.workflow import can_move, transition
from core.formatting import format_date, format_datetime, format_money, format_percent
from notifications.services import document_request, email_queue

RECEIPT_TEMPLATE = "pdf/receipt.html"


class ReceiptMember(TypedDict):
    name: str
    siret: str
    role: str
    lead: bool
    share: str


class ReceiptBudgetYear(TypedDict):
    year: int
    requested: str
    other_funding: str
    total_cost: str


class ReceiptDocument(TypedDict):
    label: str
    name: str
    size: int
    sha256: str


class ReceiptContext(Letterhead):
    """templates/pdf/receipt.html: amounts formatted the French way, frozen at submission."""

    reference: str
    title: str
    kind: str
    call: str
    wave: str
    submitted_at: str
    date: str
    resubmission: bool
    submitted_by: str
    members: list[ReceiptMember]
    budget: list[ReceiptBudgetYear]
    # The budget's totals by field (applications.rules.BUDGET_FIELDS).
    totals: dict[str, str]
    documents: list[ReceiptDocument]


def receipt_context(application: Application, change: StatusChange) -> ReceiptContext:
    """Everything the receipt prints, frozen as JSON at the moment of submission."""
    at = timezone.localtime(change.at)
    members = application.members.select_related("organisation").order_by("-is_lead", "organisation__name")
    budget = list(application.budget_years.order_by("year_index"))
    totals = budget_totals(budget)
    attachments = application.attachments.select_related("required_document").order_by(
        "required_document__position", "uploaded_at"
    )
    return {
        "reference": application.reference,
        "title": application.title,
        "kind": str(Application.Kind(application.kind).label),
        "call": application.call.title,
        "wave": application.wave.name if application.wave else "",
        "submitted_at": format_datetime(at),
        "date": format_date(at),
        **application.call.letterhead(),
        "resubmission": change.from_status == Application.Status.CORRECTIONS,
        "submitted_by": change.actor.get_full_name() or change.actor.email if change.actor else "",
        "members": [
            {
                "name": member.organisation.name,
                "siret": member.organisation.siret_display,
                "role": member.role,
                "lead": member.is_lead,
                "share": format_percent(member.share_percent),
            }
            for member in members
        ],
        "budget": [
            {
                "year": row.year_index,
                "requested": format_money(row.requested),
                "other_funding": format_money(row.other_funding),
                "total_cost": format_money(row.total_cost),
            }
            for row in budget
        ],
        "totals": {field: format_money(value) for field, value in totals.items()},
        "documents": [
            {
                "label": attachment.required_document.label,
                "name": attachment.original_name,
                "size": attachment.size,
                "sha256": attachment.sha256,
            }
            for attachment in attachments
        ],
    }


def _wave_for(application: Application, at: datetime) -> Wave | None:
    return application.call.waves.filter(deadline__gte=at).order_by("deadline").first()


def receipt_recipients(application: Application, actor: User) -> list[str]:
    """Who receives the receipt: the applicant side of the dossier, and the person who submitted
    it (who may be someone the lead invited to edit)."""
    return sorted({*dossier_recipients(application, side=Message.Side.APPLICANT), actor.email})


def submission_check(*, application: Application, now: datetime | None = None) -> Territory:
    """Whether the dossier may be submitted now, read-only: raises the ValidationError that
    `application_submit` would raise, and returns the territory that will instruct it.

    The view calls it before showing the recap, and `application_submit` calls it under its lock:
    the two can never disagree, and a post without the confirmation writes nothing.
    """
    now = now or timezone.now()
    if not can_move(application.status, Application.Status.SUBMITTED):
        raise ValidationError(
            _("Un dossier « %(from)s » ne peut pas passer à l'état « %(to)s ».")
            % {
                "from": Application.Status(application.status).label,
                "to": Application.Status.SUBMITTED.label,
            },
            code="invalid_transition",
        )
    if not application.call.is_open_for_submission(now):
        raise ValidationError(
            _("L'appel « %(call)s » n'accepte plus de dépôts depuis le %(date)s.")
            % {
                "call": application.call.title,
                "date": format_datetime(application.call.closes_at),
            }
            if now > application.call.closes_at
            else _("L'appel « %(call)s » n'est pas ouvert aux dépôts.") % {"call": application.call.title},
            code="call_closed",
        )
    missing = [message for section in application_completeness(application) for message in section.missing]
    if missing:
        raise ValidationError(missing, code="incomplete")
    # The dossier's territory, which decides who instructs it: the département of its places, or
    # the one the applicant chose among them. Set at the first submission only: a dossier sent
    # back with corrections returns to the instructors it had (or to where an admin moved it).
    territory = application_territory(application)
    if not territory.settled:
        if territory.stale_choice:
            raise ValidationError(
                _("Le département choisi (%(departement)s) n'est celui d'aucun lieu du dossier.")
                % {"departement": territory.chosen},
                code="territory",
            )
        if territory.departement is None:
            raise ValidationError(
                _("Choisissez le département qui instruira le dossier parmi ceux de vos lieux."),
                code="territory",
            )
    return territory


@transaction.atomic
def application_submit(*, application: Application, actor: User) -> StatusChange:
    """Submit a complete dossier before the call closes; the receipt is rendered and e-mailed."""
    application = Application.objects.select_for_update().select_related("call").get(pk=application.pk)
    now = timezone.now()
    territory = submission_check(application=application, now=now)
    if application.wave_id is None:
        application.wave = _wave_for(application, now)
    if not territory.settled:
        application.departement = territory.departement
    application.save(update_fields=["wave", "departement", "updated_at"])
    change = transition(application=application, to_status=Application.Status.SUBMITTED, actor=actor)
    number = application.status_changes.filter(to_status=Application.Status.SUBMITTED).count()
    receipt = document_request(
        key=f"application:{application.pk}:receipt:{number}",
        kind="receipt",
        template_name=RECEIPT_TEMPLATE,
        context=receipt_context(application, change),
        filename=f"accuse-reception-{application.reference}-{number}.pdf",
    )
    change.document = receipt
    change.save(update_fields=["document"])
    email_queue(
        key=f"application:{application.pk}:receipt-email:{number}",
        to=receipt_recipients(application, actor),
        subject=_("Accusé de réception de votre dossier %(reference)s")
        % {"reference": application.reference},
        body=_(
            "Bonjour,\n\nVotre dossier %(reference)s « %(title)s » a bien été déposé le %(date)s "
            "pour l'appel « %(call)s ». L'accusé de réception est joint à ce message ; il est aussi "
            "disponible sur la page du dossier.\n\nL'équipe Fabriques de territoires"
        )
        % {
            "reference": application.reference,
            "title": application.title,
            "date": format_datetime(change.at),
            "call": application.call.title,
        },
        attachments=[receipt],
    )
    audit_record(actor=actor, action="application.submit", target=application, data={"submission": number})
    submission_notify(application=application, change=change)
    if change.from_status == Application.Status.CORRECTIONS:
        # Corrections answered: the dossier goes straight back to its instructors.
        transition(
            application=application,
            to_status=Application.Status.IN_REVIEW,
            actor=None,
            note=_("Retour en instruction après les compléments du porteur."),
        )
    return change


@transaction.atomic
def application_withdraw(*, application: Application, actor: User, reason: str = "") -> StatusChange:
    """The applicant withdraws the dossier; it stays on record, read-only."""
    change = transition(
        application=application, to_status=Application.Status.WITHDRAWN, actor=actor, note=reason.strip()
    )
    audit_record(actor=actor, action="application.withdraw", target=application)
    # No expert keeps reading a dossier that is no longer examined.
    opinions_close_for_withdrawal(application=application, actor=actor)
    return change
