"""What is expected next, for the homes of each side: « Mon espace », the workspace, the steering page.

Reads only (selectors), each in a fixed number of queries whatever the number of dossiers.

The applicant's steps are listed per dossier; the staff's to-do is a list of groups (dossiers
submitted and not assigned, assigned and not scored, scored and not decided, corrections answered,
opinions received, ...), each scoped to what the
user may see and cut to its first rows, with the total.

Imports flow accounts ← fabriques ← applications ← grants: this module cannot see grants, agreements
and tranches. The grants app adds its own steps (agreement to accept, tranche to request, reports
due, payments) by registering providers here from its AppConfig.ready(); the homes call one
function and get every side's steps, and applications still imports nothing of grants.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Window
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from accounts.roles import has_role
from applications.models import Application, Assignment, Opinion, StatusChange
from applications.selectors import (
    applications_editable_by,
    applications_reviewable_by,
    applications_visible_to,
)
from core.formatting import format_date

S = Application.Status

# How many rows a staff group shows; the total is given beside it.
GROUP_LIMIT = 10
UNDECIDED = (S.SUBMITTED, S.IN_REVIEW, S.CORRECTIONS)


@dataclass(frozen=True)
class NextStep:
    """One thing due on a dossier. `waiting` steps need nothing from the user yet: `detail` says
    what they wait for."""

    label: str
    detail: str
    url: str
    action: str
    due: date | None = None
    overdue: bool = False
    waiting: bool = False


@dataclass
class DossierSteps:
    application: Application
    steps: list[NextStep] = field(default_factory=list)


@dataclass(frozen=True)
class TodoItem:
    reference: str
    title: str
    detail: str
    url: str
    action: str
    overdue: bool = False


@dataclass(frozen=True)
class TodoGroup:
    key: str
    label: str | Promise
    items: list[TodoItem]
    total: int


ApplicantProvider = Callable[[User, Sequence[Application]], dict[int, list[NextStep]]]
StaffProvider = Callable[[User], list[TodoGroup]]

_applicant_providers: dict[str, ApplicantProvider] = {}
_staff_providers: dict[str, StaffProvider] = {}


def register_applicant_steps(name: str, provider: ApplicantProvider) -> None:
    """Add the steps of a higher layer (grants) to the applicant's home; keyed, so idempotent."""
    _applicant_providers[name] = provider


def register_staff_todo(name: str, provider: StaffProvider) -> None:
    _staff_providers[name] = provider


# --- the applicant -------------------------------------------------------------------------------


def _dossier_steps(user: User, applications: Sequence[Application]) -> dict[int, list[NextStep]]:
    """Drafts to submit and corrections asked, on the dossiers the user may change (a partner
    structure's member sees them in « Mes dossiers », the lead acts): two queries at most."""
    steps: dict[int, list[NextStep]] = {}
    open_ids = [
        application.pk for application in applications if application.status in (S.DRAFT, S.CORRECTIONS)
    ]
    if not open_ids:
        return steps
    editable = set(applications_editable_by(user).filter(pk__in=open_ids).values_list("pk", flat=True))
    applications = [application for application in applications if application.pk in editable]
    asked = [application.pk for application in applications if application.status == S.CORRECTIONS]
    notes: dict[int, str] = {}
    if asked:
        for application_id, note in (
            StatusChange.objects.filter(application_id__in=asked, to_status=S.CORRECTIONS)
            .order_by("application_id", "-at", "-pk")
            .values_list("application_id", "note")
        ):
            notes.setdefault(application_id, note)
    for application in applications:
        url = reverse("applications:dossier-detail", args=[application.reference])
        if application.status == S.DRAFT:
            closes = timezone.localtime(application.call.closes_at)
            steps.setdefault(application.pk, []).append(
                NextStep(
                    label=_("Dossier à compléter et à déposer"),
                    detail=_("Dépôt possible jusqu'au %(date)s.") % {"date": format_date(closes.date())},
                    url=url,
                    action=_("Compléter le dossier"),
                    due=closes.date(),
                )
            )
        elif application.status == S.CORRECTIONS:
            note = notes.get(application.pk, "")
            detail = _(
                "L'instruction vous demande des compléments : modifiez le dossier puis déposez-le à nouveau."
            )
            if note:
                detail += " " + _("Points à reprendre : %(points)s") % {
                    "points": Truncator(" ".join(note.split())).chars(300)
                }
            steps.setdefault(application.pk, []).append(
                NextStep(
                    label=_("Compléments demandés"),
                    detail=detail,
                    url=url,
                    action=_("Répondre aux compléments"),
                )
            )
    return steps


