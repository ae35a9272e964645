"""Presentation of amounts and identifiers the French way, for pages, PDFs and exports alike."""

import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

from django.utils import timezone
from django.utils.translation import ngettext

T = TypeVar("T")

NBSP = "\u00a0"  # keeps "150 000 €" on one line


def format_money(value: Decimal | int | str | None, *, cents: bool | None = None) -> str:
    """150000 -> "150 000 €"; 74999.99 -> "74 999,99 €". Cents are shown only when there are some.

    `cents=True` always shows them (tables where figures must line up).
    """
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    show_cents = cents if cents is not None else amount != amount.to_integral_value()
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    whole, _, fraction = f"{amount:.2f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = NBSP.join(groups)
    if show_cents:
        text += f",{fraction}"
    return f"{sign}{text}{NBSP}€"


def format_percent(value: Decimal | int | float | str | None, *, places: int = 2) -> str:
    """60 -> "60 %"; Decimal("60.00") -> "60 %"; 12.5 -> "12,5 %": French digits, no trailing zeros.

    The sign is preceded by a no-break space, as in French typography, so it never starts a line.
    """
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{number:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in {"-0", ""}:
        text = "0"
    return f"{text.replace('.', ',')}{NBSP}%"


def format_days(value: float | Decimal | int | None) -> str:
    """12.5 -> "12,5 jours"; 1 -> "1 jour"; 0.4 -> "0,4 jour"; 1234 -> "1 234 jours".

    One decimal at most, no trailing ",0"; French puts the singular under two (« 1,5 jour »).
    """
    if value is None or value == "":
        return ""
    number = Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    whole, _, tenth = f"{abs(number):.1f}".partition(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    text = ("-" if number < 0 else "") + NBSP.join(groups) + ("" if tenth == "0" else f",{tenth}")
    return ngettext("%(days)s jour", "%(days)s jours", int(abs(number))) % {"days": text}


# Month names spelt here rather than through the active translation or the host's locale: a date
# in a letter written by a worker (no request, no activated language) reads the same as on a page.
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def format_date(value: date | datetime | None) -> str:
    """date(2027, 1, 1) -> "1er janvier 2027"; date(2027, 3, 15) -> "15 mars 2027".

    The first of the month is « 1er », as French writes it. A datetime is shown on its local day
    (a dossier submitted at 00:30 in Paris is dated that day, not the day before in UTC).
    """
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def format_datetime(value: datetime | None) -> str:
    """A moment on its local day and hour: "1er janvier 2027 à 09:05"."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{format_date(local)} à {local:%H:%M}"


def format_decimal_input(value: Decimal | int | str | None) -> str:
    """An amount prefilled in a form the French way: 50000 -> "50 000,00" (no currency sign).

    Read back by `parse_money`, so a form shows what its user would have typed.
    """
    if value is None or value == "":
        return ""
    return format_money(value, cents=True).removesuffix(f"{NBSP}€")


# Ligatures that Unicode does not decompose, and French writes in names (« Œuvre », « Lætitia »).
LIGATURES = str.maketrans({"œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae"})


def fold_accents(text: str) -> str:
    """« Île-de-France, Œuvre » → « Ile-de-France, Oeuvre »: accents dropped, ligatures spelt out."""
    decomposed = unicodedata.normalize("NFKD", text.translate(LIGATURES))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def french_sort_key(text: str) -> str:
    """A sort key that orders French names as a reader expects: « Île-de-France » among the I.

    Accents and case are dropped (NFKD decomposition, combining marks removed, casefolded), and
    hyphens and apostrophes count as spaces. Python's default order puts every accented capital
    after Z; `locale.strxfrm` depends on the locales installed on the host (a container often has
    only C.UTF-8) and PyICU needs a compiled ICU: this key gives the same order everywhere, which
    is the order of the French dictionary for the names the portal sorts (places, structures).
    """
    bare = fold_accents(text or "")
    for mark in "-'\u2019":
        bare = bare.replace(mark, " ")
    return " ".join(bare.casefold().split())


def french_sorted(items: Iterable[T], key: Callable[[T], str] = str) -> list[T]:
    """`items` in French alphabetical order of `key(item)` (see `french_sort_key`), ties by the raw text.

    For the short lists the portal sorts in Python (régions, a user's structures, instructors);
    the database's order depends on its collation (SQLite and PostgreSQL's « C » put « Île » after « Z »).
    """
    return sorted(items, key=lambda item: (french_sort_key(key(item)), key(item)))


def parse_money(text: str) -> Decimal:
    """Read an amount typed the French way: "150 000", "74 999,99", "50000.00 €"."""
    # Thousands are grouped with a space, a no-break space, a narrow one (U+202F, what
    # format_money writes) or a thin one (U+2009, what word processors and copies from PDFs give).
    cleaned = (text or "").replace("€", "")
    for space in (" ", NBSP, "\u202f", "\u2009"):
        cleaned = cleaned.replace(space, "")
    cleaned = cleaned.replace(",", ".")
    if cleaned.count(".") > 1:
        raise InvalidOperation(text)
    return Decimal(cleaned)
