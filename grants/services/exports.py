"""The audited acts of the exports: every export leaves an audit row (who took which data of
which call, in which format), and the PDF summary is asked for as a document row."""

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from applications.models import Call
from grants.writers import PDF_KIND, PDF_TEMPLATE, summary_context
from notifications.models import Document
from notifications.services import document_request

BUDGET_REPORT_ACTION = "export.budget_report"
OPEN_DATA_ACTION = "export.open_data"  # the rows: grants.open_data


@transaction.atomic
def export_record(*, actor: User | None, call: Call, action: str, data: dict[str, Any]) -> None:
    """Every export leaves an audit row: who took which data of which call, in which format."""
    audit_record(actor=actor, action=action, target=call, data=data)


def pdf_summary_request(*, call: Call, actor: User) -> Document:
    """Ask for the PDF summary: a document row rendered by the document task after commit."""
    with transaction.atomic():
        document = document_request(
            key=f"{PDF_KIND}:{call.pk}:{uuid.uuid4()}",
            kind=PDF_KIND,
            template_name=PDF_TEMPLATE,
            context=summary_context(call),
            filename=f"synthese-budgetaire-{call.slug}-{timezone.localdate().isoformat()}.pdf",
        )
        export_record(
            actor=actor,
            call=call,
            action=BUDGET_REPORT_ACTION,
            data={"format": "pdf", "document": document.pk},
        )
    return document
