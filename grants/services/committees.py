"""Selection committee sessions: preparation, agenda, decisions in session, then one application.

Every write is a programme admin's (invited instructors read their sessions). The session moves
through `grants.committee_workflow` (one table, one funnel); its agenda (`CommitteeItem`) is built
from the ranking by score of the dossiers eligible and scored of its call and wave
(`grants.selectors.committees.committee_ranking`), or set from a list of (dossier, amount)
(`committee_agenda_set`, for an allocation scenario), and may change until the session is held.

The decisions recorded in session are applied by `committee_apply` through the decision services
(`application_award`, `application_refuse`: the envelope under its lock, the letters through the
outbox), one dossier per transaction: a dossier refused (by the envelope, say) keeps its message
and does not undo the others, and applying again applies only the items not applied yet. The
locks: the session, then the item, then (inside the decision services) the dossier and its call,
the grant, its agreement and tranches, the documented order of the money extended at its head.
Once every item is applied, the session is « appliquée » and its minutes (procès-verbal) are
asked as a document row, rendered by a worker.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Application, Call, Wave
from core.formatting import format_date, format_datetime, format_money
from grants.committee_workflow import AGENDA_EDITABLE, DECIDING, committee_transition
from grants.models import CommitteeItem, CommitteeMember, CommitteeSession
from grants.selectors.committees import Ranked, committee_ranking
from grants.services.decisions import application_award, application_refuse, award_preview, decision_check
from grants.services.envelope import award_check, split_yearly
from notifications.services import document_request

C = CommitteeSession.Status
D = CommitteeItem.Decision
O = CommitteeItem.Outcome  # noqa: E741 (the outcome's choices, as C and D are the others')

CENT = Decimal("0.01")
MINUTES_TEMPLATE = "pdf/committee_minutes.html"
MINUTES_KIND = "committee-minutes"


def _texts(parts: Sequence[Decimal]) -> list[str]:
    """A yearly split as stored (JSON): euros with their cents, « 50000.00 »."""
    return [str(Decimal(part).quantize(CENT)) for part in parts]


def _admin_only(actor: User) -> None:
    if not has_role(actor, Role.ADMIN):
        raise PermissionDenied(_("Seuls les administrateurs du programme préparent et tiennent les comités."))


def _lock(session: CommitteeSession) -> CommitteeSession:
    return CommitteeSession.objects.select_for_update().get(pk=session.pk)


def _state_error(session: CommitteeSession, allowed: frozenset[str], doing: str) -> ValidationError:
    return ValidationError(
        _("La séance est « %(status)s » : %(doing)s n'est plus possible.")
        % {"status": C(session.status).label, "doing": doing},
        code="state",
    )


# --- the session ----------------------------------------------------------------------------------


@transaction.atomic
def committee_create(
    *,
    call: Call,
    wave: Wave | None,
    title: str,
    starts_at: datetime,
    place: str = "",
    visio_url: str = "",
    actor: User,
) -> CommitteeSession:
    """A session in preparation, for a call and one of its waves, with its date and place or link.

    The creator sits in it as a programme admin."""
    _admin_only(actor)
    if wave is not None and wave.call_id != call.pk:
        raise ValidationError({"wave": _("Cette vague n'appartient pas à l'appel.")})
    session = CommitteeSession(
        call=call,
        wave=wave,
        title=title.strip(),
        starts_at=starts_at,
        place=place.strip(),
        visio_url=visio_url.strip(),
        created_by=actor,
    )
    errors: dict[str, list[str]] = {}
    if not session.place and not session.visio_url:
        errors["place"] = [_("Indiquez un lieu ou un lien de visioconférence.")]
    try:
        session.full_clean()
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            errors.setdefault("place" if name == "__all__" else name, []).extend(messages)
    if errors:
        # One message per field: the constraint says again what the « place » check said.
        raise ValidationError({name: list(dict.fromkeys(messages)) for name, messages in errors.items()})
    session.save()
    CommitteeMember.objects.create(session=session, user=actor, role=CommitteeMember.Role.ADMIN)
    audit_record(
        actor=actor,
        action="committee.create",
        target=session,
        data={"call": call.slug, "wave": wave.number if wave else None, "starts_at": starts_at.isoformat()},
    )
    return session


def _move(
    session: CommitteeSession, to_status: str, verb: str, actor: User, note: str = "", **fields: Any
) -> None:
    committee_transition(
        session=session, to_status=to_status, actor=actor, action=f"committee.{verb}", note=note, **fields
    )


@transaction.atomic
def committee_convene(*, session: CommitteeSession, actor: User) -> CommitteeSession:
    """Call the members: the session needs at least one member and one dossier on its agenda."""
    _admin_only(actor)
    locked = _lock(session)
    if locked.status == C.DRAFT:
        if not locked.items.exists():
            raise ValidationError(
                _("Constituez l'ordre du jour avant de convoquer le comité."), code="agenda"
            )
    _move(session, C.CONVENED, "convene", actor)
    return session


@transaction.atomic
def committee_reopen_preparation(*, session: CommitteeSession, actor: User) -> CommitteeSession:
    """Back to preparation (a convened session put off to prepare it again)."""
    _admin_only(actor)
    _move(session, C.DRAFT, "prepare", actor)
    return session


@transaction.atomic
def committee_open(*, session: CommitteeSession, actor: User) -> CommitteeSession:
    """The session is held: from now on its decisions are recorded, and its agenda is fixed."""
    _admin_only(actor)
    locked = _lock(session)
    if locked.status == C.CONVENED and not locked.items.exists():
        raise ValidationError(_("L'ordre du jour est vide : il n'y a rien à décider."), code="agenda")
    _move(session, C.HELD, "hold", actor)
    return session


@transaction.atomic
def committee_cancel(*, session: CommitteeSession, reason: str, actor: User) -> CommitteeSession:
    """Cancel a session with its reason, as long as none of its decisions was applied."""
    _admin_only(actor)
    if not reason.strip():
        raise ValidationError({"reason": _("Indiquez pourquoi la séance est annulée.")})
    locked = _lock(session)
    if locked.items.filter(outcome=O.APPLIED).exists():
        raise ValidationError(
            _("Des décisions de cette séance sont déjà appliquées : elle ne peut plus être annulée."),
            code="state",
        )
    _move(session, C.CANCELLED, "cancel", actor, note=reason.strip(), data={"reason": reason.strip()})
    return session


# --- the members ----------------------------------------------------------------------------------


def _member_role(user: User) -> str | None:
    if has_role(user, Role.ADMIN):
        return CommitteeMember.Role.ADMIN
    if has_role(user, Role.INSTRUCTOR):
        return CommitteeMember.Role.INSTRUCTOR
    return None


@transaction.atomic
def committee_members_set(
    *, session: CommitteeSession, users: Sequence[User], actor: User
) -> list[CommitteeMember]:
    """Who sits: programme admins and invited instructors, set before the session is held."""
    _admin_only(actor)
    session = _lock(session)
    if session.status not in AGENDA_EDITABLE:
        raise _state_error(session, AGENDA_EDITABLE, _("changer les membres"))
    if not users:
        raise ValidationError({"members": _("Un comité compte au moins un membre.")})
    refused = [
        user.get_full_name() or user.email
        for user in users
        if _member_role(user) is None or not user.is_active
    ]
    if refused:
        raise ValidationError(
            {
                "members": _(
                    "Seuls les administrateurs du programme et les instructeurs peuvent siéger : %(names)s."
                )
                % {"names": ", ".join(refused)}
            }
        )
    wanted = {user.pk: user for user in users}
    current = {member.user_id: member for member in CommitteeMember.objects.filter(session=session)}
    removed = [pk for pk in current if pk not in wanted]
    CommitteeMember.objects.filter(session=session, user_id__in=removed).delete()
    for pk, user in wanted.items():
        if pk not in current:
            member = CommitteeMember(session=session, user=user, role=_member_role(user) or "")
            member.full_clean()
            member.save()
    audit_record(
        actor=actor,
        action="committee.members",
        target=session,
        data={"added": sorted(set(wanted) - set(current)), "removed": sorted(removed)},
    )
    return list(CommitteeMember.objects.filter(session=session).select_related("user"))


@transaction.atomic
def committee_attendance_set(
    *, session: CommitteeSession, attendance: Mapping[int, str], actor: User
) -> list[CommitteeMember]:
    """Record who attended (by member id), once the members are convened and until the end of the session."""
    _admin_only(actor)
    session = _lock(session)
    allowed = frozenset({C.CONVENED, C.HELD})
    if session.status not in allowed:
        raise _state_error(session, allowed, _("noter les présences"))
    members = {member.pk: member for member in CommitteeMember.objects.filter(session=session)}
    choices = set(CommitteeMember.Attendance.values)
    errors = {}
    for member_id, value in attendance.items():
        if member_id not in members:
            errors[f"member_{member_id}"] = _("Cette personne ne siège pas dans ce comité.")
        elif value not in choices:
            errors[f"member_{member_id}"] = _("Choisissez une présence dans la liste.")
    if errors:
        raise ValidationError(errors)
    changed = {}
    for member_id, value in attendance.items():
        member = members[member_id]
        if member.attendance != value:
            changed[str(member.user_id)] = {"from": member.attendance, "to": value}
            member.attendance = value
            member.save(update_fields=["attendance"])
    audit_record(actor=actor, action="committee.attendance", target=session, data={"changed": changed})
    return list(members.values())


# --- the agenda -----------------------------------------------------------------------------------


def default_proposal(call: Call, asked: Decimal) -> Decimal:
    """What the agenda proposes at first: the amount asked, within the call's bounds."""
    return min(max(asked, call.min_award), call.max_award)


