"""Reads of the grant agreements: always through the dossiers the user may see."""

from django.core.paginator import Page
from django.db.models import Prefetch, QuerySet

from accounts.models import User
from applications.selectors import visibility_condition
from core.pagination import CountedPaginator
from grants.models import Agreement, AgreementStatusChange, Amendment, Tranche


def agreements_visible_to(user: User) -> QuerySet[Agreement]:
    """The agreements of the dossiers the user may see: any other number is a 404."""
    return Agreement.objects.filter(visibility_condition(user, "grant__application__"))


def agreement_list_for(user: User) -> QuerySet[Agreement]:
    """The list page's rows, newest first (the page paginates them: no row is left out)."""
    return (
        agreements_visible_to(user)
        .select_related("grant__application", "grant__call")
        .order_by("-created_at", "-pk")
    )


def agreement_list_page(*, user: User, number: str | None, per_page: int) -> Page[Agreement]:
    """One page of the list and how many rows in all, in two queries: a count (narrow: the
    agreements' visibility only) and the page, read newest first from the index on the creation
    date. One query with a window count was tried: it joins and sorts every visible agreement's
    wide rows to keep 25 (docs/performance.md). A number that is not a page gives the first; one
    past the end, the last (as `Paginator.get_page`)."""
    queryset = agreement_list_for(user)
    total = agreements_visible_to(user).count()
    paginator = CountedPaginator(queryset, per_page, count=total)
    try:
        wanted = max(int(number or 1), 1)
    except ValueError:
        wanted = 1
    wanted = min(wanted, paginator.num_pages)
    start = (wanted - 1) * per_page
    return Page(list(queryset[start : start + per_page]), wanted, paginator)


def agreement_page_queryset(user: User) -> QuerySet[Agreement]:
    """Everything the agreement's page shows, in a fixed number of queries."""
    return (
        agreements_visible_to(user)
        .select_related("grant__application__call", "document", "accepted_by")
        .prefetch_related(
            "grant__application__members__organisation__memberships__user",
            Prefetch("grant__tranches", queryset=Tranche.objects.order_by("year_index")),
            Prefetch(
                "grant__amendments", queryset=Amendment.objects.select_related("document", "decided_by")
            ),
            Prefetch("status_changes", queryset=AgreementStatusChange.objects.select_related("actor")),
        )
    )
