"""The instructor list's rows, written in Python, are the bytes its template loop wrote."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.template import engines

from applications.models import Application, Label
from applications.views.workspace import rows_html
from fabriques.models import Departement, Organisation

# The loop of applications/templates/applications/workspace.html before its rows were written in
# Python, byte for byte (with the dossiers' labels under their title since issue 14, and « En
# retard » under the state of an overdue dossier).
TEMPLATE_LOOP = """{% load i18n portal %}{% for application in page_obj.object_list %}
                <tr>
                  {% if show_rank %}<td>{% if application.score is not None %}{{ application.rank }}{% else %}—{% endif %}</td>{% endif %}
                  <td class="portal-nowrap"><a href="{% url 'applications:review-detail' reference=application.reference %}">{{ application.reference }}</a></td>
                  <td>{{ application.title }}{% if application.label_list %}<ul class="fr-badges-group fr-mt-1v" aria-label="{% translate "Étiquettes" %}">{% for label in application.label_list %}<li><span class="fr-badge fr-badge--sm {{ label.badge_class }}">{{ label.name }}</span></li>{% endfor %}</ul>{% endif %}</td>
                  <td>
                    {% for member in application.lead_members %}
                      {{ member.organisation.name }}<br><span class="fr-text--xs portal-nowrap">{% translate "SIRET" %} {{ member.organisation.siret_display }}</span>
                    {% empty %}—{% endfor %}
                  </td>
                  <td>
                    {% if application.departement %}
                      {{ application.departement.code }} – {{ application.departement.name }}
                      {% if not application.departement_has_laureate %}<br><span class="fr-badge fr-badge--sm fr-badge--warning fr-badge--no-icon">{% translate "Aucun lauréat dans ce département" %}</span>{% endif %}
                    {% else %}—{% endif %}
                  </td>
                  <td><abbr title="{{ application.get_kind_display }}">{{ application.kind|upper }}</abbr></td>
                  <td>{% status_badge application small=True %}{% if application.overdue %}<br><span class="fr-badge fr-badge--sm fr-badge--error fr-badge--no-icon">{% translate "En retard" %}</span>{% endif %}</td>
                  <td class="portal-nowrap">{% if application.submitted_at %}{{ application.submitted_at|long_date }}{% else %}—{% endif %}</td>
                  <td class="portal-nowrap">
                    {% if application.score is not None %}
                      {{ application.score|floatformat:1 }}
                      {% if application.score_spread is not None %}<br><span class="fr-text--xs">{% blocktranslate with spread=application.score_spread|floatformat:1 %}écart {{ spread }}{% endblocktranslate %}</span>{% endif %}
                    {% else %}<span aria-hidden="true">—</span><span class="fr-sr-only">{% translate "Pas encore noté" %}</span>{% endif %}
                  </td>
                </tr>
              {% endfor %}"""


def _member(name: str, siret: str) -> Any:
    return SimpleNamespace(organisation=Organisation(name=name, siret=siret))


def _rows() -> list[Application]:
    """Every branch of the loop: ranks past a thousand, no score, a spread or none, no lead, two
    leads, no département, one without laureate, no deposit date, texts to escape."""
    gers = Departement(code="32", name="Gers")
    corse = Departement(code="2A", name="Corse-du-Sud & <îles>")
    specs: list[dict[str, Any]] = [
        {
            "reference": "FT-2026-00001",
            "title": 'Tiers-lieu « <b>A&B</b> » "quoted"',
            "kind": "ft",
            "status": "submitted",
            "score": Decimal("87.25"),
            "score_spread": Decimal("12.5"),
            "rank": 1234,
            "overdue": True,
            "departement": gers,
            "departement_has_laureate": True,
            "members": [_member("Asso <Le Lieu>", "12345678901234")],
            "labels": [
                Label(name="À revoir <en> comité & co", colour="pink-tuile"),
                Label(name="Prioritaire", colour="green-menthe"),
            ],
        },
        {
            "reference": "FNT-2026-00002",
            "title": "Sans note",
            "kind": "fnt",
            "status": "in_review",
            "score": None,
            "score_spread": None,
            "rank": 2,
            "overdue": False,
            "departement": corse,
            "departement_has_laureate": False,
            "members": [_member("Un", "11111111111111"), _member("Deux & fils", "22222222222222")],
            "labels": [],
        },
        {
            "reference": "FT-2026-00003",
            "title": "Sans département ni date",
            "kind": "ft",
            "status": "awarded",
            "score": Decimal("50"),
            "score_spread": None,
            "rank": 3,
            "overdue": False,
            "departement": None,
            "departement_has_laureate": False,
            "members": [],
            "submitted_at": None,
            "labels": [Label(name="Rural", colour="beige-gris-galet")],
        },
    ]
    rows = []
    for spec in specs:
        members = spec.pop("members")
        labels = spec.pop("labels")
        departement = spec.pop("departement")
        extra = {key: spec.pop(key) for key in ("rank", "departement_has_laureate", "overdue")}
        submitted_at = spec.pop("submitted_at", datetime(2026, 3, 1, 22, 30, tzinfo=UTC))
        application = Application(submitted_at=submitted_at, **spec)
        application.departement = departement
        application.lead_members = members  # type: ignore[attr-defined]
        application.label_list = labels  # type: ignore[attr-defined]
        for key, value in extra.items():
            setattr(application, key, value)
        rows.append(application)
    return rows


@pytest.mark.parametrize("show_rank", [True, False])
def test_the_rows_written_in_python_are_the_template_loop_s_bytes(show_rank: bool) -> None:
    rows = _rows()
    context = {"page_obj": SimpleNamespace(object_list=rows), "show_rank": show_rank}
    expected = engines["django"].from_string(TEMPLATE_LOOP).render(context)
    assert expected.count("<tr>") == 3
    assert "1\u202f234" in expected or "1\u00a0234" in expected or not show_rank  # localized rank
    assert "&lt;b&gt;A&amp;B&lt;/b&gt;" in expected and "écart 12,5" in expected
    assert expected.count("fr-badges-group") == 2  # no empty list for the dossier without labels
    assert expected.count("En retard") == 1  # the overdue dossier's state only
    assert (
        '<span class="fr-badge fr-badge--sm fr-badge--pink-tuile">À revoir &lt;en&gt; comité &amp; co</span>'
        in expected
    )
    assert str(rows_html(rows, show_rank=show_rank)) == expected
    assert str(rows_html([], show_rank=show_rank)) == ""


@pytest.mark.django_db
def test_an_instructor_s_departements_are_read_once_for_the_table_beside_and_the_filter(client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from tests.factories import occitanie_instructor

    client.force_login(occitanie_instructor())
    url = reverse("applications:instructor-home")
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, {"departement": "32"}).content.decode()
    listed = [
        query
        for query in queries.captured_queries
        if query["sql"].startswith('SELECT "fabriques_departement"')
        and not query["sql"].endswith("LIMIT 21")  # the chosen one's validation
    ]
    assert len(listed) == 1, [query["sql"] for query in listed]
    # The filter offers the same thirteen départements, in the same order, the Gers selected.
    select = re.search(r'<select name="departement".*?</select>', page, re.S)
    assert select is not None
    options = re.findall(r'<option value="(\w+)"( selected)?>([^<]+)</option>', select.group(0))
    assert [code for code, _selected, _label in options][:3] == ["09", "11", "12"]
    assert len(options) == 13
    assert ("32", " selected", "32 – Gers") in options
    assert "13 départements instruits" in page
