"""Grant agreements (conventions) and their amendments (avenants).

An award is followed by its agreement, mandatory above 23 000 € a year (loi 2000-321, art. 10;
décret 2001-495): `agreement_create` numbers it (`CONV-2026-00042`, counted under a row lock) and
asks for its PDF from a frozen snapshot of the parties, the amounts and the clauses. The lead
structure's legal representative accepts it online (or a member uploads the signed copy, checked
by its content); a programme admin then activates it with the commitment number, completes it
once every tranche is paid, or terminates it. Every change of state goes through the funnels of
`grants.workflow` (the agreement's, and the tranches' when a termination cancels them).

Money moves under the envelope's lock, in the order every decision follows: the dossier's row,
then the call's row (`grants.services.envelope.lock_dossier_and_envelope`), and only through that
module's `envelope_commit`/`envelope_release`; then the
grant, its agreement and its tranches, the order of grants.services.payments. A
termination releases the unpaid tranches; an amendment commits or releases the difference, and
one beyond the envelope is refused with the envelope's message and writes nothing.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import IO

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Application, Member, Message, ReferenceCounter
from applications.selectors import dossier_recipients
from applications.services.review import ensure_reviewer
from core.formatting import format_date, format_money, format_percent
from core.links import absolute_url
from core.uploads import check_upload
from fabriques.models import Organisation, OrganisationMembership
from grants.models import Agreement, Amendment, Grant, Tranche
from grants.services.document_contexts import (
    AgreementContext,
    AgreementRecall,
    AmendmentContext,
    Parties,
    ScheduleRow,
    TerminationContext,
)
from grants.services.envelope import (
    add_years,
    award_check,
    envelope_move,
    envelope_release,
    lock_dossier_and_envelope,
    tranche_amounts,
)
from grants.services.recipients import letterhead_check, representative_recipients
from grants.workflow import agreement_transition
from notifications.models import Document
from notifications.services import document_request, email_queue

AGREEMENT_TEMPLATE = "pdf/agreement.html"
TERMINATION_TEMPLATE = "pdf/agreement_termination.html"
AMENDMENT_TEMPLATE = "pdf/amendment.html"

# Agreement numbers share the dossiers' counter table under a prefix of their own: one row per
# year, locked while the number is taken, so two awards never get the same number.
NUMBER_PREFIX = "CONV"
SIGNED_COPY_MAX_MB = 20
# Tranches whose payment is under way or done: an amendment leaves their amount alone.
UNPAID_TRANCHES = (Tranche.Status.SCHEDULED, Tranche.Status.REQUESTED, Tranche.Status.VALIDATED)
# Tranches whose amount an amendment cannot change: asked for, paid, or cancelled (released).
AMENDMENT_FROZEN = frozenset(
    {Tranche.Status.REQUESTED, Tranche.Status.VALIDATED, Tranche.Status.PAID, Tranche.Status.CANCELLED}
)

A = Agreement.Status


# --- helpers -------------------------------------------------------------------------------------


def _ensure_admin(actor: User, message: str) -> None:
    if not has_role(actor, Role.ADMIN):
        raise PermissionDenied(message)


def _next_number() -> str:
    """CONV-2026-00042: the year and a number counted under a row lock, in the caller's transaction."""
    year = timezone.localdate().year
    counter, _created = ReferenceCounter.objects.get_or_create(prefix=NUMBER_PREFIX, year=year)
    counter = ReferenceCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return f"{NUMBER_PREFIX}-{year}-{counter.last_number:05d}"


def _lead(application: Application) -> Member | None:
    return application.members.select_related("organisation").filter(is_lead=True).first()


def lead_organisation(application: Application) -> Organisation | None:
    lead = _lead(application)
    return lead.organisation if lead is not None else None


def legal_representative(organisation: Organisation) -> OrganisationMembership | None:
    """The structure's declared legal representative (the earliest declared when there are several)."""
    return (
        organisation.memberships.select_related("user")
        .filter(is_legal_representative=True, user__is_active=True)
        .order_by("created_at", "pk")
        .first()
    )


