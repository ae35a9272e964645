"""The scenarios' pages (programme admins): the list of a call's scenarios, computing one,
composing one from the ranked list, a scenario, and its comparison with the ranking or another.

Thin: each reads through the selectors, validates with a form, calls one service and shows its
refusal next to the field. The comparison draws its maps and bars on the server (`grants.charts`,
the dashboard's writers), each followed by a table of the same figures. The pages that only show
(the list, a scenario, a comparison) are kept per user until any write (`core.page_cache`): a
comparison with the ranking reads every candidate again.
"""

from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from accounts.forms import MoneyField
from accounts.permissions import can_use_admin_space, role_required
from allocation import solver
from allocation.forms import ScenarioAgendaForm, ScenarioBuildForm, ScenarioComputeForm
from allocation.models import Scenario
from allocation.selectors import (
    budget_groups_for,
    candidate_rows,
    comparison,
    problem_for_call,
    remaining_target,
    scenario_items,
    selection_of,
    selection_of_solution,
)
from allocation.services import scenario_build, scenario_compute_request, scenario_problem, scenario_to_agenda
from applications.models import Call, Wave
from core.formatting import format_money
from core.page_cache import cached_page
from core.refusals import apply_refusal
from grants import charts

# The ranked list a scenario is composed from shows this many candidates, best score first.
BUILD_ROWS = 500


def _call(slug: str) -> Call:
    return get_object_or_404(Call, slug=slug)


def _scenario(scenario_id: UUID) -> Scenario:
    return get_object_or_404(Scenario.objects.select_related("call", "wave"), pk=scenario_id)


@role_required(can_use_admin_space)
@cached_page
def scenario_list(request: HttpRequest, slug: str) -> HttpResponse:
    call = _call(slug)
    scenarios = list(
        Scenario.objects.filter(call=call).select_related("wave").annotate(item_count=Count("items"))
    )
    context = {
        "title": _("Scénarios d'attribution — %(call)s") % {"call": call.title},
        "call": call,
        "scenarios": scenarios,
        "remaining_target": remaining_target(call),
    }
    return render(request, "allocation/scenario_list.html", context)