def proposal_split(call: Call, application: Application, amount: Decimal) -> list[Decimal]:
    """The yearly split of a proposed amount: as asked when it matches the award and the yearly cap,
    else equal parts (the award's own default, `split_yearly`, minus what the cap would refuse)."""
    asked = list(application.budget_years.order_by("year_index").values_list("requested", flat=True))
    parts = split_yearly(amount, call.duration_years, asked)
    if any(part > call.max_per_year for part in parts):
        parts = split_yearly(amount, call.duration_years, [])
    return parts


def _agenda_refusals(
    session: CommitteeSession, applications: Sequence[Application], ranks: Mapping[int, Ranked]
) -> list[str]:
    """Why each dossier may not be on the agenda (none when all may)."""
    refusals = []
    elsewhere = set(
        CommitteeItem.objects.filter(
            application__in=[application.pk for application in applications],
            session__status__in=[C.DRAFT, C.CONVENED, C.HELD],
        )
        .exclude(session=session)
        .exclude(outcome=O.APPLIED)
        .values_list("application_id", flat=True)
    )
    seen: set[int] = set()
    for application in applications:
        if application.pk in seen:
            refusals.append(
                _("%(reference)s : ce dossier figure deux fois.") % {"reference": application.reference}
            )
        seen.add(application.pk)
        if application.pk not in ranks:
            refusals.append(
                _(
                    "%(reference)s : seul un dossier en instruction, éligible et noté, de l'appel et de la "
                    "vague de la séance, peut être inscrit à l'ordre du jour."
                )
                % {"reference": application.reference}
            )
        elif application.pk in elsewhere:
            refusals.append(
                _("%(reference)s : ce dossier est déjà à l'ordre du jour d'une autre séance.")
                % {"reference": application.reference}
            )
    return refusals