def is_lead_member(user: User, application: Application) -> bool:
    return OrganisationMembership.objects.filter(
        user=user,
        organisation__application_memberships__application=application,
        organisation__application_memberships__is_lead=True,
    ).exists()


def is_lead_legal_representative(user: User, application: Application) -> bool:
    return OrganisationMembership.objects.filter(
        user=user,
        is_legal_representative=True,
        organisation__application_memberships__application=application,
        organisation__application_memberships__is_lead=True,
    ).exists()


def _address(organisation: Organisation) -> str:
    return f"{organisation.address}, {organisation.postal_code} {organisation.commune_name}"


def _person(membership: OrganisationMembership | None) -> tuple[str, str]:
    if membership is None:
        return "", ""
    user = membership.user
    return user.get_full_name() or user.email, membership.job_title or user.job_title


def _parties(application: Application) -> Parties:
    """Who signs: the grantor (from the call) and the lead structure, with the consortium's partners."""
    call = application.call
    members = list(application.members.select_related("organisation__legal_category").order_by("-is_lead"))
    lead = next((member for member in members if member.is_lead), None)
    organisation = lead.organisation if lead is not None else None
    representative_name, representative_title = _person(
        legal_representative(organisation) if organisation is not None else None
    )
    return {
        **call.letterhead(),
        "beneficiary_name": organisation.name if organisation else "",
        "beneficiary_siret": organisation.siret_display if organisation else "",
        "beneficiary_address": _address(organisation) if organisation else "",
        "beneficiary_category": str(organisation.legal_category) if organisation else "",
        "representative_name": representative_name,
        "representative_title": representative_title,
        "partners": [
            {
                "name": member.organisation.name,
                "siret": member.organisation.siret_display,
                "role": member.role,
                "share": format_percent(member.share_percent),
            }
            for member in members
            if not member.is_lead
        ],
    }


def _schedule(parts: list[tuple[int, Decimal]]) -> list[ScheduleRow]:
    return [{"year": year, "amount": format_money(amount)} for year, amount in parts]


def _agreement_context(agreement: Agreement, grant: Grant, application: Application) -> AgreementContext:
    call = application.call
    tranches = list(grant.tranches.order_by("year_index").values_list("year_index", "amount"))
    return {
        "number": agreement.number,
        "date": format_date(timezone.localdate(agreement.created_at)),
        "call": call.title,
        "reference": application.reference,
        "title": application.title,
        "summary": application.summary,
        "kind": str(Application.Kind(application.kind).label),
        **_parties(application),
        "duration": call.duration_years,
        "amount": format_money(grant.amount),
        "bonus": format_money(grant.bonus) if grant.bonus else "",
        "total": format_money(grant.committed),
        "max_per_year": format_money(call.max_per_year),
        "tranches": _schedule(tranches),
        "payment_delay_days": Tranche.PAYMENT_DELAY_DAYS,
    }


def _agreement_base(agreement: Agreement, application: Application) -> AgreementRecall:
    """What the termination and amendment documents repeat of the agreement."""
    call = application.call
    organisation = lead_organisation(application)
    return {
        "number": agreement.number,
        "agreement_date": format_date(timezone.localdate(agreement.signed_at or agreement.created_at)),
        "call": call.title,
        "reference": application.reference,
        "title": application.title,
        **call.letterhead(),
        "beneficiary_name": organisation.name if organisation else "",
        "beneficiary_siret": organisation.siret_display if organisation else "",
        "beneficiary_address": _address(organisation) if organisation else "",
        "commitment_number": agreement.commitment_number,
    }


