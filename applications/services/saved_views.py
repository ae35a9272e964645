"""Saved views of the instructors' list (« Mes vues »): created, renamed and deleted by their owner.

Every write is audited. A view's name is unique among its owner's whatever its case: checked here
in Python (`str.casefold`, the same on SQLite), and by the database's unique index on
(lower(name), user), which also settles two tabs saving the same name at once.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record, audit_snapshot
from applications.models import SavedView

SAVED_VIEW_FIELDS = ("name", "query")


def saved_view_name_clean(name: str) -> str:
    """The name as stored: no space at either end, one space between words."""
    return " ".join(name.split())


def _ensure_reviewer(actor: User) -> None:
    if not (has_role(actor, Role.INSTRUCTOR) or has_role(actor, Role.ADMIN)):
        raise PermissionDenied(
            _("Seuls les instructeurs et les administrateurs du programme enregistrent des vues.")
        )


def _ensure_owner(saved_view: SavedView, actor: User) -> None:
    # Views reach their owner only (scoped querysets); this guards every other entry point.
    if saved_view.user_id != actor.pk:
        raise PermissionDenied(_("Cette vue appartient à une autre personne."))


def _name_taken(*, user_id: int, name: str, exclude_pk: int | None = None) -> ValidationError | None:
    views = SavedView.objects.filter(user_id=user_id)
    if exclude_pk is not None:
        views = views.exclude(pk=exclude_pk)
    wanted = name.casefold()
    for other in views.values_list("name", flat=True):
        if other.casefold() == wanted:
            return ValidationError(
                {"name": _("Vous avez déjà une vue nommée « %(name)s ».") % {"name": other}}, code="taken"
            )
    return None


def _save(saved_view: SavedView, *, update_fields: list[str] | None = None) -> None:
    """Save under a savepoint: the unique index refusing a name taken meanwhile is said next to the
    field, in French."""
    try:
        with transaction.atomic():
            saved_view.save(update_fields=update_fields)
    except IntegrityError as error:
        raise ValidationError({"name": _("Vous avez déjà une vue de ce nom.")}, code="taken") from error


@transaction.atomic
def saved_view_create(*, name: str, query: str, actor: User) -> SavedView:
    """A new view of the actor's: `query` is the list's filters, sort and tab as a query string
    (applications.forms_workspace.saved_query), with at least a filter or a sort."""
    _ensure_reviewer(actor)
    if not set(QueryDict(query)) - {"tab"}:
        raise ValidationError(
            _("Choisissez au moins un filtre ou un tri avant d'enregistrer une vue."), code="empty"
        )
    saved_view = SavedView(user=actor, name=saved_view_name_clean(name), query=query)
    taken = _name_taken(user_id=actor.pk, name=saved_view.name)
    if taken is not None:
        raise taken
    saved_view.full_clean(validate_constraints=False)  # the name's: _name_taken, then _save
    _save(saved_view)
    audit_record(
        actor=actor,
        action="saved_view.create",
        target=saved_view,
        data=audit_snapshot(saved_view, SAVED_VIEW_FIELDS),
    )
    return saved_view


@transaction.atomic
def saved_view_rename(*, saved_view: SavedView, name: str, actor: User) -> SavedView:
    """Rename one of the actor's views; its filters stay."""
    _ensure_owner(saved_view, actor)
    saved_view = SavedView.objects.select_for_update().get(pk=saved_view.pk)
    before = saved_view.name
    saved_view.name = saved_view_name_clean(name)
    taken = _name_taken(user_id=actor.pk, name=saved_view.name, exclude_pk=saved_view.pk)
    if taken is not None:
        raise taken
    saved_view.full_clean(validate_constraints=False)
    if saved_view.name == before:
        return saved_view
    _save(saved_view, update_fields=["name"])
    audit_record(
        actor=actor,
        action="saved_view.rename",
        target=saved_view,
        data={"fields": ["name"], "before": {"name": before}, "after": {"name": saved_view.name}},
    )
    return saved_view


@transaction.atomic
def saved_view_delete(*, saved_view: SavedView, actor: User) -> None:
    """Delete one of the actor's views; the dossiers are not touched."""
    _ensure_owner(saved_view, actor)
    saved_view = SavedView.objects.select_for_update().get(pk=saved_view.pk)
    audit_record(
        actor=actor,
        action="saved_view.delete",
        target=saved_view,
        data=audit_snapshot(saved_view, SAVED_VIEW_FIELDS),
    )
    saved_view.delete()
