"""Staff lists are paginated, never cut at a fixed number of rows: the paginator and the context of
the DSFR pagination component (templates/components/pagination.html)."""

from typing import Any

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property


class CountedPaginator(Paginator[Any]):
    """A paginator told its count: the page's own query already counted the rows (an aggregate or a
    window count), so it does not run a COUNT of its own."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


def pagination_context(page: Page[Any]) -> dict[str, Any]:
    """What components/pagination.html reads: the page, the numbers to link (elided) and the
    ellipsis that stands for the others."""
    paginator = page.paginator
    return {
        "page_obj": page,
        "page_range": list(paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)),
        "ellipsis": Paginator.ELLIPSIS,
    }
