"""Reads of the committee sessions: who sees which session, and the ranking their agenda is built from."""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser
from django.db.models import DecimalField, Exists, F, OuterRef, Prefetch, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce, Rank

from accounts.models import Role, User
from accounts.roles import has_role
from applications.models import (
    Application,
    BudgetYear,
    Call,
    EligibilityAnswer,
    EligibilityCheck,
    Member,
    Wave,
)
from grants.models import CommitteeItem, CommitteeMember, CommitteeSession

ZERO = Decimal("0.00")


def committee_sessions_visible_to(user: User | AnonymousUser) -> QuerySet[CommitteeSession]:
    """Programme admins see every session; an instructor sees the sessions they are invited to."""
    if not user.is_authenticated:
        return CommitteeSession.objects.none()
    if has_role(user, Role.ADMIN):
        return CommitteeSession.objects.all()
    if has_role(user, Role.INSTRUCTOR):
        return CommitteeSession.objects.filter(
            pk__in=CommitteeMember.objects.filter(user=user).values("session_id")
        )
    return CommitteeSession.objects.none()


def eligible_and_scored(call: Call, wave: Wave | None) -> QuerySet[Application]:
    """The dossiers a committee of `call` (and `wave`) may decide: in review, scored, and with every
    eligibility condition of the call answered « remplie » (the award's own rule, checked again
    when the decision is applied)."""
    unmet = EligibilityCheck.objects.filter(call=OuterRef("call")).exclude(
        Exists(
            EligibilityAnswer.objects.filter(
                application=OuterRef(OuterRef("pk")), condition=OuterRef("pk"), satisfied=True
            )
        )
    )
    dossiers = Application.objects.filter(
        call=call, status=Application.Status.IN_REVIEW, score__isnull=False
    ).exclude(Exists(unmet))
    if wave is not None:
        dossiers = dossiers.filter(wave=wave)
    return dossiers


@dataclass(frozen=True)
class Ranked:
    """A dossier of the ranking: its rank by score (ties share a rank) and the amount it asks."""

    application: Application
    rank: int
    asked: Decimal
    lead_name: str


def committee_ranking(call: Call, wave: Wave | None) -> list[Ranked]:
    """The ranking by score of the dossiers eligible and scored, best first, as the instruction's
    list ranks them (a `Rank()` window over the score, ties by reference); two queries."""
    asked = (
        BudgetYear.objects.filter(application=OuterRef("pk"))
        .order_by()
        .values("application")
        .annotate(total=Sum("requested"))
        .values("total")
    )
    lead = Member.objects.filter(is_lead=True).select_related("organisation")
    rows = (
        eligible_and_scored(call, wave)
        .select_related("departement")
        .prefetch_related(Prefetch("members", queryset=lead, to_attr="lead_members"))
        .annotate(
            rank=Window(expression=Rank(), order_by=F("score").desc()),
            asked_total=Coalesce(
                Subquery(asked, output_field=DecimalField()), ZERO, output_field=DecimalField()
            ),
        )
        .order_by(F("score").desc(), "reference")
    )
    return [
        Ranked(
            application=row,
            rank=row.rank,
            asked=row.asked_total,
            lead_name=row.lead_members[0].organisation.name if row.lead_members else "",
        )
        for row in rows
    ]


def committee_agenda(session: CommitteeSession) -> QuerySet[CommitteeItem]:
    """The session's agenda, ranked, with what its table shows (dossier, département, lead)."""
    lead = Member.objects.filter(is_lead=True).select_related("organisation")
    return (
        CommitteeItem.objects.filter(session=session)
        .select_related("application__departement", "grant")
        .prefetch_related(Prefetch("application__members", queryset=lead, to_attr="lead_members"))
        .order_by("rank", "application__reference")
    )


def committee_members(session: CommitteeSession) -> QuerySet[CommitteeMember]:
    return CommitteeMember.objects.filter(session=session).select_related("user")


def committee_candidates() -> QuerySet[User]:
    """Who may sit: the active programme admins and instructors."""
    return (
        User.objects.filter(groups__name__in=[Role.ADMIN.value, Role.INSTRUCTOR.value], is_active=True)
        .distinct()
        .order_by("last_name", "first_name", "email")
    )
