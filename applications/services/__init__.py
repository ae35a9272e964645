"""Writes on calls and dossiers, split by subject."""

from applications.rules import budget_errors
from applications.services.access import access_accept, access_invite, access_revoke
from applications.services.attachments import attachment_add, attachment_remove
from applications.services.budget import application_set_budget
from applications.services.consortium import member_add, member_remove, member_update
from applications.services.dossiers import application_create, application_update_sections
from applications.services.places import application_set_places
from applications.services.submission import application_submit, application_withdraw
from applications.services.territory import application_choose_departement, application_move_territory

__all__ = [
    "access_accept",
    "access_invite",
    "access_revoke",
    "application_choose_departement",
    "application_create",
    "application_move_territory",
    "application_set_budget",
    "application_set_places",
    "application_submit",
    "application_update_sections",
    "application_withdraw",
    "attachment_add",
    "attachment_remove",
    "budget_errors",
    "member_add",
    "member_remove",
    "member_update",
]
