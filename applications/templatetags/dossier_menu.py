"""`{% dossier_menu_items %}`: the entries of a dossier's section menu, written in Python.

The menu is on every page of a dossier: an overview, one entry per section with its completeness
badge, the shared accesses and the messages. It was an include per entry (eight), each pushing a
context and rendering a template: a tenth of the applicant's dossier page. The entries are now
written here, byte for byte as the include wrote them (tests/applications/test_dossier_page_reads.py
renders both).
"""

from typing import Any

from django import template
from django.template.base import render_value_in_context
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()

COMPLETE = '<span class="fr-ml-1w fr-badge fr-badge--sm fr-badge--success fr-badge--no-icon">{}</span>'
MISSING = '<span class="fr-ml-1w fr-badge fr-badge--sm fr-badge--warning fr-badge--no-icon">{}</span>'


def _entry(context: template.Context, key: str, url_name: str, label: Any, section: Any) -> str:
    current = context.get("current_section") == key
    url = conditional_escape(reverse(url_name, args=[context["application"].reference]))
    badge = ""
    if section:
        if section.complete:
            badge = " " + COMPLETE.format(conditional_escape(_("complet")))
        else:
            counter = len(section.missing)
            text = ngettext("%(counter)s à compléter", "%(counter)s à compléter", counter)
            badge = " " + MISSING.format(text % {"counter": render_value_in_context(counter, context)})
    active = " fr-sidemenu__item--active" if current else ""
    aria = ' aria-current="page"' if current else ""
    return (
        f'<li class="fr-sidemenu__item{active}">\n'
        f'  <a class="fr-sidemenu__link" href="{url}"{aria}>\n'
        f"    {conditional_escape(label)}{badge}\n"
        "  </a>\n"
        "</li>\n"
    )


def _literal(text: str) -> SafeString:
    """A fixed label: a string literal of the former template, which Django did not escape."""
    return mark_safe(text)  # noqa: S308 (the portal's own translated text, no user input)


@register.simple_tag(takes_context=True)
def dossier_menu_items(context: template.Context) -> SafeString:
    """The menu's entries, with the white space the former includes left between them.

    The fixed labels were string literals of the template, which Django does not escape (« Vue
    d'ensemble »): they are marked safe here alike; the sections' labels are escaped."""
    sections = context.get("sections") or []
    parts = [
        "  ",
        _entry(context, "overview", "applications:dossier-detail", _literal(_("Vue d'ensemble")), None),
        "\n  ",
    ]
    for section in sections:
        parts += [
            "\n    ",
            _entry(context, section.key, f"applications:dossier-{section.key}", section.label, section),
            "\n  ",
        ]
    parts += [
        "\n  ",
        _entry(context, "access", "applications:dossier-access", _literal(_("Accès partagés")), None),
        "\n",
    ]
    parts += [
        "  ",
        _entry(context, "messages", "applications:dossier-messages", _literal(_("Messages")), None),
        "\n",
    ]
    return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped)
