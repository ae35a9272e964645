"""The review workspace: the dossiers of the user's territory, in tabs, filtered, sorted, paginated.

The page runs a fixed number of SQL queries whatever its size: the lead structure is prefetched,
the coverage of each dossier's département is an `Exists` annotation and the tabs are counted by
one query: on the dossier counts kept by the database (`DossierCount`) when nothing is filtered,
else one aggregate over the filtered dossiers.
"""

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Window
from django.db.models.functions import Rank
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise, cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from accounts.permissions import role_required
from accounts.roles import has_role
from applications.forms_workspace import DEFAULT_PER_PAGE, DEFAULT_SORT, WorkspaceFilterForm
from applications.models import Application, Member
from applications.next_steps import staff_todo
from applications.selectors import applications_reviewable_by, reviewable_counts_by_status
from fabriques.models import Departement
from fabriques.selectors import departements_in_scope, instructor_scopes

S = Application.Status


def can_use_review_space(user: User | AnonymousUser) -> bool:
    """Instructors review their territory; programme admins use the same workspace for all."""
    return has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)


@dataclass(frozen=True)
class Tab:
    slug: str
    label: str | Promise
    statuses: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.slug.replace("-", "_")


TABS: tuple[Tab, ...] = (
    Tab("a-instruire", gettext_lazy("À instruire"), (S.SUBMITTED,)),
    Tab("en-instruction", gettext_lazy("En instruction"), (S.IN_REVIEW, S.CORRECTIONS)),
    # A dossier withdrawn after submission is settled too: it is listed with the decided ones.
    Tab("decides", gettext_lazy("Décidés ou retirés"), (S.AWARDED, S.REFUSED, S.CLOSED, S.WITHDRAWN)),
)
TABS_BY_SLUG = {tab.slug: tab for tab in TABS}

SORT_KEYS: dict[str, list[Any]] = {
    "submitted": [F("submitted_at").asc(nulls_last=True), "reference"],
    "-submitted": [F("submitted_at").desc(nulls_last=True), "-reference"],
    "score": [F("score").asc(nulls_last=True), "reference"],
    "-score": [F("score").desc(nulls_last=True), "reference"],
    "reference": ["reference"],
    "-reference": ["-reference"],
    "departement": [F("departement_id").asc(nulls_last=True), "reference"],
    "-departement": [F("departement_id").desc(nulls_last=True), "reference"],
}

SPACES = re.compile(r"\s+")


class CountedPaginator(Paginator):
    """A paginator told its count: the tabs' aggregate already counted the rows, once."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def _search(queryset: QuerySet[Application], text: str) -> QuerySet[Application]:
    """Title, reference, the lead structure's name, and its SIRET typed with or without spaces."""
    text = text.strip()
    if not text:
        return queryset
    lead_matches = Q(organisation__name__icontains=text)
    compact = SPACES.sub("", text)
    if compact.isdigit():
        lead_matches |= Q(organisation__siret__contains=compact)
    lead = Member.objects.filter(lead_matches, application=OuterRef("pk"), is_lead=True)
    return queryset.filter(Q(title__icontains=text) | Q(reference__icontains=compact) | Q(Exists(lead)))


def _filter(queryset: QuerySet[Application], filters: dict[str, Any]) -> QuerySet[Application]:
    if filters.get("departement") is not None:
        queryset = queryset.filter(departement=filters["departement"])
    if filters.get("zone"):
        places = Application.places.through.objects.filter(
            application=OuterRef("pk"), tierslieu__zone=filters["zone"]
        )
        queryset = queryset.filter(Exists(places))
    if filters.get("kind"):
        queryset = queryset.filter(kind=filters["kind"])
    if filters.get("call") is not None:
        queryset = queryset.filter(call=filters["call"])
    if filters.get("wave") is not None:
        queryset = queryset.filter(wave=filters["wave"])
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("score_min") is not None:
        queryset = queryset.filter(score__gte=filters["score_min"])
    if filters.get("score_max") is not None:
        queryset = queryset.filter(score__lte=filters["score_max"])
    if filters.get("q"):
        queryset = _search(queryset, filters["q"])
    return queryset


