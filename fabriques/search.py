"""Text as the places search compares it: no accents, no case, words separated by one space.

The normalised text is stored on each place (`TiersLieu.search_text`) rather than computed by
the database, so that SQLite and PostgreSQL find exactly the same places: PostgreSQL's `unaccent`
has no SQLite twin, and `LIKE` differs in case between the two.
"""

import re
from collections.abc import Iterable

from core.formatting import fold_accents

NOT_A_WORD = re.compile(r"[\W_]+")
# More words than this in a search adds nothing but conditions to the query.
MAX_WORDS = 8


def normalise(text: str) -> str:
    """« L'Île-de-France » → « l ile de france »: accents and case removed, punctuation as spaces."""
    return NOT_A_WORD.sub(" ", fold_accents(text).casefold()).strip()


def search_text(parts: Iterable[str]) -> str:
    """The stored text of a place: its words between spaces, so that « ␣32␣ » finds a whole word."""
    words = " ".join(word for word in (normalise(part) for part in parts) if word)
    return f" {words} " if words else ""


def search_words(query: str) -> list[str]:
    """The distinct words of a query, in order, at most MAX_WORDS."""
    words: list[str] = []
    for word in normalise(query).split():
        if word not in words:
            words.append(word)
    return words[:MAX_WORDS]