def applicant_next_steps(user: User) -> list[DossierSteps]:
    """Per dossier of the user (those they may see), what is expected next, most urgent first.

    Queries: the dossiers (one, with their call), the corrections' notes (one), then each
    registered provider's own fixed number (grants: three). Never one per dossier.
    """
    applications = list(
        applications_visible_to(user)
        .exclude(status__in=(S.WITHDRAWN, S.REFUSED, S.CLOSED))
        .select_related("call")
        .order_by("-updated_at")
    )
    if not applications:
        return []
    found: dict[int, list[NextStep]] = _dossier_steps(user, applications)
    for provider in _applicant_providers.values():
        for application_id, steps in provider(user, applications).items():
            found.setdefault(application_id, []).extend(steps)
    result = [
        DossierSteps(application=application, steps=found[application.pk])
        for application in applications
        if found.get(application.pk)
    ]
    # Overdue first, then what the user can do now, then what waits; by date within each.
    for dossier in result:
        dossier.steps.sort(key=lambda step: (not step.overdue, step.waiting, step.due or date.max))
    result.sort(
        key=lambda dossier: (not any(step.overdue for step in dossier.steps), dossier.steps[0].waiting)
    )
    return result


# --- the staff -------------------------------------------------------------------------------------


def limited(queryset: QuerySet[Any]) -> tuple[list[Any], int]:
    """The first GROUP_LIMIT rows and the total, in one query (a window count)."""
    rows = list(queryset.annotate(todo_total=Window(expression=Count("pk")))[:GROUP_LIMIT])
    return rows, (rows[0].todo_total if rows else 0)


def _review_url(application: Application) -> str:
    return reverse("applications:review-detail", args=[application.reference])


def _assigned_not_scored(user: User) -> TodoGroup:
    assignments = (
        Assignment.objects.filter(
            instructor=user,
            conflict_of_interest=False,
            scores_submitted_at__isnull=True,
            application__in=applications_reviewable_by(user).filter(status__in=UNDECIDED),
        )
        .select_related("application")
        .order_by("assigned_at", "pk")
    )
    rows, total = limited(assignments)
    items = [
        TodoItem(
            reference=row.application.reference,
            title=row.application.title,
            detail=_("Affecté le %(date)s.") % {"date": format_date(timezone.localdate(row.assigned_at))},
            url=_review_url(row.application),
            action=_("Noter « %(title)s »") % {"title": row.application.title},
        )
        for row in rows
    ]
    return TodoGroup("assigned", gettext_lazy("Dossiers qui vous sont affectés, à noter"), items, total)


def _to_assign(user: User) -> TodoGroup:
    """Dossiers submitted in the user's scope that no instructor has taken yet, oldest first."""
    anyone = Assignment.objects.filter(application=OuterRef("pk"))
    dossiers = (
        applications_reviewable_by(user)
        .filter(status=S.SUBMITTED)
        .filter(~Exists(anyone))
        .order_by("submitted_at", "pk")
    )
    rows, total = limited(dossiers)
    items = [
        TodoItem(
            reference=row.reference,
            title=row.title,
            detail=_("Déposé le %(date)s.") % {"date": format_date(row.submitted_at)}
            if row.submitted_at
            else _("Déposé."),
            url=_review_url(row),
            action=_("Affecter « %(title)s »") % {"title": row.title},
        )
        for row in rows
    ]
    return TodoGroup("to_assign", gettext_lazy("Dossiers déposés à affecter"), items, total)


