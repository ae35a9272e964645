"""The confirmation step before an action that cannot be undone (a recap, then « Confirmer »).

One pattern for every such action (submitting a dossier, handing in scores, awarding, refusing,
closing, bulk decisions, activating an agreement, recording a payment): the action's form posts
to its view as before; without the `confirmer` flag the view writes nothing and answers with a
recap page that repeats the posted fields as hidden inputs, says what will happen (amounts in
full, who is notified, what cannot be undone), and offers « Confirmer », which posts the same
fields with the flag, and « Modifier », which posts them back with `modifier` so the view shows
its form again, filled in. No JavaScript is involved, and a script that posts the action
without the flag gets the recap, never the action.

The step is the views' (what a person sees before acting); the services keep every rule, so a
confirmed post is checked as thoroughly as an unconfirmed one.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

CONFIRM_FIELD = "confirmer"
EDIT_FIELD = "modifier"
# Fields never repeated as hidden inputs: the token is printed afresh, the flags by the buttons.
NOT_REPEATED = frozenset({"csrfmiddlewaretoken", CONFIRM_FIELD, EDIT_FIELD})


def is_confirmed(request: HttpRequest) -> bool:
    """The recap was seen and « Confirmer » pressed."""
    return request.method == "POST" and request.POST.get(CONFIRM_FIELD) == "1"


def wants_edit(request: HttpRequest) -> bool:
    """« Modifier » was pressed on the recap: show the form again with what was typed."""
    return request.method == "POST" and EDIT_FIELD in request.POST


def repeated_fields(data: QueryDict) -> list[tuple[str, str]]:
    """Every posted value (lists included, in order), to post again from the recap."""
    return [(name, value) for name, values in data.lists() if name not in NOT_REPEATED for value in values]


@dataclass(frozen=True)
class RecapLine:
    label: str
    value: str


@dataclass(frozen=True)
class Recap:
    """What a recap page says. Every string is already translated and formatted (« 150 000 € »)."""

    title: str
    intro: str
    action_url: str
    confirm_label: str
    lines: list[RecapLine] = field(default_factory=list)
    # A table (for instance the yearly split): its caption, its header and its rows.
    table_caption: str = ""
    table_header: tuple[str, ...] = ()
    table_rows: Sequence[tuple[str, ...]] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    irreversible: list[str] = field(default_factory=list)
    # « Modifier » posts the fields back to `action_url`; views without a form to refill give a link.
    can_edit: bool = True
    back_url: str = ""
    back_label: str = ""


def lines(pairs: Iterable[tuple[str, str]]) -> list[RecapLine]:
    return [RecapLine(str(label), str(value)) for label, value in pairs]


def recap_response(
    request: HttpRequest,
    recap: Recap,
    *,
    template: str = "layouts/confirmation.html",
    extra: dict[str, object] | None = None,
) -> HttpResponse:
    """The recap page; nothing has been written."""
    context: dict[str, object] = {
        "title": recap.title,
        "recap": recap,
        "repeated": repeated_fields(request.POST),
        "confirm_field": CONFIRM_FIELD,
        "edit_field": EDIT_FIELD,
        **(extra or {}),
    }
    return render(request, template, context)