def _check_amount(call: Call, application: Application, amount: Decimal, yearly: list[Decimal]) -> list[str]:
    try:
        award_check(call, amount, yearly)
    except ValidationError as error:
        return [
            _("%(reference)s : %(message)s") % {"reference": application.reference, "message": message}
            for messages in error.message_dict.values()
            for message in messages
        ]
    return []


@transaction.atomic
def committee_agenda_set(
    *, session: CommitteeSession, items: list[tuple[Application, Decimal]], actor: User
) -> list[CommitteeItem]:
    """Put these dossiers, with these proposed amounts, on the agenda, in place of what it held.

    Each dossier must be in review, eligible and scored, of the session's call and wave, and on no
    other live session's agenda; each amount within the call's bounds (split per year as
    `proposal_split` does, within the yearly cap). All or nothing: any refusal writes nothing and
    lists every dossier refused with its reason. Each item keeps the dossier's rank in the ranking.
    """
    _admin_only(actor)
    session = _lock(session)
    if session.status not in AGENDA_EDITABLE:
        raise _state_error(session, AGENDA_EDITABLE, _("changer l'ordre du jour"))
    call = Call.objects.get(pk=session.call_id)
    ranks = {row.application.pk: row for row in committee_ranking(call, session.wave)}
    refusals = _agenda_refusals(session, [application for application, _amount in items], ranks)
    rows = []
    for application, amount in items:
        if application.pk not in ranks:
            continue
        ranked = ranks[application.pk]
        yearly = proposal_split(call, application, amount)
        refusals.extend(_check_amount(call, application, amount, yearly))
        rows.append(
            CommitteeItem(
                session=session,
                application_id=application.pk,
                rank=ranked.rank,
                score=ranked.application.score or Decimal("0"),  # the ranking holds scored dossiers only
                asked=ranked.asked,
                proposed=amount,
                proposed_yearly=_texts(yearly),
            )
        )
    if refusals:
        raise ValidationError({"items": refusals})
    before = sorted(CommitteeItem.objects.filter(session=session).values_list("application_id", flat=True))
    CommitteeItem.objects.filter(session=session).delete()
    for row in rows:
        row.full_clean(exclude=["session", "application"])
    created = CommitteeItem.objects.bulk_create(rows)
    audit_record(
        actor=actor,
        action="committee.agenda",
        target=session,
        data={
            "before": before,
            "items": [[row.application_id, str(row.proposed)] for row in rows],
        },
    )
    return created