def _scored_to_decide(user: User) -> TodoGroup:
    """Dossiers in review whose every instructor (conflicts aside) has handed in their scores.

    No decision is taken yet while the dossier is in review; an instructor sees those they scored.
    """
    reviewers = Assignment.objects.filter(application=OuterRef("pk"), conflict_of_interest=False)
    pending = reviewers.filter(scores_submitted_at__isnull=True)
    last_scores = reviewers.order_by("-scores_submitted_at", "-pk").values("scores_submitted_at")[:1]
    dossiers = (
        applications_reviewable_by(user)
        .filter(status=S.IN_REVIEW)
        .filter(Exists(reviewers), ~Exists(pending))
    )
    if not has_role(user, Role.ADMIN):
        dossiers = dossiers.filter(Exists(reviewers.filter(instructor=user)))
    dossiers = dossiers.annotate(scored_at=Subquery(last_scores)).order_by("scored_at", "pk")
    rows, total = limited(dossiers)
    items = [
        TodoItem(
            reference=row.reference,
            title=row.title,
            detail=_("Dernière notation remise le %(date)s.") % {"date": format_date(row.scored_at)},
            url=_review_url(row),
            action=_("Décider de « %(title)s »") % {"title": row.title},
        )
        for row in rows
    ]
    return TodoGroup("to_decide", gettext_lazy("Notations remises, décision à prendre"), items, total)


def _scoped_to_me(user: User, queryset: QuerySet[Application]) -> QuerySet[Application]:
    """An instructor's share of the territory's dossiers: those assigned to them, or to no one."""
    if has_role(user, Role.ADMIN):
        return queryset
    mine = Assignment.objects.filter(application=OuterRef("pk"), instructor=user, conflict_of_interest=False)
    anyone = Assignment.objects.filter(application=OuterRef("pk"))
    return queryset.filter(Q(Exists(mine)) | ~Q(Exists(anyone)))


def _corrections_answered(user: User) -> TodoGroup:
    """In review again after corrections: the dossier's last submission followed a request."""
    last_submission = StatusChange.objects.filter(application=OuterRef("pk"), to_status=S.SUBMITTED).order_by(
        "-at", "-pk"
    )
    dossiers = (
        _scoped_to_me(user, applications_reviewable_by(user).filter(status=S.IN_REVIEW))
        .annotate(
            resubmitted_from=Subquery(last_submission.values("from_status")[:1]),
            resubmitted_at=Subquery(last_submission.values("at")[:1]),
        )
        .filter(resubmitted_from=S.CORRECTIONS)
        .order_by("resubmitted_at", "pk")
    )
    rows, total = limited(dossiers)
    items = [
        TodoItem(
            reference=row.reference,
            title=row.title,
            detail=_("Compléments déposés le %(date)s.")
            % {"date": format_date(timezone.localdate(row.resubmitted_at))},
            url=_review_url(row),
            action=_("Examiner les compléments de « %(title)s »") % {"title": row.title},
        )
        for row in rows
    ]
    return TodoGroup("corrections", gettext_lazy("Compléments reçus"), items, total)


def _opinions_received(user: User) -> TodoGroup:
    """Opinions given on dossiers still undecided; an instructor sees those they asked for."""
    opinions = Opinion.objects.filter(
        given_at__isnull=False,
        application__in=applications_reviewable_by(user).filter(status__in=UNDECIDED),
    )
    if not has_role(user, Role.ADMIN):
        opinions = opinions.filter(requested_by=user)
    rows, total = limited(opinions.select_related("application").order_by("given_at", "pk"))
    items = [
        TodoItem(
            reference=row.application.reference,
            title=row.application.title,
            detail=_("Avis « %(verdict)s » de %(service)s, rendu le %(date)s.")
            % {
                "verdict": row.get_verdict_display(),
                "service": row.organisation_name,
                "date": format_date(timezone.localdate(row.given_at)),
            },
            url=_review_url(row.application),
            action=_("Lire l'avis sur « %(title)s »") % {"title": row.application.title},
        )
        for row in rows
    ]
    return TodoGroup("opinions", gettext_lazy("Avis reçus"), items, total)


def staff_todo(user: User) -> list[TodoGroup]:
    """What waits for an instructor or a programme admin, every group scoped to what they may see.

    One query per group (rows and total together), whatever the number of dossiers; empty groups
    are left out.
    """
    if not (has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)):
        return []
    groups = [
        _to_assign(user),
        _assigned_not_scored(user),
        _scored_to_decide(user),
        _corrections_answered(user),
        _opinions_received(user),
    ]
    for provider in _staff_providers.values():
        groups.extend(provider(user))
    return [group for group in groups if group.total]
