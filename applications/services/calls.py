"""Writes on calls, their waves and their required documents (the admin site's), each audited.

The call's envelope counters (committed_amount, laureate_count) are the grants services': they are
not editable, and an edit saves only the fields it changed, under the call's row lock, so that an
award made while the admin's form was open is never overwritten by the form's stale figures.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_changes, audit_record, audit_snapshot
from applications.models import Call, RequiredDocument, Wave
from core.formatting import format_money

# Every field a programme admin sets; the counters, the key and the creation date are not.
CALL_FIELDS = tuple(
    field.name for field in Call._meta.concrete_fields if field.editable and not field.primary_key
)
WAVE_FIELDS = ("number", "name", "deadline")
REQUIRED_DOCUMENT_FIELDS = (
    "code",
    "label",
    "help_text",
    "mandatory",
    "families",
    "allowed_formats",
    "max_size_mb",
    "position",
)


def call_check(*, call: Call, fields: Mapping[str, Any]) -> None:
    """The rules of an edit beyond the model's: the envelope never drops below what is committed."""
    envelope = fields.get("envelope")
    if envelope is None or call.pk is None:
        return
    committed = Call.objects.filter(pk=call.pk).values_list("committed_amount", flat=True).get()
    if envelope < committed:
        raise ValidationError(
            {
                "envelope": _(
                    "L'enveloppe ne peut pas être inférieure aux montants déjà engagés (%(committed)s)."
                )
                % {"committed": format_money(committed)}
            },
            code="below_committed",
        )


@transaction.atomic
def call_create(*, call: Call, actor: User) -> Call:
    """Save a new call (built unsaved by the caller), with an audit row of its figures."""
    if not call._state.adding:
        raise ValueError("call_create saves a new call")
    call.full_clean()
    call.save()
    audit_record(
        actor=actor,
        action="call.create",
        target=call,
        data=audit_changes({}, audit_snapshot(call, CALL_FIELDS)),
    )
    return call


@transaction.atomic
def call_update(*, call: Call, actor: User, **fields: Any) -> Call:
    """Change a call's settings; the audit row names each changed field with before and after."""
    unknown = set(fields) - set(CALL_FIELDS)
    if unknown:
        raise TypeError(f"Unknown call fields: {sorted(unknown)}")
    locked = Call.objects.select_for_update().get(pk=call.pk)
    call_check(call=locked, fields=fields)
    before = audit_snapshot(locked, fields)
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.full_clean()
    data = audit_changes(before, audit_snapshot(locked, fields))
    if data["fields"]:
        locked.save(update_fields=data["fields"])
        audit_record(actor=actor, action="call.update", target=locked, data=data)
    return locked


@transaction.atomic
def call_delete(*, call: Call, actor: User) -> None:
    """Delete a call that has received no dossier (one that has is closed, not deleted)."""
    locked = Call.objects.select_for_update().get(pk=call.pk)
    if locked.applications.exists():
        raise ValidationError(
            _("Cet appel a reçu des dossiers : il ne peut pas être supprimé, seulement clos."),
            code="has_applications",
        )
    snapshot = audit_snapshot(locked, CALL_FIELDS)
    audit_record(actor=actor, action="call.delete", target=locked, data={"before": snapshot})
    locked.delete()


def _part_fields(part: Wave | RequiredDocument) -> tuple[str, ...]:
    return WAVE_FIELDS if isinstance(part, Wave) else REQUIRED_DOCUMENT_FIELDS


def _part_action(part: Wave | RequiredDocument, verb: str) -> str:
    return f"call.{'wave' if isinstance(part, Wave) else 'required_document'}_{verb}"


@transaction.atomic
def call_part_save(*, part: Wave | RequiredDocument, actor: User) -> Wave | RequiredDocument:
    """Save a wave or a required document of a call, new or changed, audited on the call."""
    fields = _part_fields(part)
    call = Call.objects.select_for_update().get(pk=part.call_id)
    if part._state.adding:
        before: dict[str, Any] = {}
    else:
        before = audit_snapshot(type(part).objects.get(pk=part.pk, call=call), fields)
    part.full_clean()
    data = audit_changes(before, audit_snapshot(part, fields))
    if not data["fields"]:
        return part
    verb = "add" if part.pk is None else "update"
    part.save()
    audit_record(actor=actor, action=_part_action(part, verb), target=call, data={"id": part.pk, **data})
    return part


@transaction.atomic
def call_part_delete(*, part: Wave | RequiredDocument, actor: User) -> None:
    """Delete a wave or a required document of a call, audited on the call with what it was."""
    call = Call.objects.select_for_update().get(pk=part.call_id)
    part = type(part).objects.get(pk=part.pk, call=call)
    before = audit_snapshot(part, _part_fields(part))
    audit_record(
        actor=actor, action=_part_action(part, "delete"), target=call, data={"id": part.pk, "before": before}
    )
    part.delete()