def _current_tab(request: HttpRequest, filters: dict[str, Any]) -> Tab:
    """The tab of the state filtered on, else the tab asked for, else the first."""
    status = filters.get("status")
    if status:
        return next(tab for tab in TABS if status in tab.statuses)
    return TABS_BY_SLUG.get(request.GET.get("tab", ""), TABS[0])


def _tab_url(request: HttpRequest, tab: Tab) -> str:
    """The tab's link keeps the filters, except the page and a state that belongs to another tab."""
    params = request.GET.copy()
    params.pop("page", None)
    if params.get("status") not in tab.statuses:
        params.pop("status", None)
    params["tab"] = tab.slug
    return f"?{params.urlencode()}"


@role_required(can_use_review_space)
def workspace(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    is_admin = has_role(user, Role.ADMIN)
    departements: QuerySet[Departement] = (
        Departement.objects.order_by("code") if is_admin else departements_in_scope(instructor=user)
    )

    form = WorkspaceFilterForm(request.GET, departements=departements)
    form.is_valid()  # invalid filters show their error and are left out; never a 500
    filters = form.filters()
    tab = _current_tab(request, filters)

    filtered = _filter(applications_reviewable_by(user), filters)
    filtered_on = any(
        value not in (None, "") for name, value in filters.items() if name not in {"sort", "per_page"}
    )
    if filtered_on:
        counts = filtered.aggregate(
            **{tab_.key: Count("pk", filter=Q(status__in=tab_.statuses)) for tab_ in TABS}
        )
    else:
        # Unfiltered, the tabs read the dossier counts kept by the database: a few rows per call,
        # département and state instead of every dossier of the territory.
        by_status = reviewable_counts_by_status(user)
        counts = {tab_.key: sum(by_status.get(status, 0) for status in tab_.statuses) for tab_ in TABS}

    sort = filters.get("sort") or DEFAULT_SORT
    show_rank = sort in {"score", "-score"} and (
        filters.get("call") is not None or filters.get("wave") is not None
    )
    laureate_here = Application.objects.filter(departement=OuterRef("departement"), status=S.AWARDED)
    lead = Member.objects.filter(is_lead=True).select_related("organisation")
    rows = (
        filtered.filter(status__in=tab.statuses)
        .select_related("departement", "call", "wave")
        .prefetch_related(Prefetch("members", queryset=lead, to_attr="lead_members"))
        .annotate(departement_has_laureate=Exists(laureate_here))
        .order_by(*SORT_KEYS[sort])
    )
    if show_rank:
        rows = rows.annotate(rank=Window(expression=Rank(), order_by=F("score").desc(nulls_last=True)))

    per_page = filters.get("per_page") or DEFAULT_PER_PAGE
    paginator = CountedPaginator(rows, per_page, count=counts[tab.key])
    page = paginator.get_page(request.GET.get("page"))

    tabs = [
        {
            "label": tab_.label,
            "url": _tab_url(request, tab_),
            "count": counts[tab_.key],
            "current": tab_ == tab,
        }
        for tab_ in TABS
    ]
    return render(
        request,
        "applications/workspace.html",
        {
            "title": _("Instruction"),
            "form": form,
            "tab": {"slug": tab.slug, "label": tab.label},
            "tabs": tabs,
            "page_obj": page,
            "page_range": list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
            "ellipsis": Paginator.ELLIPSIS,
            "show_rank": show_rank,
            "filtered_on": filtered_on,
            "is_admin": is_admin,
            # Programme admins find their to-do on the steering page.
            "todo": [] if is_admin else staff_todo(user),
            "scopes": [] if is_admin else list(instructor_scopes(instructor=user)),
            "departements": [] if is_admin else list(departements),
        },
    )
