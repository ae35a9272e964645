"""French plural forms: the project's catalogue (locale/fr/LC_MESSAGES) and its compiled copy.

Without a catalogue of the project, ngettext and {% blocktranslate count %} fall back on the
English rule (only 1 is singular): « 0 dossiers ». The catalogue holds every plural string of the
code under the French rule (0 and 1 singular). Deployments compile nothing (a fresh machine has
Python only, no msgfmt), so the compiled django.mo is committed: these tests fail when a plural
string of the code is missing from django.po or when django.mo lags behind it.
"""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

from tests.factories import CallFactory, programme_admin, submitted_application

ROOT = Path(settings.BASE_DIR)
CATALOGUE = ROOT / "locale" / "fr" / "LC_MESSAGES"
SOURCES = (
    "accounts",
    "fabriques",
    "applications",
    "grants",
    "allocation",
    "notifications",
    "config",
    "templates",
)
PLURAL_FUNCTIONS = {"ngettext", "ngettext_lazy", "npgettext", "npgettext_lazy"}

Key = tuple[str, str, str]  # context ("" when none), singular, plural


# --- reading the catalogue: a small reader of the .po format, enough for this file ----------------


def read_po(path: Path) -> dict[Key, list[str]]:
    """The plural entries of a .po file and their translations; the header under ("", "", "")."""
    entries: dict[Key, list[str]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        current = ""
        for line in block.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr\[\d+\]|msgstr) (".*")$', line)
            if match:
                current = match.group(1)
                fields[current] = ast.literal_eval(match.group(2))
            else:
                fields[current] += ast.literal_eval(line)
        if not fields:
            continue
        if fields["msgid"] == "":
            entries[("", "", "")] = [fields["msgstr"]]
            continue
        assert "msgid_plural" in fields, f"{path}: only plural entries belong here: {fields['msgid']!r}"
        key = (fields.get("msgctxt", ""), fields["msgid"], fields["msgid_plural"])
        assert key not in entries, f"{path}: {key} twice"
        entries[key] = [fields[f"msgstr[{index}]"] for index in range(2)]
    return entries


def read_mo(path: Path) -> tuple[dict[Key, list[str]], str]:
    """The plural entries of a compiled catalogue, and its Plural-Forms header."""
    with path.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    catalog: dict[object, str] = compiled._catalog  # type: ignore[attr-defined]
    forms: dict[str, list[str]] = {}
    for key, value in catalog.items():
        if isinstance(key, tuple):
            message, index = key
            forms.setdefault(message, ["", ""])[index] = value
    entries: dict[Key, list[str]] = {}
    plurals = {(k[1], k[0]): k[2] for k in read_po(CATALOGUE / "django.po") if k[1]}
    for message, translated in forms.items():
        context, _, singular = message.rpartition("\x04")
        # A .mo keys plural entries by their singular only: the plural is read back from the .po.
        entries[(context, singular, plurals.get((singular, context), "?"))] = translated
    return entries, compiled.info().get("plural-forms", "")


# --- the plural strings of the code ---------------------------------------------------------------


def _python_plurals(path: Path) -> set[Key]:
    found: set[Key] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in PLURAL_FUNCTIONS:
            continue
        texts = [
            arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        ]
        if name.startswith("np") and len(texts) >= 3:
            found.add((texts[0], texts[1], texts[2]))
        elif len(texts) >= 2:
            found.add(("", texts[0], texts[1]))
    return found


_LITERAL = r"u'((?:[^'\\]|\\.)*)'"
_TEMPLATE_PLURAL = re.compile(rf"\b(n|np)gettext\((?:{_LITERAL}, )?{_LITERAL}, {_LITERAL}, count\)")


def _template_plurals(path: Path) -> set[Key]:
    """{% blocktranslate count %} as makemessages sees it (Django's own templatize)."""
    found: set[Key] = set()
    for match in _TEMPLATE_PLURAL.finditer(templatize(path.read_text(encoding="utf-8"), origin=str(path))):
        kind, context, singular, plural = match.groups()

        def text(literal: str | None) -> str:
            return ast.literal_eval(f"'{literal}'") if literal else ""

        found.add((text(context) if kind == "np" else "", text(singular), text(plural)))
    return found


def code_plurals() -> set[Key]:
    found: set[Key] = set()
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if "migrations" in path.parts or not path.is_file():
                continue
            if path.suffix == ".py":
                found |= _python_plurals(path)
            elif path.suffix in (".html", ".txt") and "templates" in path.parts:
                found |= _template_plurals(path)
    return found


# --- the tests ------------------------------------------------------------------------------------


def test_the_catalogue_is_found_and_follows_the_french_rule() -> None:
    assert CATALOGUE.parent.parent in [Path(path) for path in settings.LOCALE_PATHS]
    header = read_po(CATALOGUE / "django.po")[("", "", "")][0]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in header
    with translation.override("fr"):
        words = [
            translation.ngettext("%(count)d heure", "%(count)d heures", n) % {"count": n} for n in (0, 1, 2)
        ]
    assert words == ["0 heure", "1 heure", "2 heures"]


def test_every_plural_string_of_the_code_is_in_the_catalogue() -> None:
    found = code_plurals()
    assert len(found) >= 10, "the scan of the code finds nothing: check code_plurals()"
    missing = found - set(read_po(CATALOGUE / "django.po"))
    assert not missing, (
        "plural strings missing from locale/fr/LC_MESSAGES/django.po (see its header to add them, "
        f"then compile): {sorted(missing)}"
    )


def test_each_plural_entry_is_translated_as_itself() -> None:
    for (_context, singular, plural), forms in read_po(CATALOGUE / "django.po").items():
        if singular:
            assert forms == [singular, plural], singular


def test_the_compiled_catalogue_is_up_to_date() -> None:
    po = {key: value for key, value in read_po(CATALOGUE / "django.po").items() if key[1]}
    mo, plural_forms = read_mo(CATALOGUE / "django.mo")
    assert plural_forms == "nplurals=2; plural=(n > 1);"
    assert mo == po, "django.mo differs from django.po: run `python manage.py compilemessages -l fr`"


@pytest.mark.django_db
def test_a_page_counts_in_french(client: Client) -> None:
    # The programme's home page: « N dossier(s) déposé(s) » for its call.
    call = CallFactory()
    client.force_login(programme_admin())
    url = reverse("grants:admin-home")
    seen = []
    for count in (0, 1, 2):
        if count:
            submitted_application(call=call)
        content = client.get(url).content.decode()
        seen.append(re.search(r"\d+ dossiers? déposés?", content).group(0))  # type: ignore[union-attr]
    assert seen == ["0 dossier déposé", "1 dossier déposé", "2 dossiers déposés"]
