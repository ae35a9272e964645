"""Writes on grants: decisions (which create grants and commit the envelope)."""

from grants.services.bulk_decisions import BulkResult, decisions_bulk
from grants.services.decisions import application_award, application_close, application_refuse
from grants.services.reopening import application_reopen

__all__ = [
    "BulkResult",
    "application_award",
    "application_close",
    "application_refuse",
    "application_reopen",
    "decisions_bulk",
]
