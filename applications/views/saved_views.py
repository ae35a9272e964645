"""Saved views of the instructors' list (« Mes vues »): save the current filters and sort under a
name, open a view (its filters validated again), rename it, delete it after a recap.

A view is its owner's alone: every page fetches it through `saved_views_of(user)`, so another
person's id is a 404. The services check the owner again.
"""

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import localize
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.confirmation import Recap, is_confirmed, lines, recap_response
from accounts.models import User
from accounts.permissions import role_required
from applications.forms_workspace import (
    SavedViewForm,
    SavedViewRenameForm,
    WorkspaceFilterForm,
    saved_query_cleaned,
    workspace_filter_choices,
)
from applications.models import SavedView
from applications.selectors import saved_view_tabs, saved_views_of
from applications.services.saved_views import saved_view_create, saved_view_delete, saved_view_rename
from applications.views.workspace import TABS_BY_SLUG, can_use_review_space
from core.refusals import apply_refusal

review_space_required = role_required(can_use_review_space)
WORKSPACE = "applications:instructor-home"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _saved_view(request: HttpRequest, view_id: int) -> SavedView:
    return get_object_or_404(saved_views_of(_user(request)), pk=view_id)


def _list_url() -> str:
    return reverse("applications:saved-view-list")


def _shown(value: Any, field: Any, raw: list[str]) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, Decimal):
        return str(localize(value))
    choices = {str(key): str(label) for key, label in getattr(field, "choices", [])}
    return choices.get(raw[0], str(value)) if raw else str(value)


def query_summary(form: WorkspaceFilterForm) -> list[tuple[str, str]]:
    """The tab and each filter a view applies, as (a label, its value as the list shows it)."""
    summary = []
    tab = TABS_BY_SLUG.get(form.data.get("tab", ""))
    if tab is not None:
        summary.append((_("Onglet"), str(tab.label)))
    for name, field in form.fields.items():
        value = form.cleaned_data.get(name)
        if value in (None, "", []):
            continue
        raw = form.data.getlist(name) if isinstance(form.data, QueryDict) else []
        summary.append((str(field.label), _shown(value, field, raw)))
    return summary


@review_space_required
def saved_view_list(request: HttpRequest) -> HttpResponse:
    """The user's views, each with its filters, to open, rename or delete."""
    user = _user(request)
    rows: list[dict[str, Any]] = []
    views = saved_view_tabs(user)
    if views:
        # The form's choices are read once, then bound to each view's filters.
        choices = workspace_filter_choices(user)
        rows = [
            {"view": view, "summary": query_summary(choices.bind(QueryDict(view.query)))} for view in views
        ]
    return render(
        request, "applications/saved_views/saved_view_list.html", {"title": _("Mes vues"), "views": rows}
    )


@review_space_required
@require_POST
def saved_view_create_view(request: HttpRequest) -> HttpResponse:
    """Save the list's current filters and sort (a hidden field) under the name given."""
    form = SavedViewForm(request.POST)
    if form.is_valid():
        try:
            view = saved_view_create(
                name=form.cleaned_data["name"], query=form.cleaned_data["query"], actor=_user(request)
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(
                request,
                _("La vue « %(name)s » est enregistrée : retrouvez-la dans « Mes vues ».")
                % {"name": view.name},
            )
            return redirect(f"{reverse(WORKSPACE)}?{view.query}")
    return render(
        request,
        "applications/saved_views/saved_view_create.html",
        {"title": _("Enregistrer la vue"), "form": form, "query": form.data.get("query", "")},
    )


@review_space_required
def saved_view_open(request: HttpRequest, view_id: int) -> HttpResponse:
    """The list with the view's filters, validated again: a label or an instructor gone since the
    view was saved is dropped, and said."""
    view = _saved_view(request, view_id)
    form = workspace_filter_choices(_user(request)).bind(QueryDict(view.query))
    query, dropped = saved_query_cleaned(view.query, form)
    for label in dropped:
        messages.warning(
            request,
            _(
                "Le filtre « %(filter)s » de la vue « %(name)s » ne s'applique plus (une étiquette ou "
                "un instructeur n'est plus proposé) : il est ignoré. Enregistrez la vue à nouveau pour "
                "la mettre à jour."
            )
            % {"filter": label, "name": view.name},
        )
    return redirect(f"{reverse(WORKSPACE)}?{query}" if query else reverse(WORKSPACE))


@review_space_required
@require_http_methods(["GET", "HEAD", "POST"])
def saved_view_rename_view(request: HttpRequest, view_id: int) -> HttpResponse:
    view = _saved_view(request, view_id)
    form = SavedViewRenameForm(request.POST or None, initial={"name": view.name})
    if request.method == "POST" and form.is_valid():
        try:
            view = saved_view_rename(saved_view=view, name=form.cleaned_data["name"], actor=_user(request))
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(request, _("La vue s'appelle désormais « %(name)s ».") % {"name": view.name})
            return redirect(_list_url())
    return render(
        request,
        "applications/saved_views/saved_view_rename.html",
        {"title": _("Renommer la vue « %(name)s »") % {"name": view.name}, "view": view, "form": form},
    )


def saved_view_delete_recap(view: SavedView, summary: list[tuple[str, str]]) -> Recap:
    return Recap(
        title=_("Supprimer la vue « %(name)s »") % {"name": view.name},
        intro=_("Vous allez supprimer votre vue « %(name)s ». Les dossiers ne sont pas modifiés.")
        % {"name": view.name},
        action_url=reverse("applications:saved-view-delete", args=[view.pk]),
        confirm_label=_("Confirmer la suppression"),
        lines=lines([(_("Vue"), view.name), *summary]),
        notified=[_("Personne n'est prévenu par courriel.")],
        irreversible=[_("La vue disparaît de « Mes vues » ; ses filtres ne sont pas conservés.")],
        can_edit=False,
        back_url=_list_url(),
        back_label=_("Annuler"),
    )


@review_space_required
@require_POST
def saved_view_delete_view(request: HttpRequest, view_id: int) -> HttpResponse:
    """POST: the recap (the view's filters); POST with `confirmer`: the deletion."""
    view = _saved_view(request, view_id)
    if not is_confirmed(request):
        summary = query_summary(workspace_filter_choices(_user(request)).bind(QueryDict(view.query)))
        return recap_response(request, saved_view_delete_recap(view, summary))
    name = view.name
    saved_view_delete(saved_view=view, actor=_user(request))
    messages.success(request, _("La vue « %(name)s » est supprimée.") % {"name": name})
    return redirect(_list_url())
