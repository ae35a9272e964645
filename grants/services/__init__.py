"""Writes on grants: decisions (which create grants and commit the envelope)."""

from grants.services.decisions import (
    BulkResult,
    application_award,
    application_close,
    application_refuse,
    application_reopen,
    decisions_bulk,
)

__all__ = [
    "BulkResult",
    "application_award",
    "application_close",
    "application_refuse",
    "application_reopen",
    "decisions_bulk",
]