def _lock_agreement(agreement: Agreement) -> Agreement:
    """Lock the grant, then its agreement (the order of grants.services.payments), after the
    dossier and the call when the envelope moves. The rows joined for reading are not locked."""
    list(Grant.objects.select_for_update().filter(pk=agreement.grant_id).values_list("pk", flat=True))
    return (
        Agreement.objects.select_related("grant__application__call")
        .select_for_update(of=("self",))
        .get(pk=agreement.pk)
    )


def _ensure_active_grant(grant: Grant) -> None:
    if grant.status != Grant.Status.ACTIVE:
        raise ValidationError(
            _("La subvention de cette convention a été annulée : la convention est sans objet."),
            code="state",
        )


def _ensure_status(agreement: Agreement, allowed: tuple[str, ...], message: str) -> None:
    if agreement.status not in allowed:
        raise ValidationError(
            message % {"number": agreement.number, "status": A(agreement.status).label}, code="state"
        )


# --- the agreement -------------------------------------------------------------------------------


@transaction.atomic
def agreement_create(*, grant: Grant, actor: User) -> Agreement:
    """Number the agreement of an awarded grant and ask for its PDF (a frozen snapshot)."""
    application = grant.application
    ensure_reviewer(actor, application)
    grant = Grant.objects.select_for_update(of=("self",)).select_related("application__call").get(pk=grant.pk)
    application = grant.application
    _ensure_active_grant(grant)
    letterhead_check(application.call, before=_("avant d'établir une convention"))
    if Agreement.objects.filter(grant=grant).exists():
        raise ValidationError(_("Cette subvention a déjà sa convention."), code="state")
    agreement = Agreement(grant=grant, number=_next_number())
    agreement.full_clean()
    agreement.save()
    agreement.document = document_request(
        key=f"agreement:{agreement.pk}:document",
        kind="agreement",
        template_name=AGREEMENT_TEMPLATE,
        context=_agreement_context(agreement, grant, application),
        filename=f"convention-{agreement.number}.pdf",
    )
    agreement.save(update_fields=["document"])
    audit_record(
        actor=actor,
        action="agreement.create",
        target=agreement,
        data={"grant": grant.pk, "reference": application.reference},
    )
    return agreement


@transaction.atomic
def agreement_accept(*, agreement: Agreement, actor: User) -> Agreement:
    """The lead structure's legal representative accepts the agreement online: it is then signed."""
    agreement = _lock_agreement(agreement)
    application = agreement.grant.application
    if not is_lead_legal_representative(actor, application):
        raise PermissionDenied(
            _(
                "Seul le représentant légal de la structure chef de file peut accepter la convention "
                "au nom de la structure."
            )
        )
    _ensure_active_grant(agreement.grant)
    _ensure_status(
        agreement,
        (A.AWAITING_SIGNATURE,),
        _("La convention %(number)s est « %(status)s » : elle ne peut plus être acceptée."),
    )
    signed_at = timezone.now()
    agreement_transition(
        agreement=agreement,
        to_status=A.SIGNED,
        actor=actor,
        action="agreement.accept",
        data={"signed_at": signed_at.isoformat()},
        accepted_by=actor,
        signed_at=signed_at,
    )
    return agreement


