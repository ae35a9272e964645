"""A programme admin moves a submitted dossier to another département: form, recap, confirmation."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.confirmation import Recap, is_confirmed, lines, recap_response, wants_edit
from accounts.models import User
from accounts.permissions import can_use_admin_space, role_required
from applications.forms_territory import TerritoryMoveForm
from applications.models import Application, Message
from applications.selectors import application_territory, applications_reviewable_by, dossier_recipients
from applications.services.territory import (
    application_move_territory,
    territory_move_check,
    territory_recipients,
)
from applications.views.review import review_detail_url
from core.refusals import apply_refusal
from fabriques.models import Departement

TEMPLATE = "applications/review/territory_move.html"


def territory_move_recap(
    application: Application,
    departement: Departement,
    reason: str,
    incoming: list[str],
    outgoing: list[str],
    applicants: list[str],
) -> Recap:
    """What the move does: where the dossier goes, why, who receives it and who loses it."""
    destination = _("%(name)s (%(code)s), région %(region)s") % {
        "name": departement.name,
        "code": departement.code,
        "region": departement.region.name,
    }
    return Recap(
        title=_("Changer le département d'instruction – %(reference)s")
        % {"reference": application.reference},
        intro=_("Vous allez faire instruire le dossier %(reference)s dans le département %(destination)s.")
        % {"reference": application.reference, "destination": destination},
        action_url=reverse("applications:review-territory", kwargs={"reference": application.reference}),
        confirm_label=_("Confirmer le changement de département"),
        lines=lines(
            [
                (_("Nouveau département d'instruction"), destination),
                (_("Motif"), reason.strip()),
                (
                    _("Instructeurs prévenus qui reçoivent le dossier"),
                    ", ".join(incoming) or _("Aucun instructeur n'a ce département dans son périmètre."),
                ),
                (
                    _("Instructeurs prévenus qui perdent l'accès au dossier"),
                    ", ".join(outgoing) or _("Aucun."),
                ),
            ]
        ),
        notified=[
            _("Les instructeurs du nouveau département sont prévenus par courriel : %(emails)s.")
            % {"emails": ", ".join(incoming) or _("aucun")},
            _("Ceux de l'ancien département qui perdent le dossier sont prévenus par courriel : %(emails)s.")
            % {"emails": ", ".join(outgoing) or _("aucun")},
            _("Le porteur de projet est prévenu par courriel, avec le motif : %(emails)s.")
            % {"emails": ", ".join(applicants) or _("aucun")},
        ],
        irreversible=[
            _(
                "Dès la confirmation, le dossier quitte le périmètre des instructeurs de l'ancien territoire "
                "(leurs notes et affectations restent au dossier) et les courriels partent. Le changement "
                "reste inscrit dans l'historique du dossier ; seul un nouveau changement de département "
                "peut le ramener."
            )
        ],
        back_url=review_detail_url(application),
        back_label=_("Annuler"),
    )


@role_required(can_use_admin_space)
@require_http_methods(["GET", "HEAD", "POST"])
def review_territory(request: HttpRequest, reference: str) -> HttpResponse:
    """GET: the form. POST: the recap of what the move does (accounts.confirmation); POST with
    `confirmer`: the move; `modifier`: the form again, filled in."""
    user: User = request.user  # type: ignore[assignment]
    application = get_object_or_404(
        applications_reviewable_by(user).select_related("call", "departement__region"), reference=reference
    )
    form = TerritoryMoveForm(request.POST or None)
    context = {
        "application": application,
        "territory": application_territory(application),
        "form": form,
    }
    if request.method == "POST" and not wants_edit(request) and form.is_valid():
        departement = form.cleaned_data["departement"]
        reason = form.cleaned_data["reason"]
        try:
            if not is_confirmed(request):
                territory_move_check(application=application, departement=departement)
                incoming, outgoing = territory_recipients(old=application.departement, new=departement)
                applicants = dossier_recipients(application, side=Message.Side.APPLICANT)
                recap = territory_move_recap(application, departement, reason, incoming, outgoing, applicants)
                return recap_response(request, recap, template=TEMPLATE, extra=context)
            application_move_territory(
                application=application, departement=departement, reason=reason, actor=user
            )
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(
                request,
                _("Le dossier %(reference)s est désormais instruit dans le département %(departement)s.")
                % {
                    "reference": application.reference,
                    "departement": f"{departement.name} ({departement.code})",
                },
            )
            return redirect(review_detail_url(application))
    return render(
        request,
        TEMPLATE,
        {
            "title": _("Changer le département d'instruction – %(reference)s")
            % {"reference": application.reference},
            "recap": None,
            **context,
        },
    )
