"""`python manage.py envelope_check [--call SLUG]`: recount each call's envelope, exit 1 on drift.

The committed amount, the laureates and what is paid are recounted from the grants and their
tranches (`grants.services.envelope.envelope_recount`) and compared with the call's counters.
Exit status 0 when every call agrees, 1 when any drifts (the beat's daily task alerts the
programme admins on the same finding; CI runs it after the concurrency tests).
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from applications.models import Call
from core.formatting import format_money
from grants.services.envelope import envelope_drift_lines, envelope_recount


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        self.help = _(
            "Recalcule l'engagé, le versé et les lauréats de chaque appel à partir des subventions et "
            "des tranches ; sort en erreur (1) au moindre écart avec les compteurs."
        )
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--call", metavar="SLUG", help=_("identifiant de l'appel (tous par défaut)"))

    def handle(self, *args: Any, **options: Any) -> None:
        calls = Call.objects.order_by("pk")
        if options["call"]:
            calls = calls.filter(slug=options["call"])
            if not calls.exists():
                raise CommandError(
                    _("Aucun appel n'a l'identifiant « %(slug)s ».") % {"slug": options["call"]}
                )
        drifting = 0
        for call in calls:
            count = envelope_recount(call)
            lines = envelope_drift_lines(count)
            if lines:
                drifting += 1
                self.stdout.write(_("Écart sur l'appel « %(slug)s » :") % {"slug": call.slug})
                for line in lines:
                    self.stdout.write(f"  – {line}")
            else:
                self.stdout.write(
                    _(
                        "Appel « %(slug)s » sans écart : engagé %(committed)s, versé %(paid)s, "
                        "lauréats %(laureates)d."
                    )
                    % {
                        "slug": call.slug,
                        "committed": format_money(count.committed),
                        "paid": format_money(count.paid),
                        "laureates": count.laureates,
                    }
                )
        if drifting:
            self.stderr.write(_("Appels en écart : %(n)d.") % {"n": drifting})
            sys.exit(1)