@transaction.atomic
def agreement_upload_signed_copy(
    *, agreement: Agreement, file: IO[bytes], filename: str, actor: User
) -> Agreement:
    """Keep the signed copy (a PDF, checked by its content, fingerprinted): the agreement is signed."""
    agreement = _lock_agreement(agreement)
    application = agreement.grant.application
    if not (has_role(actor, Role.ADMIN) or is_lead_member(actor, application)):
        raise PermissionDenied(
            _("Seuls les membres de la structure chef de file peuvent déposer l'exemplaire signé.")
        )
    _ensure_active_grant(agreement.grant)
    _ensure_status(
        agreement,
        (A.AWAITING_SIGNATURE, A.SIGNED),
        _("La convention %(number)s est « %(status)s » : son exemplaire signé ne peut plus être changé."),
    )
    upload = check_upload(
        file,
        filename,
        max_size_mb=SIGNED_COPY_MAX_MB,
        extensions=("pdf",),
        bad_type=_(
            "Le fichier « %(name)s » n'est pas un PDF : son contenu a été vérifié, pas "
            "seulement son nom. Déposez l'exemplaire signé de la convention au format PDF."
        ),
    )
    name, content = upload.name, upload.content
    previous = agreement.signed_copy.name or ""
    storage = agreement.signed_copy.storage
    agreement.signed_copy_sha256 = hashlib.sha256(content).hexdigest()
    # A random stored name: the applicant's name is never a path on the server.
    agreement.signed_copy.save(f"{uuid.uuid4().hex}.pdf", ContentFile(content), save=False)
    stored = agreement.signed_copy.name or ""
    audit = {"sha256": agreement.signed_copy_sha256, "name": name}
    try:
        if agreement.status == A.AWAITING_SIGNATURE:
            # The copy signs the agreement: one move, with the copy saved alongside.
            agreement_transition(
                agreement=agreement,
                to_status=A.SIGNED,
                actor=actor,
                action="agreement.signed_copy",
                data=audit,
                signed_copy=stored,
                signed_copy_sha256=agreement.signed_copy_sha256,
                signed_at=timezone.now(),
            )
        else:
            agreement.full_clean()
            agreement.save(update_fields=["signed_copy", "signed_copy_sha256"])
            audit_record(actor=actor, action="agreement.signed_copy", target=agreement, data=audit)
    except Exception:
        storage.delete(stored)
        raise
    if previous and previous != stored:
        transaction.on_commit(lambda: storage.delete(previous))
    return agreement


def agreement_activation_check(
    *, agreement: Agreement, commitment_number: str, actor: User
) -> tuple[str, date, date]:
    """The activation's checks without writing: the commitment number, the first and last days.

    Used for the recap shown before the activation; `agreement_activate` runs it again on its
    locked row.
    """
    _ensure_admin(actor, _("Seul un administrateur du programme peut rendre une convention exécutoire."))
    commitment_number = (commitment_number or "").strip()
    if not commitment_number:
        raise ValidationError(
            {"commitment_number": _("Indiquez le numéro d'engagement juridique de la convention.")}
        )
    _ensure_active_grant(agreement.grant)
    _ensure_status(
        agreement,
        (A.SIGNED,),
        _("La convention %(number)s est « %(status)s » : seule une convention signée peut être activée."),
    )
    if agreement.signed_at is None:  # excluded by a CHECK constraint; keeps the type checker informed
        raise ValidationError(_("La convention n'a pas de date de signature."), code="state")
    starts_on = timezone.localdate(agreement.signed_at)
    duration = agreement.grant.call.duration_years
    return commitment_number, starts_on, add_years(starts_on, duration) - timedelta(days=1)