@transaction.atomic
def committee_agenda_add(
    *, session: CommitteeSession, application: Application, amount: Decimal | None = None, actor: User
) -> CommitteeItem:
    """Put one more dossier on the agenda, before the session, with its rank in the ranking and
    an amount proposed (by default what it asks, within the call's bounds); the rest of the agenda
    stays as it is."""
    _admin_only(actor)
    session = _lock(session)
    if session.status not in AGENDA_EDITABLE:
        raise _state_error(session, AGENDA_EDITABLE, _("changer l'ordre du jour"))
    call = Call.objects.get(pk=session.call_id)
    ranks = {row.application.pk: row for row in committee_ranking(call, session.wave)}
    if CommitteeItem.objects.filter(session=session, application=application).exists():
        raise ValidationError(
            {
                "reference": _("Le dossier %(reference)s est déjà à l'ordre du jour.")
                % {"reference": application.reference}
            }
        )
    refusals = _agenda_refusals(session, [application], ranks)
    if refusals:
        raise ValidationError({"reference": refusals})
    ranked = ranks[application.pk]
    proposed = amount if amount is not None else default_proposal(call, ranked.asked)
    yearly = proposal_split(call, application, proposed)
    try:
        award_check(call, proposed, yearly)
    except ValidationError as error:
        raise ValidationError(
            {"amount": [message for messages in error.message_dict.values() for message in messages]}
        ) from error
    item = CommitteeItem(
        session=session,
        application=application,
        rank=ranked.rank,
        score=ranked.application.score or Decimal("0"),
        asked=ranked.asked,
        proposed=proposed,
        proposed_yearly=_texts(yearly),
    )
    item.full_clean()
    item.save()
    audit_record(
        actor=actor,
        action="committee.add",
        target=session,
        data={"dossier": application.reference, "proposed": str(proposed)},
    )
    return item