@role_required(can_use_admin_space)
def scenario_compute(request: HttpRequest, slug: str) -> HttpResponse:
    call = _call(slug)
    form = ScenarioComputeForm(request.POST or None, call=call)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            scenario = scenario_compute_request(
                call=call,
                wave=data["wave"],
                name=data["name"],
                order=data["order"],
                min_score=data["min_score"],
                target=data["target"],
                reducible=data["reducible"],
                pins=data["pins"],
                actor=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as error:
            apply_refusal(form, error, fallback_field="fixed_in" if _about_pins(error) else None)
        else:
            return redirect("allocation:scenario-detail", scenario_id=scenario.pk)
    context = {
        "title": _("Calculer un scénario — %(call)s") % {"call": call.title},
        "call": call,
        "form": form,
        "remaining_target": remaining_target(call),
    }
    return render(request, "allocation/scenario_compute.html", context)


def _about_pins(error: ValidationError) -> bool:
    return hasattr(error, "error_dict") and "pins" in error.error_dict


def _wave_from(request: HttpRequest, call: Call) -> Wave | None:
    number = request.POST.get("vague") or request.GET.get("vague")
    if not number:
        return None
    if not str(number).isdigit():
        raise Http404
    return get_object_or_404(Wave, call=call, number=int(number))


@role_required(can_use_admin_space)
def scenario_build_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The ranked list with a box and an amount per dossier; the chosen ones make the scenario."""
    call = _call(slug)
    wave = _wave_from(request, call)
    rows = candidate_rows(call, wave)[:BUILD_ROWS]
    problem = problem_for_call(call, wave=wave, rows=rows)
    form = ScenarioBuildForm(request.POST or None)
    chosen: set[int] = set()
    typed: dict[int, str] = {}
    if request.method == "POST":
        chosen = {int(value) for value in request.POST.getlist("selected") if value.isdigit()}
        typed = {row.id: request.POST.get(f"amount_{row.id}", "") for row in rows}
        if form.is_valid():
            amounts: dict[int, Decimal] = {}
            money = MoneyField()
            for pk in chosen:
                try:
                    amounts[pk] = money.clean(typed.get(pk, ""))
                except ValidationError as error:
                    form.add_error(
                        None, _("Montant du dossier choisi : %(error)s") % {"error": error.messages[0]}
                    )
            if not form.errors:
                try:
                    scenario = scenario_build(
                        call=call,
                        wave=wave,
                        name=form.cleaned_data["name"],
                        amounts=amounts,
                        budget_groups=budget_groups_for(call),
                        actor=request.user,  # type: ignore[arg-type]
                    )
                except ValidationError as error:
                    apply_refusal(form, error)
                else:
                    return redirect("allocation:scenario-detail", scenario_id=scenario.pk)
    by_id = {candidate.id: candidate for candidate in problem.candidates}
    table = [
        {
            "row": row,
            "checked": row.id in chosen,
            "amount": typed.get(row.id)
            or MoneyField().prepare_value(solver.upper_amount(problem, by_id[row.id])),
        }
        for row in rows
    ]
    context = {
        "title": _("Composer un scénario — %(call)s") % {"call": call.title},
        "call": call,
        "wave": wave,
        "waves": Wave.objects.filter(call=call).order_by("number"),
        "form": form,
        "table": table,
        "limit": BUILD_ROWS,
        "remaining": problem.envelope,
        "remaining_target": problem.target,
    }
    return render(request, "allocation/scenario_build.html", context)


@role_required(can_use_admin_space)
@cached_page
def scenario_detail(request: HttpRequest, scenario_id: UUID) -> HttpResponse:
    scenario = _scenario(scenario_id)
    context = {
        "title": _("Scénario « %(name)s »") % {"name": scenario.name},
        "scenario": scenario,
        "call": scenario.call,
        "items": scenario_items(scenario) if scenario.status == Scenario.Status.DONE else [],
        "others": Scenario.objects.filter(call=scenario.call, status=Scenario.Status.DONE).exclude(
            pk=scenario.pk
        ),
        "pins": scenario.pins.select_related("application").order_by("choice", "application__reference"),
    }
    return render(request, "allocation/scenario_detail.html", context)


def _others(scenario: Scenario) -> list[Scenario]:
    """The call's other scenarios ready to compare with."""
    return list(
        Scenario.objects.filter(call=scenario.call, status=Scenario.Status.DONE).exclude(pk=scenario.pk)
    )


def _fabriques_label(count: int) -> str:
    if count == 0:
        return _("aucune fabrique")
    return ngettext(
        "%(count)d fabrique (lauréate ou retenue)", "%(count)d fabriques (lauréates ou retenues)", count
    ) % {"count": count}


def _greedy_of(scenario: Scenario) -> solver.Solution:
    """The ranking by score under the scenario's own constraints (envelope, target, pins)."""
    if scenario.kind == Scenario.Kind.COMPUTED:
        return solver.greedy(scenario_problem(scenario))
    return solver.greedy(
        problem_for_call(scenario.call, wave=scenario.wave, budget_groups=budget_groups_for(scenario.call))
    )


@role_required(can_use_admin_space)
@cached_page
def scenario_compare(request: HttpRequest, scenario_id: UUID) -> HttpResponse:
    """The scenario against the ranking by score (by default) or against another scenario."""
    scenario = _scenario(scenario_id)
    if scenario.status != Scenario.Status.DONE:
        raise Http404
    other_id = request.GET.get("avec", "")
    if other_id:
        try:
            other_uuid = UUID(other_id)
        except ValueError as error:
            raise Http404 from error
        other = get_object_or_404(Scenario, pk=other_uuid, call=scenario.call, status=Scenario.Status.DONE)
        left = selection_of(other)
    else:
        other = None
        left = selection_of_solution(_("Classement par note"), _greedy_of(scenario))
    right = selection_of(scenario)
    result = comparison(scenario.call, left, right)
    chart_id = charts.chart_id_for("scenario", str(scenario.pk)[:8])
    figures: list[tuple[str, Decimal | int, Decimal | int, bool]] = [
        (_("Départements couverts"), left.departements_covered, right.departements_covered, False),
        (_("Dossiers retenus"), len(left.amounts), len(right.amounts), False),
        (_("Dossiers en zone prioritaire"), left.priority_zone_dossiers, right.priority_zone_dossiers, False),
        (_("Total des notes"), left.score_sum, right.score_sum, False),
        (_("Montant engagé (bonus compris)"), left.total, right.total, True),
    ]
    bars = [
        charts.Bar(f"{label} — {name}", value, format_money(value) if money else str(value))
        for label, left_value, right_value, money in figures[:3]
        for name, value in ((left.label, left_value), (right.label, right_value))
    ]

    def covered_map(key: str, name: str, suffix: str) -> Any:
        return charts.departements_map(
            result["departements"],
            key=key,
            chart_id=f"{chart_id}-{suffix}",
            count_label=_fabriques_label,
            title=_("Fabriques par département — %(name)s") % {"name": name},
            description=_(
                "Carte des départements de métropole colorés selon le nombre de fabriques une fois la "
                "sélection attribuée (lauréates déjà désignées comprises) ; les chiffres sont repris dans "
                "le tableau des départements."
            ),
        )

    context = {
        "title": _("Comparer « %(name)s »") % {"name": scenario.name},
        "scenario": scenario,
        "call": scenario.call,
        "other": other,
        "others": Scenario.objects.filter(call=scenario.call, status=Scenario.Status.DONE).exclude(
            pk=scenario.pk
        ),
        "result": result,
        "figures": figures,
        "chart": charts.bar_chart(
            bars,
            chart_id=f"{chart_id}-chiffres",
            title=_("Couverture et dossiers retenus"),
            description=_(
                "Barres horizontales : départements couverts, dossiers retenus et dossiers en zone "
                "prioritaire de chaque sélection, repris dans le tableau qui suit."
            ),
        ),
        "left_map": covered_map("left_total", left.label, "avant"),
        "right_map": covered_map("right_total", right.label, "apres"),
        "covered_departements": [
            row for row in result["departements"] if row["left"] or row["right"] or row["funded"]
        ],
    }
    return render(request, "allocation/scenario_compare.html", context)


@role_required(can_use_admin_space)
@require_http_methods(["GET", "POST"])
def scenario_agenda(request: HttpRequest, scenario_id: UUID) -> HttpResponse:
    """« Inscrire à l'ordre du jour d'un comité »: the session chosen, a recap (the dossiers, the
    total, what the agenda held and loses), then the scenario's dossiers replace the agenda."""
    scenario = _scenario(scenario_id)
    done = scenario.status == Scenario.Status.DONE
    form = ScenarioAgendaForm(request.POST or None, scenario=scenario)
    items = scenario_items(scenario) if done else []
    recap = None
    if request.method == "POST" and done and form.is_valid():
        session = form.cleaned_data["session"]
        if form.cleaned_data["confirm"]:
            try:
                count = scenario_to_agenda(scenario=scenario, session=session, actor=request.user)  # type: ignore[arg-type]
            except ValidationError as error:
                apply_refusal(form, error)
            else:
                messages.success(
                    request,
                    ngettext(
                        "L'ordre du jour de « %(session)s » compte désormais %(count)d dossier, "
                        "celui du scénario.",
                        "L'ordre du jour de « %(session)s » compte désormais %(count)d dossiers, "
                        "ceux du scénario.",
                        count,
                    )
                    % {"session": session.title, "count": count},
                )
                return redirect("grants:committee-detail", session_id=session.pk)
        if not form.errors:
            held = session.items.count()
            recap = {
                "session": session,
                "count": len(items),
                "total": sum((amount for _application, amount in items), Decimal("0")),
                "held": held,
            }
    return render(
        request,
        "allocation/scenario_agenda.html",
        {
            "title": _("Inscrire le scénario à l'ordre du jour d'un comité"),
            "scenario": scenario,
            "call": scenario.call,
            "form": form,
            "recap": recap,
            "items": items,
            "done": done,
        },
    )
