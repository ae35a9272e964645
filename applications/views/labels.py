"""Labels: the programme admins' page of a call's labels (list, create, rename or recolour, delete
after a recap), and the instruction's form that sets a dossier's labels.

Labels are the instruction's: no applicant page shows them. The services check who acts again.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.confirmation import Recap, is_confirmed, lines, recap_response
from accounts.models import User
from accounts.permissions import can_use_admin_space, role_required
from applications.forms_labels import ApplicationLabelsForm, LabelForm
from applications.models import Call, Label, LabelColour
from applications.selectors import application_label_panel, call_labels
from applications.services.labels import (
    application_labels_set,
    label_create,
    label_delete,
    label_dossier_count,
    label_update,
)
from applications.views.review import review_form_action, review_required, reviewable_application
from core.refusals import apply_refusal

admin_required = role_required(can_use_admin_space)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _call(slug: str) -> Call:
    return get_object_or_404(Call, slug=slug)


def _label(call: Call, label_id: int) -> Label:
    return get_object_or_404(Label.objects.select_related("call"), call=call, pk=label_id)


def _list_url(call: Call) -> str:
    return reverse("applications:label-list", kwargs={"slug": call.slug})


def _list_page(request: HttpRequest, call: Call, form: LabelForm) -> HttpResponse:
    return render(
        request,
        "applications/labels/label_list.html",
        {
            "title": _("Étiquettes – %(call)s") % {"call": call.title},
            "call": call,
            "labels": call_labels(call.pk),
            "form": form,
            "colour_options": form.colour_options(),
        },
    )


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def label_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The call's labels with the number of dossiers carrying each, and the form of a new one."""
    call = _call(slug)
    form = LabelForm(request.POST or None, initial={"colour": LabelColour.BLUE_ECUME})
    if request.method == "POST" and form.is_valid():
        try:
            label = label_create(
                call=call,
                name=form.cleaned_data["name"],
                colour=form.cleaned_data["colour"],
                actor=_user(request),
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(request, _("L'étiquette « %(name)s » est créée.") % {"name": label.name})
            return redirect(_list_url(call))
    return _list_page(request, call, form)


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def label_update_view(request: HttpRequest, slug: str, label_id: int) -> HttpResponse:
    """Rename or recolour a label; the dossiers that carry it keep it."""
    call = _call(slug)
    label = _label(call, label_id)
    form = LabelForm(request.POST or None, initial={"name": label.name, "colour": label.colour})
    if request.method == "POST" and form.is_valid():
        try:
            label = label_update(
                label=label,
                name=form.cleaned_data["name"],
                colour=form.cleaned_data["colour"],
                actor=_user(request),
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(request, _("L'étiquette « %(name)s » est enregistrée.") % {"name": label.name})
            return redirect(_list_url(call))
    return render(
        request,
        "applications/labels/label_update.html",
        {
            "title": _("Modifier l'étiquette « %(name)s »") % {"name": label.name},
            "call": call,
            "label": label,
            "form": form,
            "colour_options": form.colour_options(),
        },
    )


def label_delete_recap(call: Call, label: Label, count: int) -> Recap:
    """What deleting does: the label leaves the dossiers that carry it, said with their number."""
    carried = (
        ngettext(
            "Elle est portée par %(count)d dossier : elle lui sera retirée.",
            "Elle est portée par %(count)d dossiers : elle leur sera retirée.",
            count,
        )
        % {"count": count}
        if count
        else _("Aucun dossier ne la porte.")
    )
    return Recap(
        title=_("Supprimer l'étiquette « %(name)s »") % {"name": label.name},
        intro=_("Vous allez supprimer l'étiquette « %(name)s » de l'appel « %(call)s ». %(carried)s")
        % {"name": label.name, "call": call.title, "carried": carried},
        action_url=reverse("applications:label-delete", kwargs={"slug": call.slug, "label_id": label.pk}),
        confirm_label=_("Confirmer la suppression"),
        lines=lines(
            [
                (_("Étiquette"), label.name),
                (_("Couleur"), label.get_colour_display()),
                (_("Dossiers qui la portent"), str(count)),
            ]
        ),
        notified=[_("Personne n'est prévenu par courriel.")],
        irreversible=[
            _(
                "L'étiquette disparaît de l'appel et de chacun des dossiers qui la portent ; "
                "la recréer ne la remettra pas sur ces dossiers."
            )
        ],
        can_edit=False,
        back_url=reverse("applications:label-list", kwargs={"slug": call.slug}),
        back_label=_("Annuler"),
    )


@admin_required
@require_POST
def label_delete_view(request: HttpRequest, slug: str, label_id: int) -> HttpResponse:
    """POST: the recap (how many dossiers carry the label); POST with `confirmer`: the deletion."""
    call = _call(slug)
    label = _label(call, label_id)
    if not is_confirmed(request):
        return recap_response(request, label_delete_recap(call, label, label_dossier_count(label)))
    name = label.name
    count = label_delete(label=label, actor=_user(request))
    messages.success(
        request,
        ngettext(
            "L'étiquette « %(name)s » est supprimée ; elle est retirée de %(count)d dossier.",
            "L'étiquette « %(name)s » est supprimée ; elle est retirée de %(count)d dossiers.",
            count,
        )
        % {"name": name, "count": count},
    )
    return redirect(_list_url(call))


@review_required
@require_POST
def review_labels(request: HttpRequest, reference: str) -> HttpResponse:
    """The labels an instructor (or an admin) ticks on the dossier's instruction page."""
    application = reviewable_application(request, reference)
    form = ApplicationLabelsForm(request.POST, labels=application_label_panel(application))
    return review_form_action(
        request,
        application,
        form,
        bound_as="labels_form",
        act=lambda: application_labels_set(
            application=application, labels=form.cleaned_data["labels"], actor=_user(request)
        ),
        success=lambda labels: (
            _("Les étiquettes du dossier sont enregistrées : %(names)s.")
            % {"names": ", ".join(label.name for label in labels)}
            if labels
            else _("Le dossier ne porte plus aucune étiquette.")
        ),
        anchor="etiquettes",
    )