@transaction.atomic
def committee_agenda_build(*, session: CommitteeSession, actor: User) -> list[CommitteeItem]:
    """« Constituer l'ordre du jour »: every dossier of the ranking not on another live session,
    each with the amount it asks within the call's bounds."""
    _admin_only(actor)
    call = Call.objects.get(pk=session.call_id)
    ranking = committee_ranking(call, session.wave)
    taken = set(
        CommitteeItem.objects.filter(
            application__in=[row.application.pk for row in ranking],
            session__status__in=[C.DRAFT, C.CONVENED, C.HELD],
        )
        .exclude(session=session)
        .exclude(outcome=O.APPLIED)
        .values_list("application_id", flat=True)
    )
    items = [
        (row.application, default_proposal(call, row.asked))
        for row in ranking
        if row.application.pk not in taken
    ]
    if not items:
        raise ValidationError(
            _(
                "Aucun dossier en instruction, éligible et noté, n'attend de décision pour cet appel "
                "et cette vague."
            ),
            code="agenda",
        )
    return committee_agenda_set(session=session, items=items, actor=actor)


def _parts(
    call: Call, application: Application, amount: Decimal, yearly: Sequence[Decimal] | None
) -> list[Decimal]:
    return list(yearly) if yearly else proposal_split(call, application, amount)


def _lock_item(item: CommitteeItem) -> tuple[CommitteeSession, CommitteeItem]:
    """The session, then the item: the order every write of the agenda and the application take."""
    session = CommitteeSession.objects.select_for_update().get(pk=item.session_id)
    # The item's row alone (`of`): its dossier is locked by the decision services, in their order.
    locked = (
        CommitteeItem.objects.select_for_update(of=("self",)).select_related("application").get(pk=item.pk)
    )
    return session, locked


@transaction.atomic
def committee_item_propose(
    *, item: CommitteeItem, amount: Decimal, yearly: Sequence[Decimal] | None = None, actor: User
) -> CommitteeItem:
    """Change the amount proposed for one dossier (and its split), before the session."""
    _admin_only(actor)
    session, item = _lock_item(item)
    if session.status not in AGENDA_EDITABLE:
        raise _state_error(session, AGENDA_EDITABLE, _("changer l'ordre du jour"))
    call = Call.objects.get(pk=session.call_id)
    parts = _parts(call, item.application, amount, yearly)
    award_check(call, amount, parts)
    before = {"proposed": str(item.proposed), "yearly": item.proposed_yearly}
    item.proposed = amount
    item.proposed_yearly = _texts(parts)
    item.full_clean()
    item.save(update_fields=["proposed", "proposed_yearly"])
    audit_record(
        actor=actor,
        action="committee.propose",
        target=session,
        data={
            "dossier": item.application.reference,
            "before": before,
            "after": {"proposed": str(amount), "yearly": item.proposed_yearly},
        },
    )
    return item


@transaction.atomic
def committee_item_remove(*, item: CommitteeItem, actor: User) -> None:
    """Take a dossier off the agenda, before the session."""
    _admin_only(actor)
    session, item = _lock_item(item)
    if session.status not in AGENDA_EDITABLE:
        raise _state_error(session, AGENDA_EDITABLE, _("changer l'ordre du jour"))
    reference = item.application.reference
    item.delete()
    audit_record(actor=actor, action="committee.remove", target=session, data={"dossier": reference})


# --- the decisions --------------------------------------------------------------------------------


@transaction.atomic
def committee_decision_record(
    *,
    item: CommitteeItem,
    decision: str,
    amount: Decimal | None = None,
    yearly: Sequence[Decimal] | None = None,
    reasons: str = "",
    actor: User,
) -> CommitteeItem:
    """Record the committee's decision on one dossier, in session: an award (its amount and split,
    by the award's rules), a refusal (its reasons, printed in the letter) or postponed. A decision
    already applied does not change."""
    _admin_only(actor)
    session, item = _lock_item(item)
    if session.status not in DECIDING:
        raise _state_error(session, DECIDING, _("enregistrer une décision"))
    if item.is_applied:
        raise ValidationError(
            _("La décision sur le dossier %(reference)s est déjà appliquée : elle ne change plus.")
            % {"reference": item.application.reference},
            code="applied",
        )
    if decision not in D.values:
        raise ValidationError({"decision": _("Choisissez une décision dans la liste.")})
    call = Call.objects.get(pk=session.call_id)
    item.amount = None
    item.yearly = []
    item.reasons = ""
    if decision == D.AWARD:
        total = amount if amount is not None else item.proposed
        parts = _parts(call, item.application, total, yearly)
        award_check(call, total, parts)
        item.amount = total
        item.yearly = _texts(parts)
    elif decision == D.REFUSE:
        if not reasons.strip():
            raise ValidationError({"reasons": _("Une décision de refus doit être motivée.")})
        item.reasons = reasons.strip()
    elif decision == D.POSTPONE:
        item.reasons = reasons.strip()
    item.decision = decision
    item.decided_by = actor if decision else None
    item.decided_at = timezone.now() if decision else None
    # A decision changed after a refusal at the application is applied afresh.
    item.outcome = O.PENDING
    item.outcome_message = ""
    item.full_clean()
    item.save(
        update_fields=[
            "decision",
            "amount",
            "yearly",
            "reasons",
            "decided_by",
            "decided_at",
            "outcome",
            "outcome_message",
        ]
    )
    audit_record(
        actor=actor,
        action="committee.decide",
        target=session,
        data={
            "dossier": item.application.reference,
            "decision": decision,
            "amount": str(item.amount) if item.amount is not None else None,
            "yearly": item.yearly,
        },
    )
    return item