@transaction.atomic
def agreement_activate(*, agreement: Agreement, commitment_number: str, actor: User) -> Agreement:
    """A programme admin starts a signed agreement, with the commitment number of the accounts."""
    agreement = _lock_agreement(agreement)
    commitment_number, starts_on, ends_on = agreement_activation_check(
        agreement=agreement, commitment_number=commitment_number, actor=actor
    )
    agreement_transition(
        agreement=agreement,
        to_status=A.ACTIVE,
        actor=actor,
        action="agreement.activate",
        data={"commitment_number": commitment_number, "starts_on": starts_on.isoformat()},
        commitment_number=commitment_number,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    # The schedule now runs from the signature: tranche 1 at once, then one a year.
    for tranche in agreement.grant.tranches.filter(status=Tranche.Status.SCHEDULED):
        tranche.due_date = add_years(starts_on, tranche.year_index - 1)
        tranche.save(update_fields=["due_date"])
    application = agreement.grant.application
    first = agreement.grant.tranches.filter(year_index=1).first()
    email_queue(
        key=f"agreement:{agreement.pk}:activation-email",
        to=representative_recipients(application),
        subject=_("Convention %(number)s en cours d'exécution") % {"number": agreement.number},
        body=_(
            "Bonjour,\n\nLa convention %(number)s relative au projet « %(title)s » est en cours "
            "d'exécution depuis le %(start)s, sous le numéro d'engagement juridique %(commitment)s.\n\n"
            "Vous pouvez dès maintenant demander la première tranche (%(amount)s) sur la page de la "
            "subvention :\n%(link)s\n\nL'équipe Fabriques de territoires"
        )
        % {
            "number": agreement.number,
            "title": application.title,
            "start": format_date(starts_on),
            "commitment": commitment_number,
            "amount": format_money(first.amount) if first is not None else "—",
            "link": absolute_url("grants:tranche-grant", reference=application.reference),
        },
    )
    return agreement


@dataclass(frozen=True)
class CompletionPreview:
    """What completing (soldant) an agreement states: every tranche settled, the sums as they end."""

    paid: Decimal
    # Tranches cancelled earlier: released from the envelope then, nothing moves now.
    cancelled: Decimal
    recipients: list[str]


def _completion_figures(agreement: Agreement) -> CompletionPreview:
    _ensure_status(
        agreement,
        (A.ACTIVE,),
        _("La convention %(number)s est « %(status)s » : seule une convention en cours peut être soldée."),
    )
    tranches = list(agreement.grant.tranches.all())
    live = [t for t in tranches if t.status != Tranche.Status.CANCELLED]
    if not live or any(t.status != Tranche.Status.PAID for t in live):
        raise ValidationError(
            _(
                "Toutes les tranches de la convention %(number)s ne sont pas versées : elle ne peut "
                "pas être soldée."
            )
            % {"number": agreement.number},
            code="state",
        )
    return CompletionPreview(
        paid=sum((t.amount for t in live), Decimal("0")),
        cancelled=sum((t.amount for t in tranches if t.status == Tranche.Status.CANCELLED), Decimal("0")),
        recipients=representative_recipients(agreement.grant.application),
    )


def agreement_completion_check(*, agreement: Agreement, actor: User) -> CompletionPreview:
    """The completion's checks and figures without writing (for the recap shown first)."""
    _ensure_admin(actor, _("Seul un administrateur du programme peut solder une convention."))
    return _completion_figures(agreement)


@transaction.atomic
def agreement_complete(*, agreement: Agreement, actor: User) -> Agreement:
    """A programme admin closes an agreement once every tranche is paid (soldée); the beneficiary's
    legal representative is told by an e-mail written in the same transaction."""
    _ensure_admin(actor, _("Seul un administrateur du programme peut solder une convention."))
    agreement = _lock_agreement(agreement)
    figures = _completion_figures(agreement)
    agreement_transition(agreement=agreement, to_status=A.COMPLETED, actor=actor, action="agreement.complete")
    application = agreement.grant.application
    email_queue(
        key=f"agreement:{agreement.pk}:completion-email",
        to=figures.recipients,
        subject=_("Convention %(number)s soldée") % {"number": agreement.number},
        body=_(
            "Bonjour,\n\nLa convention %(number)s relative au projet « %(title)s » est soldée : "
            "%(paid)s ont été versés au total et plus aucun versement n'est dû à ce titre.\n\n"
            "Les obligations de compte rendu prévues par la convention demeurent.\n\n"
            "L'équipe Fabriques de territoires"
        )
        % {"number": agreement.number, "title": application.title, "paid": format_money(figures.paid)},
    )
    return agreement


def termination_document(agreement: Agreement) -> Document | None:
    return Document.objects.filter(key=f"agreement:{agreement.pk}:termination").first()


@dataclass(frozen=True)
class TerminationPreview:
    """What a termination does to the money: read by its recap, applied by the service."""

    paid: Decimal
    clawback: Decimal
    # The tranches not paid yet, cancelled and released from the envelope.
    cancelled: list[Tranche]
    released: Decimal
    # What stays committed for the grant: what was paid (the clawback is claimed back apart).
    stays_committed: Decimal
    recipients: list[str]


def _termination_form_errors(reason: str, clawback_amount: Decimal | None) -> None:
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("La résiliation d'une convention doit être motivée.")
    if clawback_amount is None or clawback_amount < 0:
        errors["clawback_amount"] = _("Le montant à reverser ne peut pas être négatif.")
    if errors:
        raise ValidationError(errors)


def _termination_figures(
    agreement: Agreement, tranches: list[Tranche], reason: str, clawback_amount: Decimal
) -> TerminationPreview:
    """The termination's rules on the agreement and its tranches (locked or not)."""
    _termination_form_errors(reason, clawback_amount)
    _ensure_status(
        agreement,
        (A.SIGNED, A.ACTIVE),
        _("La convention %(number)s est « %(status)s » : elle ne peut pas être résiliée."),
    )
    paid = sum((t.amount for t in tranches if t.status == Tranche.Status.PAID), Decimal("0"))
    if clawback_amount > paid:
        raise ValidationError(
            {
                "clawback_amount": _(
                    "Le montant à reverser (%(clawback)s) dépasse ce qui a été versé (%(paid)s)."
                )
                % {"clawback": format_money(clawback_amount), "paid": format_money(paid)}
            }
        )
    cancelled = [t for t in tranches if t.status in UNPAID_TRANCHES]
    return TerminationPreview(
        paid=paid,
        clawback=clawback_amount,
        cancelled=cancelled,
        released=sum((t.amount for t in cancelled), Decimal("0")),
        stays_committed=paid,
        recipients=dossier_recipients(agreement.grant.application, side=Message.Side.APPLICANT),
    )


def agreement_termination_check(
    *, agreement: Agreement, reason: str, clawback_amount: Decimal, actor: User
) -> TerminationPreview:
    """The termination's checks and figures without writing (for the recap shown first);
    `agreement_terminate` runs them again on its locked rows."""
    _ensure_admin(actor, _("Seul un administrateur du programme peut résilier une convention."))
    tranches = list(agreement.grant.tranches.order_by("year_index"))
    return _termination_figures(agreement, tranches, (reason or "").strip(), clawback_amount)


@transaction.atomic
def agreement_terminate(
    *, agreement: Agreement, reason: str, clawback_amount: Decimal, actor: User
) -> Agreement:
    """Terminate: unpaid tranches cancelled and released from the envelope, the clawback recorded."""
    _ensure_admin(actor, _("Seul un administrateur du programme peut résilier une convention."))
    reason = (reason or "").strip()
    # The form's errors before any lock: nothing is locked for a refused post.
    _termination_form_errors(reason, clawback_amount)
    application, call = lock_dossier_and_envelope(agreement.grant.application)
    agreement = _lock_agreement(agreement)
    grant = agreement.grant
    tranches = list(Tranche.objects.select_for_update().filter(grant=grant).order_by("year_index"))
    figures = _termination_figures(agreement, tranches, reason, clawback_amount)
    paid, cancelled, released = figures.paid, figures.cancelled, figures.released
    # The agreement's funnel cascades to the unpaid tranches (grants.workflow), each move logged
    # and audited; what they held goes back to the envelope.
    agreement_transition(
        agreement=agreement,
        to_status=A.TERMINATED,
        actor=actor,
        action="agreement.terminate",
        note=reason,
        data={"reason": reason, "released": str(released), "clawback": str(clawback_amount)},
        terminated_at=timezone.now(),
        termination_reason=reason,
        clawback_amount=clawback_amount,
    )
    if released:
        envelope_release(call=call, application=application, amount=released, laureates=0)
    context: TerminationContext = {
        **_agreement_base(agreement, application),
        "date": format_date(timezone.localdate(agreement.terminated_at)),
        "reason": reason.splitlines(),
        "paid": format_money(paid),
        "released": format_money(released),
        "clawback": format_money(clawback_amount) if clawback_amount else "",
        "cancelled": _schedule([(t.year_index, t.amount) for t in cancelled]),
    }
    document = document_request(
        key=f"agreement:{agreement.pk}:termination",
        kind="agreement-termination",
        template_name=TERMINATION_TEMPLATE,
        context=context,
        filename=f"resiliation-{agreement.number}.pdf",
    )
    email_queue(
        key=f"agreement:{agreement.pk}:termination-email",
        to=dossier_recipients(application, side=Message.Side.APPLICANT),
        subject=_("Résiliation de la convention %(number)s") % {"number": agreement.number},
        body=_(
            "Bonjour,\n\nLa convention %(number)s relative au projet « %(title)s » est résiliée. "
            "La décision de résiliation, qui en donne les motifs et les suites financières, est "
            "jointe à ce message.\n\nL'équipe Fabriques de territoires"
        )
        % {"number": agreement.number, "title": application.title},
        attachments=[document],
    )
    return agreement


# --- amendments ----------------------------------------------------------------------------------


@transaction.atomic
def amendment_create(
    *, grant: Grant, new_amount: Decimal, yearly: list[Decimal], reason: str, actor: User
) -> Amendment:
    """Change a grant's amount by an amendment: bounds, yearly cap, frozen tranches, then the envelope.

    Locks the dossier, then the call (the order of awards), then the grant: an amendment beyond the
    envelope is refused with the envelope's message and writes nothing.
    """
    _ensure_admin(actor, _("Seul un administrateur du programme peut établir un avenant."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Un avenant doit être motivé.")})
    application, call = lock_dossier_and_envelope(grant.application)
    grant = Grant.objects.select_for_update().get(pk=grant.pk)
    _ensure_active_grant(grant)
    agreement = Agreement.objects.select_for_update().filter(grant=grant).first()
    if agreement is None:
        raise ValidationError(_("Cette subvention n'a pas de convention à modifier."), code="state")
    _ensure_status(
        agreement,
        (A.AWAITING_SIGNATURE, A.SIGNED, A.ACTIVE),
        _("La convention %(number)s est « %(status)s » : elle ne peut plus être modifiée par avenant."),
    )
    yearly = [Decimal(part) for part in yearly]
    # `yearly` is the operating grant's breakdown, as at the award: the yearly cap applies to it,
    # and the FNT bonus rides on the first tranche on top of it (tranche_amounts).
    award_check(call, new_amount, yearly)
    scheduled = tranche_amounts(yearly, grant.bonus)
    tranches = {t.year_index: t for t in Tranche.objects.select_for_update().filter(grant=grant)}
    frozen: dict[str, str] = {}
    for index, amount in enumerate(scheduled, start=1):
        tranche = tranches.get(index)
        # A cancelled tranche keeps its amount too: it was released from the envelope when it was
        # cancelled, and changing it would make the envelope and the schedule disagree.
        if tranche is None or tranche.status not in AMENDMENT_FROZEN or tranche.amount == amount:
            continue
        bonus = grant.bonus if index == 1 else Decimal("0")
        values = {
            "year": index,
            "status": Tranche.Status(tranche.status).label,
            "amount": format_money(tranche.amount - bonus),
            "bonus": format_money(bonus),
        }
        if bonus:
            frozen[f"yearly_{index}"] = (
                _(
                    "La tranche de l'année %(year)d est « %(status)s » : son montant (%(amount)s, hors "
                    "bonus « fabrique numérique » de %(bonus)s) ne peut plus changer."
                )
                % values
            )
        else:
            frozen[f"yearly_{index}"] = (
                _(
                    "La tranche de l'année %(year)d est « %(status)s » : son montant (%(amount)s) ne "
                    "peut plus changer."
                )
                % values
            )
    if frozen:
        raise ValidationError(frozen)
    previous_amount = grant.amount
    previous_parts = [(index, tranches[index].amount) for index in sorted(tranches)]
    difference = new_amount - previous_amount
    envelope_move(call=call, application=application, difference=difference)
    for index, amount in enumerate(scheduled, start=1):
        tranche = tranches.get(index)
        if tranche is None:
            tranche = Tranche(grant=grant, year_index=index, amount=amount)
            tranche.full_clean()
            tranche.save()
        elif tranche.amount != amount:
            tranche.amount = amount
            tranche.full_clean()
            tranche.save(update_fields=["amount"])
    grant.amount = new_amount
    grant.full_clean()
    grant.save(update_fields=["amount"])
    number = (grant.amendments.aggregate(last=Max("number"))["last"] or 0) + 1
    amendment = Amendment(
        grant=grant,
        number=number,
        previous_amount=previous_amount,
        new_amount=new_amount,
        yearly=[str(part) for part in yearly],
        reason=reason,
        decided_by=actor,
    )
    amendment.full_clean()
    amendment.save()
    # The table of the amendment is the operating grant's, as its totals: the bonus, unchanged, is
    # stated apart, so it is taken out of the first tranche's previous amount.
    previous = dict(previous_parts)
    if 1 in previous:
        previous[1] -= grant.bonus
    organisation = lead_organisation(application)
    representative_name, representative_title = _person(
        legal_representative(organisation) if organisation is not None else None
    )
    context: AmendmentContext = {
        **_agreement_base(agreement, application),
        "amendment_number": number,
        "date": format_date(timezone.localdate(amendment.decided_at)),
        "reason": reason.splitlines(),
        "previous_amount": format_money(previous_amount),
        "new_amount": format_money(new_amount),
        "bonus": format_money(grant.bonus) if grant.bonus else "",
        "duration": call.duration_years,
        "tranches": [
            {
                "year": index,
                "previous": format_money(previous.get(index, Decimal("0"))),
                "amount": format_money(part),
            }
            for index, part in enumerate(yearly, start=1)
        ],
        "representative_name": representative_name,
        "representative_title": representative_title,
    }
    amendment.document = document_request(
        key=f"amendment:{amendment.pk}:document",
        kind="amendment",
        template_name=AMENDMENT_TEMPLATE,
        context=context,
        filename=f"avenant-{number}-{agreement.number}.pdf",
    )
    amendment.save(update_fields=["document"])
    email_queue(
        key=f"amendment:{amendment.pk}:email",
        to=dossier_recipients(application, side=Message.Side.APPLICANT),
        subject=_("Avenant n° %(amendment)d à la convention %(number)s")
        % {"amendment": number, "number": agreement.number},
        body=_(
            "Bonjour,\n\nUn avenant n° %(amendment)d modifie la convention %(number)s relative au projet "
            "« %(title)s » : la subvention passe de %(previous)s à %(new)s. L'avenant, qui en donne les "
            "motifs et le nouvel échéancier, est joint à ce message.\n\nL'équipe Fabriques de territoires"
        )
        % {
            "amendment": number,
            "number": agreement.number,
            "title": application.title,
            "previous": format_money(previous_amount),
            "new": format_money(new_amount),
        },
        attachments=[amendment.document],
    )
    audit_record(
        actor=actor,
        action="amendment.create",
        target=agreement,
        data={
            "amendment": number,
            "previous": str(previous_amount),
            "new": str(new_amount),
            "yearly": [str(part) for part in yearly],
            "reason": reason,
        },
    )
    return amendment


__all__ = [
    "AGREEMENT_TEMPLATE",
    "AMENDMENT_TEMPLATE",
    "TERMINATION_TEMPLATE",
    "agreement_accept",
    "agreement_activate",
    "agreement_complete",
    "agreement_completion_check",
    "agreement_create",
    "agreement_terminate",
    "agreement_termination_check",
    "agreement_upload_signed_copy",
    "amendment_create",
    "is_lead_legal_representative",
    "is_lead_member",
    "legal_representative",
]
