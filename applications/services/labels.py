"""Labels of a call (managed by programme admins) and the labels put on a dossier (by its instruction).

Every write is audited. A label's name is unique in its call whatever its case: checked here in
Python (`str.casefold`, which folds « É » and « é » alike on SQLite too), and by the database's
unique index on (lower(name), call), which also settles two admins creating the same name at once.
"""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_changes, audit_record, audit_snapshot
from applications.models import Application, ApplicationLabel, Call, Label
from applications.services.review import ensure_reviewer
from core.formatting import french_sorted

LABEL_FIELDS = ("name", "colour")


def label_name_clean(name: str) -> str:
    """The name as stored: no space at either end, one space between words."""
    return " ".join(name.split())


def _ensure_programme_admin(actor: User) -> None:
    if not has_role(actor, Role.ADMIN):
        raise PermissionDenied(_("Seuls les administrateurs du programme gèrent les étiquettes."))


def _name_taken(*, call_id: int, name: str, exclude_pk: int | None = None) -> ValidationError | None:
    labels = Label.objects.filter(call_id=call_id)
    if exclude_pk is not None:
        labels = labels.exclude(pk=exclude_pk)
    others = labels.values_list("name", flat=True)
    wanted = name.casefold()
    for other in others:
        if other.casefold() == wanted:
            return ValidationError(
                {"name": _("Une étiquette de cet appel s'appelle déjà « %(name)s ».") % {"name": other}},
                code="taken",
            )
    return None


def _save(label: Label, *, update_fields: list[str] | None = None) -> None:
    """Save under a savepoint: the unique index refusing a name taken meanwhile is said in French,
    next to the field. (`full_clean` leaves the constraints to these two: its own reading of the
    unique index would put a name taken meanwhile at the top of the form; the CHECK constraints
    repeat what the fields validate.)"""
    try:
        with transaction.atomic():
            label.save(update_fields=update_fields)
    except IntegrityError as error:
        raise ValidationError(
            {"name": _("Une étiquette de cet appel porte déjà ce nom.")}, code="taken"
        ) from error


@transaction.atomic
def label_create(*, call: Call, name: str, colour: str, actor: User) -> Label:
    """A new label of the call, by a programme admin."""
    _ensure_programme_admin(actor)
    label = Label(call=call, name=label_name_clean(name), colour=colour, created_by=actor)
    taken = _name_taken(call_id=call.pk, name=label.name)
    if taken is not None:
        raise taken
    label.full_clean(validate_constraints=False)  # the name's: _name_taken, then _save
    _save(label)
    audit_record(
        actor=actor,
        action="label.create",
        target=label,
        data={"call": call.slug, **audit_snapshot(label, LABEL_FIELDS)},
    )
    return label


@transaction.atomic
def label_update(*, label: Label, name: str, colour: str, actor: User) -> Label:
    """Rename or recolour a label; the dossiers that carry it keep it."""
    _ensure_programme_admin(actor)
    label = Label.objects.select_for_update().select_related("call").get(pk=label.pk)
    before = audit_snapshot(label, LABEL_FIELDS)
    label.name = label_name_clean(name)
    label.colour = colour
    taken = _name_taken(call_id=label.call_id, name=label.name, exclude_pk=label.pk)
    if taken is not None:
        raise taken
    label.full_clean(validate_constraints=False)  # the name's: _name_taken, then _save
    changes = audit_changes(before, audit_snapshot(label, LABEL_FIELDS))
    if not changes["fields"]:
        return label
    _save(label, update_fields=changes["fields"])
    audit_record(actor=actor, action="label.update", target=label, data={"call": label.call.slug, **changes})
    return label


def label_dossier_count(label: Label) -> int:
    """How many dossiers carry the label: what its deletion takes it off (the recap says it)."""
    return ApplicationLabel.objects.filter(label=label).count()


@transaction.atomic
def label_delete(*, label: Label, actor: User) -> int:
    """Delete a label: it leaves every dossier that carried it. Returns how many carried it."""
    _ensure_programme_admin(actor)
    label = Label.objects.select_for_update().select_related("call").get(pk=label.pk)
    references = list(
        ApplicationLabel.objects.filter(label=label)
        .order_by("application__reference")
        .values_list("application__reference", flat=True)
    )
    audit_record(
        actor=actor,
        action="label.delete",
        target=label,
        data={
            "call": label.call.slug,
            **audit_snapshot(label, LABEL_FIELDS),
            "dossiers": len(references),
            "references": references,
        },
    )
    label.delete()
    return len(references)


@transaction.atomic
def application_labels_set(*, application: Application, labels: Iterable[Label], actor: User) -> list[Label]:
    """The dossier carries exactly `labels` (labels of its call), put there by an instructor who
    reviews it or a programme admin. Returns its labels in French alphabetical order."""
    ensure_reviewer(actor, application)
    wanted = {label.pk: label for label in labels}
    foreign = [label for label in wanted.values() if label.call_id != application.call_id]
    if foreign:
        raise ValidationError(
            {
                "labels": [
                    _("L'étiquette « %(name)s » n'appartient pas à l'appel de ce dossier.")
                    % {"name": label.name}
                    for label in french_sorted(foreign, key=lambda label: label.name)
                ]
            },
            code="other_call",
        )
    # The dossier's row lock: two people labelling it at once apply one after the other.
    application = Application.objects.select_for_update().get(pk=application.pk)
    links = {
        link.label_id: link
        for link in ApplicationLabel.objects.filter(application=application).select_related("label")
    }
    added = [label for pk, label in wanted.items() if pk not in links]
    removed = [link.label for pk, link in links.items() if pk not in wanted]
    for label in added:
        link = ApplicationLabel(application=application, label=label, added_by=actor)
        link.full_clean()
        link.save()
    if removed:
        ApplicationLabel.objects.filter(
            application=application, label__in=[label.pk for label in removed]
        ).delete()
    if added or removed:
        audit_record(
            actor=actor,
            action="application.labels_set",
            target=application,
            data={
                "added": [label.name for label in french_sorted(added, key=lambda label: label.name)],
                "removed": [label.name for label in french_sorted(removed, key=lambda label: label.name)],
            },
        )
    return french_sorted(wanted.values(), key=lambda label: label.name)