# --- applying them --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecapRow:
    item: CommitteeItem
    committed: Decimal  # what an award takes from the envelope (bonus included)
    refusal: str  # why it would be refused at the application, if it would


@dataclass(frozen=True)
class ApplyRecap:
    """What `committee_apply` would do: the counts, the total, the envelope before and after."""

    rows: list[RecapRow]
    awards: int
    refusals: int
    postponed: int
    undecided: int
    already_applied: int
    total: Decimal
    envelope_before: Decimal
    envelope_after: Decimal
    blocked: list[str] = field(default_factory=list)

    @property
    def refused_rows(self) -> list[RecapRow]:
        return [row for row in self.rows if row.refusal]


def _error_text(error: ValidationError | PermissionDenied) -> str:
    messages = error.messages if isinstance(error, ValidationError) else [str(error)]
    return " ".join(str(message) for message in messages)


def committee_apply_preview(*, session: CommitteeSession, actor: User) -> ApplyRecap:
    """The recap before the application, read-only: each item not applied yet checked by the
    decision's own checks (`award_preview`, `decision_check`), the envelope counted down in the
    agenda's order as the application will commit it."""
    _admin_only(actor)
    session = CommitteeSession.objects.get(pk=session.pk)  # its state as it stands now
    call = Call.objects.get(pk=session.call_id)
    items = list(
        CommitteeItem.objects.filter(session=session)
        .select_related("application")
        .order_by("rank", "application__reference")
    )
    remaining = call.remaining_amount
    before = remaining
    rows = []
    counts = {D.AWARD: 0, D.REFUSE: 0, D.POSTPONE: 0, D.PENDING: 0}
    applied = 0
    total = Decimal("0")
    for item in items:
        if item.is_applied:
            applied += 1
            continue
        counts[D(item.decision)] += 1
        committed = Decimal("0")
        refusal = ""
        try:
            if item.decision == D.AWARD:
                assert item.amount is not None  # noqa: S101 (a CHECK constraint holds it)
                preview = award_preview(
                    application=item.application, amount=item.amount, yearly=item.yearly_parts, actor=actor
                )
                committed = preview.amount + preview.bonus
                if committed > remaining:
                    raise ValidationError(
                        _(
                            "L'enveloppe de l'appel n'a plus que %(remaining)s disponibles : %(amount)s ne "
                            "peuvent pas être engagés."
                        )
                        % {"remaining": format_money(remaining), "amount": format_money(committed)},
                        code="envelope",
                    )
                remaining -= committed
                total += committed
            elif item.decision == D.REFUSE:
                decision_check(application=item.application, actor=actor)
        except (ValidationError, PermissionDenied) as error:
            refusal = _error_text(error)
            committed = Decimal("0")
        rows.append(RecapRow(item=item, committed=committed, refusal=refusal))
    blocked = []
    if session.status != C.HELD:
        blocked.append(str(_state_error(session, DECIDING, _("appliquer les décisions")).messages[0]))
    if counts[D.PENDING]:
        blocked.append(
            _("Décidez chaque dossier de l'ordre du jour avant d'appliquer : %(count)d sans décision.")
            % {"count": counts[D.PENDING]}
        )
    return ApplyRecap(
        rows=rows,
        awards=counts[D.AWARD],
        refusals=counts[D.REFUSE],
        postponed=counts[D.POSTPONE],
        undecided=counts[D.PENDING],
        already_applied=applied,
        total=total,
        envelope_before=before,
        envelope_after=remaining,
        blocked=blocked,
    )


