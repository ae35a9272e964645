"""`manage.py allocation_scenario --call SLUG [--wave N] --output FILE.json`.

Computes the optimised scenario of a call (the default order of the objectives: départements
covered, then dossiers in priority zones, then the total score; the amounts asked, not reduced)
and the greedy ranking at the same envelope, and writes them as JSON, amounts as strings of euros:

    {"call", "selected": [references], "total", "departements_covered", "priority_zone_dossiers",
     "score_sum", "optimal", "solve_seconds", "greedy": {"selected", "total",
     "departements_covered", "score_sum"}}

Nothing is saved: a scenario to keep is computed from its page.
"""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from allocation import solver
from allocation.messages import refusal_messages
from allocation.selectors import budget_groups_for, candidate_rows, problem_for_call
from applications.models import Call, Wave


def _euros(value: Any) -> str:
    return f"{value:.2f}"


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Calcule le scénario d'attribution optimisé d'un appel et le classement par note, "
            "et les écrit en JSON."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--call", required=True, help=_("Identifiant (slug) de l'appel."))
        parser.add_argument(
            "--wave", type=int, default=None, help=_("Numéro de la vague (toutes par défaut).")
        )
        parser.add_argument("--output", required=True, help=_("Chemin du fichier JSON à écrire."))
        parser.add_argument(
            "--time-limit", type=float, default=60.0, help=_("Durée maximale du calcul, en secondes.")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call = Call.objects.filter(slug=options["call"]).first()
        if call is None:
            raise CommandError(_("Aucun appel n'a l'identifiant « %(slug)s ».") % {"slug": options["call"]})
        wave = None
        if options["wave"] is not None:
            wave = Wave.objects.filter(call=call, number=options["wave"]).first()
            if wave is None:
                raise CommandError(
                    _("L'appel n'a pas de vague numéro %(number)s.") % {"number": options["wave"]}
                )
        output = Path(options["output"])
        if not output.parent.is_dir():
            raise CommandError(_("Le dossier « %(folder)s » n'existe pas.") % {"folder": output.parent})
        rows = candidate_rows(call, wave)
        problem = problem_for_call(
            call,
            wave=wave,
            budget_groups=budget_groups_for(call),
            rows=rows,
            time_limit=options["time_limit"],
        )
        try:
            solution = solver.solve(problem)
        except solver.ProblemInfeasible as refusal:
            raise CommandError("\n".join(refusal_messages(refusal.reasons))) from refusal
        greedy = solver.greedy(problem)
        references = {row.id: row.reference for row in rows}

        def selected(chosen: dict[int, Any]) -> list[str]:
            return sorted(references[pk] for pk in chosen)

        document = {
            "call": call.slug,
            "selected": selected(solution.selected),
            "total": _euros(solution.total),
            "departements_covered": solution.departements_covered,
            "priority_zone_dossiers": solution.priority_zone_dossiers,
            "score_sum": str(solution.score_sum),
            "optimal": solution.optimal,
            "solve_seconds": round(solution.seconds, 3),
            "greedy": {
                "selected": selected(greedy.selected),
                "total": _euros(greedy.total),
                "departements_covered": greedy.departements_covered,
                "score_sum": str(greedy.score_sum),
            },
        }
        if not solution.optimal:
            document["gap"] = round(solution.gap, 6)
        output.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Scénario de « %(call)s » écrit dans %(path)s : "
                    "%(count)d dossiers, %(covered)d départements."
                )
                % {
                    "call": call.title,
                    "path": output,
                    "count": len(solution.selected),
                    "covered": solution.departements_covered,
                }
            )
        )
