"""The amounts a call's envelope delegates to régions and départements (programme admins), set
after a recap of every change: `grants.services.envelope.sub_envelopes_set` holds the rules."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from accounts.confirmation import Recap, is_confirmed, lines, recap_response, wants_edit
from applications.models import Call
from core.formatting import format_money
from core.refusals import apply_refusal
from fabriques.models import Departement, Region
from grants.forms.sub_envelopes import SubEnvelopesForm
from grants.models import SubEnvelope
from grants.services.sub_envelopes import SubEnvelopePlan, sub_envelopes_preview, sub_envelopes_set
from grants.views.common import admin_required, user_of


def _amount(value: object) -> str:
    return format_money(value) if value is not None else _("aucune")  # type: ignore[arg-type]


def sub_envelopes_recap(call: Call, plan: SubEnvelopePlan) -> Recap:
    rows = [
        (
            change.label,
            _amount(change.before),
            _amount(change.after),
            format_money(change.committed),
            _("supprimée : ce qui y est engagé reste compté sur l'enveloppe de l'appel")
            if change.after is None
            else (_("créée") if change.before is None else _("modifiée")),
        )
        for change in plan.changes
    ]
    return Recap(
        title=_("Confirmer les enveloppes déléguées — %(call)s") % {"call": call.title},
        intro=ngettext(
            "Vous allez modifier %(count)d enveloppe déléguée de l'appel « %(call)s ».",
            "Vous allez modifier %(count)d enveloppes déléguées de l'appel « %(call)s ».",
            len(plan.changes),
        )
        % {"count": len(plan.changes), "call": call.title},
        action_url=reverse("grants:sub-envelopes", kwargs={"slug": call.slug}),
        confirm_label=_("Enregistrer les enveloppes déléguées"),
        lines=lines(
            [
                (_("Enveloppe de l'appel"), format_money(plan.envelope)),
                (_("Total délégué aux régions"), format_money(plan.regions_total)),
                (_("Non délégué"), format_money(plan.envelope - plan.regions_total)),
            ]
        ),
        table_caption=_("Enveloppes modifiées"),
        table_header=(
            _("Territoire"),
            _("Montant actuel"),
            _("Nouveau montant"),
            _("Déjà engagé"),
            _("Changement"),
        ),
        table_rows=rows,
        irreversible=[
            _(
                "Les attributions suivantes seront refusées au-delà de l'enveloppe déléguée à la région "
                "ou au département du dossier, comme au-delà de l'enveloppe de l'appel."
            )
        ],
    )


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def sub_envelopes_view(request: HttpRequest, slug: str) -> HttpResponse:
    call = get_object_or_404(Call, slug=slug)
    subs = list(SubEnvelope.objects.filter(call=call))
    names = {
        sub.pk: f"departement_{sub.departement_id}" if sub.departement_id else f"region_{sub.region_id}"
        for sub in subs
    }
    form = SubEnvelopesForm(
        # An empty post (every field left empty, nothing delegated before) is a post all the same.
        request.POST if request.method == "POST" else None,
        initial={names[sub.pk]: sub.amount for sub in subs},
        committed={names[sub.pk]: sub.committed_amount for sub in subs},
        regions=list(Region.objects.all()),
        departements=list(Departement.objects.all()),
    )
    if request.method == "POST" and form.is_valid() and not wants_edit(request):
        regions, departements = form.amounts()
        actor = user_of(request)
        try:
            if is_confirmed(request):
                sub_envelopes_set(call=call, regions=regions, departements=departements, actor=actor)
                messages.success(
                    request,
                    _("Les enveloppes déléguées de l'appel « %(call)s » sont enregistrées.")
                    % {"call": call.title},
                )
                dashboard = reverse("grants:dashboard", kwargs={"slug": call.slug})
                return redirect(f"{dashboard}#enveloppes-deleguees")
            plan = sub_envelopes_preview(call=call, regions=regions, departements=departements, actor=actor)
            if plan.changes:
                return recap_response(request, sub_envelopes_recap(call, plan))
            form.add_error(None, _("Aucun montant n'a changé."))
        except ValidationError as error:
            apply_refusal(form, error)
    return render(
        request,
        "grants/dashboard/sub_envelopes.html",
        {
            "title": _("Enveloppes déléguées — %(call)s") % {"call": call.title},
            "call": call,
            "form": form,
            "regions_total": sum((sub.amount for sub in subs if not sub.departement_id), Decimal("0")),
        },
    )