@dataclass(frozen=True)
class ItemResult:
    reference: str
    decision: str
    done: bool
    message: str


def _apply_item(item_id: int, actor: User) -> ItemResult | None:
    """Apply one item's decision in its own transaction; None when it was applied already."""
    with transaction.atomic():
        session_id = CommitteeItem.objects.values_list("session_id", flat=True).get(pk=item_id)
        session, item = _lock_item(CommitteeItem(pk=item_id, session_id=session_id))
        if item.is_applied:
            return None
        if session.status != C.HELD:
            raise _state_error(session, DECIDING, _("appliquer les décisions"))
        application = item.application
        grant = None
        if item.decision == D.AWARD:
            assert item.amount is not None  # noqa: S101 (a CHECK constraint holds it)
            grant = application_award(
                application=application, amount=item.amount, yearly=item.yearly_parts, actor=actor
            )
            message = _("Subvention de %(amount)s attribuée.") % {"amount": format_money(item.amount)}
        elif item.decision == D.REFUSE:
            application_refuse(application=application, reasons=item.reasons, actor=actor)
            message = _("Refus notifié.")
        elif item.decision == D.POSTPONE:
            message = _("Ajourné : le dossier reste en instruction.")
        else:
            raise ValidationError(_("Aucune décision n'est enregistrée pour ce dossier."), code="undecided")
        item.outcome = O.APPLIED
        item.outcome_message = message
        item.applied_at = timezone.now()
        item.grant = grant
        item.full_clean()
        item.save(update_fields=["outcome", "outcome_message", "applied_at", "grant"])
        audit_record(
            actor=actor,
            action="committee.apply_item",
            target=session,
            data={"dossier": application.reference, "decision": item.decision},
        )
        return ItemResult(application.reference, item.decision, True, message)


@transaction.atomic
def _record_failure(item_id: int, message: str, actor: User) -> None:
    """Keep a dossier's refusal at the application on its item (the decision's rollback took nothing else)."""
    session_id = CommitteeItem.objects.values_list("session_id", flat=True).get(pk=item_id)
    session, item = _lock_item(CommitteeItem(pk=item_id, session_id=session_id))
    if item.is_applied:
        return
    item.outcome = O.FAILED
    item.outcome_message = message
    item.save(update_fields=["outcome", "outcome_message"])
    audit_record(
        actor=actor,
        action="committee.apply_failed",
        target=session,
        data={"dossier": item.application.reference, "message": message},
    )


def committee_apply(*, session: CommitteeSession, actor: User) -> list[ItemResult]:
    """Apply the session's decisions in one move, one dossier per transaction.

    Not atomic as a whole, on purpose: a dossier refused (the envelope spent, the dossier decided
    elsewhere meanwhile) keeps its message and leaves the others applied; applying again applies
    the items not applied yet, and an item applied is never applied twice (its row is locked and
    checked first; the award refuses a dossier no longer in review besides). Once every item is
    applied the session moves to « appliquée » and its minutes are asked.
    """
    _admin_only(actor)
    recap = committee_apply_preview(session=session, actor=actor)
    if recap.blocked:
        raise ValidationError(recap.blocked, code="blocked")
    results = []
    for row in recap.rows:
        try:
            result = _apply_item(row.item.pk, actor)
        except (ValidationError, PermissionDenied) as error:
            message = _error_text(error)
            _record_failure(row.item.pk, message, actor)
            results.append(ItemResult(row.item.application.reference, row.item.decision, False, message))
        else:
            if result is not None:
                results.append(result)
    _finish(session, actor, results)
    return results


