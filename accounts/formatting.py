"""Presentation of amounts and identifiers the French way, for pages, PDFs and exports alike."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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
