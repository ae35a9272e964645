"""The review workspace: the dossiers of the user's territory, in tabs, filtered, sorted, paginated.

The page runs a fixed number of SQL queries whatever its size; its queries are the selectors'
(`workspace_filtered`, `workspace_tab_counts`, `workspace_rows` in applications.selectors).
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from accounts.permissions import role_required
from accounts.roles import has_role
from applications.forms_labels import label_options
from applications.forms_workspace import (
    DEFAULT_PER_PAGE,
    DEFAULT_SORT,
    SAVED_QUERY_EXTRA,
    SavedViewForm,
    saved_query,
    workspace_filter_choices,
)
from applications.models import Application
from applications.next_steps import staff_todo
from applications.selectors import (
    application_overdue,
    saved_view_tabs,
    workspace_filtered,
    workspace_rows,
    workspace_tab_counts,
)
from core.formatting import format_date, french_sorted
from core.page_cache import cached_page
from core.pagination import CountedPaginator, pagination_context
from core.templatetags.portal import status_badge
from fabriques.selectors import instructor_scopes

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


def current_tab(request: HttpRequest, filters: dict[str, Any]) -> Tab:
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


def _labels_html(application: Any) -> str:
    """The dossier's labels as small badges of their colours (`label_list`, when the rows were read
    with their labels)."""
    labels = getattr(application, "label_list", None)
    if not labels:
        return ""
    badges = "".join(
        f'<li><span class="fr-badge fr-badge--sm {escape(label.badge_class)}">'
        f"{escape(label.name)}</span></li>"
        for label in labels
    )
    return f'<ul class="fr-badges-group fr-mt-1v" aria-label="{escape(_("Étiquettes"))}">{badges}</ul>'


def _row_html(application: Any, *, show_rank: bool) -> str:
    """One row of the table: the bytes the template's loop wrote for it (tests/applications/
    test_workspace_rows.py compares them), each value escaped as the template escaped it."""
    out = ["\n                <tr>\n                  "]
    if show_rank:
        rank = localize(application.rank) if application.score is not None else "—"
        out.append(f"<td>{conditional_escape(rank)}</td>")
    url = reverse("applications:review-detail", kwargs={"reference": application.reference})
    out.append(
        f'\n                  <td class="portal-nowrap"><a href="{conditional_escape(url)}">'
        f"{escape(application.reference)}</a></td>"
        f"\n                  <td>{escape(application.title)}{_labels_html(application)}</td>"
        "\n                  <td>\n                    "
    )
    members = application.lead_members
    for member in members:
        organisation = member.organisation
        out.append(
            f"\n                      {escape(organisation.name)}"
            f'<br><span class="fr-text--xs portal-nowrap">{escape(_("SIRET"))} '
            f"{escape(organisation.siret_display)}</span>\n                    "
        )
    if not members:
        out.append("—")
    out.append("\n                  </td>\n                  <td>\n                    ")
    departement = application.departement
    if departement:
        out.append(
            f"\n                      {escape(departement.code)} – {escape(departement.name)}"
            "\n                      "
        )
        if not application.departement_has_laureate:
            out.append(
                '<br><span class="fr-badge fr-badge--sm fr-badge--warning fr-badge--no-icon">'
                f"{escape(_('Aucun lauréat dans ce département'))}</span>"
            )
        out.append("\n                    ")
    else:
        out.append("—")
    submitted = escape(format_date(application.submitted_at)) if application.submitted_at else "—"
    overdue = (
        '<br><span class="fr-badge fr-badge--sm fr-badge--error fr-badge--no-icon">'
        f"{escape(_('En retard'))}</span>"
        if getattr(application, "overdue", False)
        else ""
    )
    out.append(
        "\n                  </td>"
        f'\n                  <td><abbr title="{escape(application.get_kind_display())}">'
        f"{escape(application.kind.upper())}</abbr></td>"
        f"\n                  <td>{status_badge(application, small=True)}{overdue}</td>"
        f'\n                  <td class="portal-nowrap">{submitted}</td>'
        '\n                  <td class="portal-nowrap">\n                    '
    )
    if application.score is not None:
        out.append(f"\n                      {floatformat(application.score, 1)}\n                      ")
        if application.score_spread is not None:
            spread = _("écart %(spread)s") % {"spread": floatformat(application.score_spread, 1)}
            out.append(f'<br><span class="fr-text--xs">{spread}</span>')
        out.append("\n                    ")
    else:
        out.append(
            f'<span aria-hidden="true">—</span><span class="fr-sr-only">{escape(_("Pas encore noté"))}</span>'
        )
    out.append("\n                  </td>\n                </tr>\n              ")
    return "".join(out)


def rows_html(applications: Any, *, show_rank: bool) -> SafeString:
    """The table's rows written in Python: a template loop over 25 rows of nine cells (badges,
    links, dates, scores) cost several milliseconds of the page (issue 13)."""
    return mark_safe("".join(_row_html(one, show_rank=show_rank) for one in applications))  # noqa: S308 - escaped above


@role_required(can_use_review_space)
@cached_page
def workspace(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    choices = workspace_filter_choices(user)
    form = choices.bind(request.GET)
    is_admin, labels, listed_departements = choices.is_admin, choices.labels, choices.listed_departements
    filters = form.filters()
    tab = current_tab(request, filters)
    now = timezone.now()

    filtered = workspace_filtered(user, filters, now=now)
    filtered_on = any(
        value not in (None, "", []) for name, value in filters.items() if name not in {"sort", "per_page"}
    )
    counts = workspace_tab_counts(
        user=user, filtered=filtered, filters=filters, tabs={tab_.key: tab_.statuses for tab_ in TABS}
    )

    sort = filters.get("sort") or DEFAULT_SORT
    show_rank = sort in {"score", "-score"} and (
        filters.get("call") is not None or filters.get("wave") is not None
    )
    rows = workspace_rows(filtered, statuses=tab.statuses, sort=sort, ranked=show_rank, labels=bool(labels))

    per_page = filters.get("per_page") or DEFAULT_PER_PAGE
    paginator = CountedPaginator(rows, per_page, count=counts[tab.key])
    page = paginator.get_page(request.GET.get("page"))
    page_rows = list(page.object_list)
    for row in page_rows:
        if hasattr(row, "label_list"):
            row.label_list = french_sorted(row.label_list, key=lambda label: label.name)
        row.overdue = application_overdue(row, now=now)

    tabs = [
        {
            "label": tab_.label,
            "url": _tab_url(request, tab_),
            "count": counts[tab_.key],
            "current": tab_ == tab,
        }
        for tab_ in TABS
    ]
    query = saved_query(request.GET)
    return render(
        request,
        "applications/workspace.html",
        {
            "saved_views": [
                {
                    "name": view.name,
                    "url": reverse("applications:saved-view-open", args=[view.pk]),
                    "current": view.query == query,
                }
                for view in saved_view_tabs(user)
            ],
            # The form to save a view, once some filter or sort is chosen.
            "saved_query": query if set(QueryDict(query)) - set(SAVED_QUERY_EXTRA) else "",
            "save_form": SavedViewForm(),
            "title": _("Instruction"),
            "form": form,
            "tab": {"slug": tab.slug, "label": tab.label},
            "tabs": tabs,
            **pagination_context(page),
            "rows_html": rows_html(page_rows, show_rank=show_rank),
            "labels_field": form["labels"] if labels else None,
            "label_options": label_options(form["labels"]) if labels else [],
            "labels_with_call": len({label.call_id for label in labels}) > 1,
            "show_rank": show_rank,
            "filtered_on": filtered_on,
            "is_admin": is_admin,
            # Programme admins find their to-do on the steering page.
            "todo": [] if is_admin else staff_todo(user),
            "scopes": [] if is_admin else list(instructor_scopes(instructor=user)),
            "departements": listed_departements or [],
        },
    )