@transaction.atomic
def _finish(session: CommitteeSession, actor: User, results: list[ItemResult]) -> None:
    """The application's audit row, and the move to « appliquée » with the minutes once all is applied."""
    locked = _lock(session)
    audit_record(
        actor=actor,
        action="committee.apply",
        target=session,
        data={
            "applied": [result.reference for result in results if result.done],
            "failed": [result.reference for result in results if not result.done],
        },
    )
    if locked.status != C.HELD or locked.items.exclude(outcome=O.APPLIED).exists():
        return
    now = timezone.now()
    minutes = document_request(
        key=f"committee:{session.pk}:minutes",
        kind=MINUTES_KIND,
        template_name=MINUTES_TEMPLATE,
        context=committee_minutes_context(session, applied_at=now),
        filename=f"proces-verbal-comite-{session.pk}.pdf",
    )
    _move(session, C.APPLIED, "applied", actor, applied_at=now, minutes=minutes)


# --- the minutes ----------------------------------------------------------------------------------


def _lead_name(application: Application) -> str:
    lead = application.members.select_related("organisation").filter(is_lead=True).first()
    return lead.organisation.name if lead else ""


def committee_minutes_context(session: CommitteeSession, *, applied_at: datetime) -> dict[str, Any]:
    """The procès-verbal's context: strings and lists of them only, frozen on the document row."""
    call = Call.objects.get(pk=session.call_id)
    members = list(
        CommitteeMember.objects.filter(session=session)
        .select_related("user")
        .order_by("role", "user__last_name", "user__first_name")
    )
    items = list(
        CommitteeItem.objects.filter(session=session)
        .select_related("application__departement", "grant")
        .order_by("rank", "application__reference")
    )
    adopted = [item for item in items if item.decision == D.AWARD]
    committed = sum((item.grant.committed for item in adopted if item.grant is not None), Decimal("0"))
    bonus = sum((item.grant.bonus for item in adopted if item.grant is not None), Decimal("0"))
    after = call.remaining_amount

    def dossier(item: CommitteeItem) -> dict[str, str]:
        application = item.application
        departement = application.departement
        return {
            "rank": str(item.rank),
            "reference": application.reference,
            "title": application.title,
            "lead": _lead_name(application),
            "departement": f"{departement.code} – {departement.name}" if departement else "",
            "score": format(item.score, "f").replace(".", ","),
        }

    return {
        **call.letterhead(),
        "call": call.title,
        "session_title": session.title,
        "wave": session.wave.name if session.wave else "",
        "starts_at": format_datetime(session.starts_at),
        "place": session.place,
        "visio_url": session.visio_url,
        "date": format_date(applied_at),
        "members": [
            {
                "name": member.user.get_full_name() or member.user.email,
                "role": str(CommitteeMember.Role(member.role).label),
                "attendance": str(CommitteeMember.Attendance(member.attendance).label),
            }
            for member in members
        ],
        "present_count": sum(
            1 for member in members if member.attendance == CommitteeMember.Attendance.PRESENT
        ),
        "adopted": [
            {
                **dossier(item),
                "amount": format_money(item.amount),
                "bonus": format_money(item.grant.bonus)
                if item.grant is not None and item.grant.bonus
                else "",
                "yearly": [format_money(part) for part in item.yearly_parts],
            }
            for item in adopted
        ],
        "refused": [
            {**dossier(item), "reasons": item.reasons.splitlines()}
            for item in items
            if item.decision == D.REFUSE
        ],
        "postponed": [
            {**dossier(item), "note": item.reasons} for item in items if item.decision == D.POSTPONE
        ],
        "totals": {
            "dossiers": str(len(items)),
            "adopted": str(len(adopted)),
            "refused": str(sum(1 for item in items if item.decision == D.REFUSE)),
            "postponed": str(sum(1 for item in items if item.decision == D.POSTPONE)),
            "amount": format_money(committed - bonus),
            "bonus": format_money(bonus),
            "committed": format_money(committed),
            "envelope": format_money(call.envelope),
            "envelope_before": format_money(after + committed),
            "envelope_after": format_money(after),
        },
    }
