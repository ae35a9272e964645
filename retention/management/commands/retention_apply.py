from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from retention.rules import rules
from retention.services import retention_apply


class Command(BaseCommand):
    help = "Anonymise or delete what has passed its retention time (retention.rules); --dry-run counts only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be done; write nothing.")

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        report = retention_apply(now=timezone.now(), dry_run=dry_run)
        verb = "would act on" if dry_run else "acted on"
        for item in rules():
            self.stdout.write(f"{item.key}: {verb} {report.get(item.key, 0)}")
