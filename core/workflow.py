"""The one funnel of every state machine: lock the row, check the table, save, log, audit, cascade.

Each machine (`applications.workflow`, `grants.workflow`, `grants.export_jobs`) keeps its table,
its wording and its public verbs; it describes itself with a `Machine` and moves its rows through
`Machine.move`, which holds the mechanics they share:

1. refuse outside a transaction (the move, its log row, its audit row and what the verb writes
   alongside commit together or not at all);
2. take the row's lock (`select_for_update`), after the machine's `lock_first` rows if any, the
   documented lock order of the money;
3. check the table on the locked row, and refuse with the machine's French sentence;
4. write the log row (who, when, from, to, note);
5. save the status with the fields the move sets (`full_clean`, `update_fields`), and mirror them on
   the caller's copy, which may be stale;
6. write the audit row, for a machine that hands in its audit writer (core knows no app), under
   the action the verb names;
7. run the machine's cascade for the state reached, as django-oscar's `cascade`: the rows that
   follow (a cancelled grant's tranches and agreement) move through their own funnels
   (`Move.follow`), never around them.

No FSM library: the machines are small, and a dict and one function are easy to read and to grep.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.functional import Promise

Row = TypeVar("Row", bound=models.Model)
Log = TypeVar("Log", bound=models.Model)

# (actor, action, target, data): the audit writer a machine hands in (accounts.services.audit_record).
Auditor = Callable[..., object]


@dataclass(frozen=True)
class Move(Generic[Row, Log]):
    """One move made by the funnel, as its cascade sees it."""

    row: Row  # the locked row, saved in its new state
    change: Log  # its log row
    actor: Any
    action: str | None
    note: str
    data: Mapping[str, Any]

    @property
    def by(self) -> str:
        """What started the move, for the audit rows of the moves it cascades to."""
        return str(self.data.get("by") or self.action or "")

    def follow(
        self, machine: "Machine[Any, Any]", row: models.Model, to_status: str, action: str, **fields: Any
    ) -> Any:
        """Move `row` through its own funnel as this move's consequence: the same actor and note, and
        an audit row that gives the reason and what started it."""
        return machine.move(
            row=row,
            to_status=to_status,
            actor=self.actor,
            action=action,
            note=self.note,
            data={"reason": self.note, "by": self.by},
            **fields,
        )


@dataclass(frozen=True)
class Machine(Generic[Row, Log]):
    """A state machine: its model, its table, its log model, its wording, its hooks.

    The labels of the refusal are the model's `status` choices; the log row's link to the moved
    row is the log model's foreign key to the model.
    """

    model: type[Row]
    # The table: from each state, the states it may move to. A final state maps to no state.
    transitions: Mapping[str, frozenset[str]]
    # The log row (who, when, from, to, note): `from_status`, `to_status`, `actor`, `note`, `at`.
    log_model: type[Log]
    # The refusal of a move outside the table: a sentence with %(from)s and %(to)s (the states'
    # labels) and the keys of `refusal_context`.
    refusal: str | Promise
    refusal_code: str = "invalid_transition"
    refusal_context: Callable[[Row], Mapping[str, Any]] | None = None
    # A finer refusal for the usual cases (it raises, or returns to let the generic one speak).
    explain: Callable[[Row, str], None] | None = None
    # Rows to lock before this one (their order is the documented lock order).
    lock_first: Callable[[Row], None] | None = None
    # Fields saved with every move (`auto_now` stamps).
    stamps: tuple[str, ...] = ()
    # False for a model whose every field the move cannot vouch for (a draft dossier may be
    # incomplete); its verbs check what each move requires.
    validate: bool = True
    # When given, every move names its audit action, and leaves its audit row.
    auditor: Auditor | None = None
    # For the state reached, what the move cascades to (inside the same transaction).
    cascade: Mapping[str, Callable[[Move[Row, Log]], None]] = field(default_factory=dict)

    def can_move(self, from_status: str, to_status: str) -> bool:
        return to_status in self.transitions.get(from_status, frozenset())

    def label(self, status: str) -> str:
        status_field = self.model._meta.get_field("status")
        assert isinstance(status_field, models.Field)  # noqa: S101 (a machine's model has a status column)
        return str(dict(status_field.flatchoices).get(status, status))

    def ensure_can_move(self, row: Row, to_status: str) -> None:
        """Refuse a move that is not in the table, with the machine's French sentence."""
        status = _status(row)
        if self.can_move(status, to_status):
            return
        if self.explain is not None:
            self.explain(row, to_status)
        values = {
            "from": self.label(status),
            "to": self.label(to_status),
            **(self.refusal_context(row) if self.refusal_context else {}),
        }
        raise ValidationError(str(self.refusal) % values, code=self.refusal_code)

    def lock(self, row: Row) -> Row:
        if self.lock_first is not None:
            self.lock_first(row)
        return self.model._default_manager.select_for_update().get(pk=row.pk)

    def move(
        self,
        *,
        row: Row,
        to_status: str,
        actor: Any,
        note: str = "",
        action: str | None = None,
        data: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> Log:
        """Move `row` to `to_status` with `fields` saved alongside; log it, audit it (`action`, with
        `data` and the states from and to), then cascade. Returns the log row, whose foreign key
        holds the locked, saved row. Must run inside the caller's transaction."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError(f"a move of {self.model.__name__} must run inside a transaction")
        if self.auditor is not None and not action:
            raise TypeError(f"a move of {self.model.__name__} names its audit action")
        locked = self.lock(row)
        self.ensure_can_move(locked, to_status)
        from_status = _status(locked)
        change = self.log_model._default_manager.create(
            **{self._log_link(): locked},
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            note=note,
            at=at or timezone.now(),
        )
        setattr(locked, "status", to_status)  # noqa: B010 (the one assignment of every machine)
        for name, value in fields.items():
            setattr(locked, name, value)
        if self.validate:
            locked.full_clean()
        saved = ["status", *fields, *self.stamps]
        locked.save(update_fields=saved)
        for name in saved:
            setattr(row, name, getattr(locked, name))
        audit = {**(data or {}), "from": from_status, "to": to_status}
        if self.auditor is not None:
            self.auditor(actor=actor, action=action, target=row, data=audit)
        follow = self.cascade.get(to_status)
        if follow is not None:
            follow(Move(row=locked, change=change, actor=actor, action=action, note=note, data=audit))
        return change

    def _log_link(self) -> str:
        """The log model's foreign key to the machine's model."""
        for candidate in self.log_model._meta.get_fields():
            if candidate.many_to_one and candidate.related_model is self.model:
                return candidate.name
        raise LookupError(f"{self.log_model.__name__} has no foreign key to {self.model.__name__}")


def _status(row: models.Model) -> str:
    return str(getattr(row, "status"))  # noqa: B009 (any machine's row)
