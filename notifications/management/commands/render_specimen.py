"""Produce the one-page "Document de contrôle" that operators use to check the PDF chain.

    python manage.py render_specimen [--output PATH]   renders here, with WeasyPrint, into PATH
    python manage.py render_specimen --queue           asks a worker for it, like the portal does

The first checks the renderer and the fonts of this machine; the second checks the whole chain
(a row written in a transaction, the task queued after commit, a worker rendering and storing it).
"""

import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from notifications.models import Status
from notifications.pdf import render_pdf
from notifications.services import document_request

TEMPLATE_NAME = "pdf/specimen.html"
DEFAULT_OUTPUT = "specimen.pdf"


class Command(BaseCommand):
    help = (
        "Produit le document de contrôle de la chaîne PDF : ici (--output, specimen.pdf par défaut) "
        "ou par un worker (--queue)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            metavar="PATH",
            help=f"Fichier PDF à écrire (par défaut : {DEFAULT_OUTPUT}). Sans effet avec --queue.",
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Demander le document à un worker (file d'attente) au lieu de le produire ici.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        token = uuid.uuid4().hex
        context = {
            "reference": f"CONTROLE-{token[:12].upper()}",
            "generated_at": timezone.localtime().strftime("%d/%m/%Y %H:%M:%S %Z"),
        }
        if options["queue"]:
            if options["output"]:
                raise CommandError(
                    "--output et --queue s'excluent : avec --queue, le fichier est rangé par le worker."
                )
            self._queue(token, context)
        else:
            self._render_here(Path(options["output"] or DEFAULT_OUTPUT), context)

    def _render_here(self, output: Path, context: dict[str, str]) -> None:
        if not output.parent.is_dir():
            raise CommandError(f"Le dossier {output.parent} n'existe pas.")
        pdf = render_pdf(TEMPLATE_NAME, context)
        output.write_bytes(pdf)
        self.stdout.write(
            self.style.SUCCESS(
                f"Document de contrôle {context['reference']} écrit dans {output.resolve()} "
                f"({len(pdf)} octets)."
            )
        )

    def _queue(self, token: str, context: dict[str, str]) -> None:
        # The task is queued when this block commits, as for any document asked by the portal.
        with transaction.atomic():
            document = document_request(
                key=f"specimen:{token}",
                kind="specimen",
                template_name=TEMPLATE_NAME,
                context=context,
                filename="specimen.pdf",
            )
        # Without a broker the task ran in this process at commit: the row may be done already.
        document.refresh_from_db()
        self.stdout.write(
            f"Document n° {document.pk} demandé (référence {context['reference']}, "
            f"état : {document.get_status_display()})."
        )
        if document.status == Status.DONE:
            self.stdout.write(
                self.style.SUCCESS(f"Produit ({document.size} octets, SHA-256 {document.sha256}).")
            )
        elif document.last_error:
            self.stdout.write(self.style.ERROR(f"Échec du rendu : {document.last_error}"))
        else:
            self.stdout.write(
                "En file d'attente : un worker doit le produire ; son état se lit dans "
                "l'administration (documents générés)."
            )
