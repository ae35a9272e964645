"""The envelope's figures, its dashboard and public summary, the SVG charts, the daily snapshot and alert.

The expected figures are computed here independently, with plain Python loops over the rows,
and compared with `envelope_figures` (SQL aggregates), the pages and the SVG.
"""

import html
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applications.models import Application, Call
from core.formatting import format_money
from fabriques.models import Departement, TiersLieu
from grants import charts
from grants.models import EnvelopeSnapshot, Grant, Tranche
from grants.selectors.envelope import envelope_figures
from grants.services import application_award, application_reopen
from grants.services.snapshots import alert_key, commitment_alerts_send, envelope_snapshot_take
from grants.tasks.envelope import envelope_daily_task
from notifications.models import OutgoingEmail
from tests.factories import CallFactory, applicant, in_review_application, programme_admin

pytestmark = pytest.mark.django_db

SVG_NS = "{http://www.w3.org/2000/svg}"
CENT = Decimal("0.01")


# --- building awarded dossiers ------------------------------------------------------------------


@dataclass
class Spec:
    departement: str
    zones: list[str]  # one place per zone; [] = no place at all
    kind: str = "ft"
    legal_category: str = "9220"  # association
    amount: Decimal = Decimal("150000")
    paid: dict[int, date] = field(default_factory=dict)  # year_index -> paid_on


SPECS = [
    Spec("32", ["rural"], paid={1: date(2026, 3, 15)}),
    Spec(
        "31",
        ["qpv", "rural"],
        kind="fnt",
        legal_category="7210",
        amount=Decimal("120000"),
        paid={1: date(2026, 4, 1), 2: date(2027, 2, 1)},
    ),
    Spec("75", ["near_qpv"], legal_category="5710", amount=Decimal("90000")),
    Spec("35", [], legal_category="7410", amount=Decimal("75000"), paid={1: date(2025, 12, 20)}),
    Spec("971", ["other"], kind="fnt", legal_category="7355", amount=Decimal("100000")),
    Spec("2A", [""], amount=Decimal("150000"), paid={1: date(2026, 6, 30)}),
]


def award(call: Call, spec: Spec) -> Grant:
    application, reviewer = in_review_application(call=call)
    Application.objects.filter(pk=application.pk).update(kind=spec.kind)
    application.refresh_from_db()
    grant = application_award(application=application, amount=spec.amount, actor=reviewer)
    # Moved to its territory after the award (the Occitanie instructor decided it).
    Application.objects.filter(pk=application.pk).update(departement_id=spec.departement)
    lead = application.members.get(is_lead=True).organisation
    type(lead).objects.filter(pk=lead.pk).update(legal_category_id=spec.legal_category)
    first_place = application.places.get()
    if not spec.zones:
        application.places.clear()
    for index, zone in enumerate(spec.zones):
        if index == 0:
            TiersLieu.objects.filter(pk=first_place.pk).update(zone=zone, departement_id=spec.departement)
        else:
            application.places.add(
                TiersLieu.objects.create(name=f"Lieu {index}", departement_id=spec.departement, zone=zone)
            )
    for year_index, paid_on in spec.paid.items():
        Tranche.objects.filter(grant=grant, year_index=year_index).update(
            status="paid",
            paid_on=paid_on,
            payment_reference=f"VIR-{grant.pk}-{year_index}",
            requested_at=timezone.now(),
        )
    return grant


def reopened(call: Call) -> Grant:
    """An award then a reopening: a cancelled grant, which must count nowhere."""
    grant = award(call, Spec("13", ["rural"], amount=Decimal("80000")))
    application_reopen(application=grant.application, reason="Erreur de saisie.", actor=programme_admin())
    return grant


def build(specs: list[Spec], call: Call | None = None) -> Call:
    call = call or CallFactory()
    for spec in specs:
        award(call, spec)
    call.refresh_from_db()
    return call


# --- the expected figures, computed without SQL aggregates -------------------------------------


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def expected_figures(call: Call) -> dict:
    zero = Decimal("0")
    totals = {"committed": zero, "paid": zero, "laureates": 0}
    by_region: dict[str, dict] = defaultdict(lambda: {"laureates": 0, "committed": zero, "paid": zero})
    by_departement: dict[str, dict] = defaultdict(lambda: {"laureates": 0, "committed": zero, "paid": zero})
    by_zone: dict[str, dict] = defaultdict(lambda: {"laureates": 0, "committed": zero, "paid": zero})
    by_kind: dict[str, dict] = defaultdict(lambda: {"laureates": 0, "committed": zero, "paid": zero})
    by_family: dict[str, dict] = defaultdict(lambda: {"laureates": 0, "committed": zero, "paid": zero})
    by_year: dict[int, dict] = defaultdict(lambda: {"scheduled": zero, "paid": zero})
    for grant in Grant.objects.all():
        if grant.call_id != call.pk or grant.status != "active":
            continue
        application = grant.application
        departement = Departement.objects.get(pk=application.departement_id)
        zones = {place.zone for place in application.places.all()} or {""}
        lead = next(member for member in application.members.all() if member.is_lead)
        family = lead.organisation.legal_category.family
        paid = zero
        for tranche in Tranche.objects.filter(grant=grant):
            if tranche.status == "paid":
                paid += tranche.amount
                by_year[tranche.paid_on.year]["paid"] += tranche.amount
            elif tranche.status != "cancelled":
                by_year[tranche.due_date.year]["scheduled"] += tranche.amount
        committed = grant.amount + grant.bonus
        buckets = [
            by_region[departement.region_id],
            by_departement[departement.code],
            by_kind[application.kind],
            by_family[family],
        ] + [by_zone[zone] for zone in zones]
        for bucket in [totals, *buckets]:
            bucket["laureates"] += 1
            bucket["committed"] += committed
            bucket["paid"] += paid
    return {
        **totals,
        "by_region": by_region,
        "by_departement": by_departement,
        "by_zone": by_zone,
        "by_kind": by_kind,
        "by_family": by_family,
        "by_year": by_year,
    }


def as_table(rows: list[dict]) -> dict[str, tuple]:
    return {row["code"]: (row["laureates"], row["committed"], row["paid"]) for row in rows}


def expected_table(expected: dict[str, dict], codes: list[str]) -> dict[str, tuple]:
    return {
        code: (
            expected[code]["laureates"] if code in expected else 0,
            money(expected[code]["committed"]) if code in expected else Decimal("0.00"),
            money(expected[code]["paid"]) if code in expected else Decimal("0.00"),
        )
        for code in codes
    }


def programme_built() -> Call:
    """The call of SPECS and one more award, reopened, beside another call's award."""
    call = build(SPECS)
    reopened(call)
    build([Spec("69", ["rural"], amount=Decimal("140000"), paid={1: date(2026, 1, 5)})])  # another call
    call.refresh_from_db()
    return call


@pytest.fixture
def programme() -> Call:
    return programme_built()


# --- the figures -------------------------------------------------------------------------------


def test_the_figures_match_sums_computed_row_by_row(programme):
    call = programme
    figures = envelope_figures(call)
    expected = expected_figures(call)

    assert figures["laureates"] == expected["laureates"] == 6 == call.laureate_count
    assert figures["committed"] == money(expected["committed"]) == call.committed_amount
    assert figures["counters_match"] is True
    assert figures["paid"] == money(expected["paid"])
    assert figures["paid"] > 0
    assert figures["envelope"] == call.envelope
    assert figures["remaining"] == call.envelope - money(expected["committed"])
    assert figures["target"] == call.target_count

    average = money(expected["committed"] / expected["laureates"])
    assert figures["average_award"] == average
    missing = call.target_count - expected["laureates"]
    assert figures["missing"] == missing
    assert figures["remaining_per_missing"] == money((call.envelope - expected["committed"]) / missing)
    assert figures["projection"]["amount"] == average * call.target_count
    assert figures["projection"]["exceeds"] == (average * call.target_count > call.envelope)

    regions = [row["code"] for row in figures["by_region"]]
    assert len(regions) == 18
    assert as_table(figures["by_region"]) == expected_table(expected["by_region"], regions)
    departements = [row["code"] for row in figures["by_departement"]]
    assert len(departements) == 101
    assert as_table(figures["by_departement"]) == expected_table(expected["by_departement"], departements)
    without = {row["code"] for row in figures["departements_without_laureate"]}
    assert without == set(departements) - set(expected["by_departement"])
    assert "32" not in without and "13" in without  # the reopened dossier's département counts nothing

    assert as_table(figures["by_zone"]) == expected_table(
        expected["by_zone"], ["qpv", "near_qpv", "rural", "other", ""]
    )
    assert as_table(figures["by_kind"]) == expected_table(expected["by_kind"], ["ft", "fnt"])
    assert as_table(figures["by_family"]) == expected_table(
        expected["by_family"], ["association", "local_authority", "syndicat_mixte", "gip_gie", "company"]
    )
    assert {row["year"]: (row["scheduled"], row["paid"]) for row in figures["by_year"]} == {
        year: (money(values["scheduled"]), money(values["paid"]))
        for year, values in expected["by_year"].items()
    }
    assert [row["year"] for row in figures["by_year"]] == sorted(expected["by_year"])


def test_a_dossier_with_places_in_two_zones_counts_in_both_and_without_place_in_unknown(programme):
    zones = {row["code"]: row for row in envelope_figures(programme)["by_zone"]}
    # SPECS: rural (32), qpv + rural (31), near_qpv, none (35), other, unknown (2A).
    assert zones["rural"]["laureates"] == 2
    assert zones["qpv"]["laureates"] == 1
    assert zones[""]["laureates"] == 2
    assert sum(row["laureates"] for row in zones.values()) == 7  # one more than the laureates


def test_an_empty_call_has_zero_figures_and_no_projection():
    call = CallFactory()
    figures = envelope_figures(call)
    assert figures["committed"] == figures["paid"] == Decimal("0.00")
    assert figures["laureates"] == 0 and figures["average_award"] is None and figures["projection"] is None
    assert figures["remaining_per_missing"] == money(call.envelope / call.target_count)
    assert figures["by_year"] == []
    assert len(figures["departements_without_laureate"]) == 101


def test_the_average_award_is_the_exact_mean_rounded_half_up():
    # 100 000,005 € exactly: half a cent, rounded up (as PostgreSQL's AVG then the rounding gave).
    call = build(
        [
            Spec("32", ["rural"], amount=Decimal("100000.01")),
            Spec("31", ["rural"], amount=Decimal("100000.00")),
        ]
    )
    figures = envelope_figures(call)
    assert figures["laureates"] == 2
    assert figures["average_award"] == Decimal("100000.01")
    assert figures["projection"]["amount"] == Decimal("100000.01") * call.target_count


def test_what_remains_per_missing_fabrique_is_none_once_the_target_is_reached():
    call = build([Spec("32", ["rural"])], CallFactory(target_count=1))
    figures = envelope_figures(call)
    assert figures["missing"] == 0 and figures["remaining_per_missing"] is None


# --- the pages -----------------------------------------------------------------------------------


def page(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.content.decode())


def svgs(text: str) -> dict[str, ET.Element]:
    """Every inline SVG of a page, parsed as XML (so well-formed), by id."""
    found = {}
    for markup in re.findall(r"<svg\b.*?</svg>", text, re.S):
        root = ET.fromstring(markup)  # noqa: S314 - our own markup
        found[root.get("id")] = root
    return found


def dashboard_url(call: Call) -> str:
    return reverse("grants:dashboard", kwargs={"slug": call.slug})


def summary_url(call: Call) -> str:
    return reverse("grants:public-summary", kwargs={"slug": call.slug})


def test_the_dashboard_shows_the_figures_formatted_and_a_table_after_each_chart(client: Client, programme):
    call = programme
    expected = expected_figures(call)
    client.force_login(programme_admin())
    response = client.get(dashboard_url(call))
    assert response.status_code == 200
    text = page(response)
    for amount in (
        call.envelope,
        expected["committed"],
        expected["paid"],
        call.envelope - expected["committed"],
    ):
        assert format_money(amount) in text
    assert f"{expected['laureates']} / {call.target_count}" in text
    occitanie = expected["by_region"]["76"]
    assert format_money(occitanie["committed"]) in text and format_money(occitanie["paid"]) in text
    for year, values in expected["by_year"].items():
        assert str(year) in text and format_money(values["paid"]) in text
    assert "Rapports budgétaires" in text
    # Each chart is followed by a table with a caption.
    assert text.count("<caption>") >= 8
    assert text.index('id="tdb-' + call.slug + '-regions"') < text.index("par région</caption>")


def test_the_dashboard_svg_is_well_formed_and_titles_every_mark(client: Client, programme):
    call = programme
    client.force_login(programme_admin())
    charts_found = svgs(page(client.get(dashboard_url(call))))
    prefix = f"tdb-{call.slug}"
    assert {f"{prefix}-carte", f"{prefix}-regions", f"{prefix}-zones", f"{prefix}-types"} <= set(charts_found)
    for chart_id, root in charts_found.items():
        assert root.get("role") == "img"
        assert root.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
        assert root.find(f"{SVG_NS}title").get("id") == f"{chart_id}-title"
        assert root.find(f"{SVG_NS}desc") is not None

    paths = charts_found[f"{prefix}-carte"].findall(f".//{SVG_NS}path")
    assert len(paths) == 96  # the metropolitan départements
    titles = {path.get("data-code"): path.find(f"{SVG_NS}title").text for path in paths}
    assert titles["32"] == "Gers (32) : 1 fabrique lauréate"
    assert titles["13"] == "Bouches-du-Rhône (13) : aucune fabrique lauréate"
    fills = {path.get("data-code"): path.get("fill") for path in paths}
    assert fills["13"] == charts.NONE_FILL and fills["32"] != charts.NONE_FILL

    region_bars = charts_found[f"{prefix}-regions"].findall(f"{SVG_NS}g")
    assert len(region_bars) == 18
    occitanie = [
        bar.find(f"{SVG_NS}title").text
        for bar in region_bars
        if "Occitanie" in bar.find(f"{SVG_NS}title").text
    ]
    expected = expected_figures(call)["by_region"]["76"]["committed"]
    assert occitanie == [f"Occitanie : {format_money(expected)}"]


def test_overseas_departements_are_listed_beside_the_map(client: Client, programme):
    client.force_login(programme_admin())
    text = page(client.get(dashboard_url(programme)))
    overseas = text[
        text.index("Départements d'outre-mer") : text.index(
            "</table>", text.index("Départements d'outre-mer")
        )
    ]
    assert "Guadeloupe (971)</th><td>1</td>" in overseas
    assert "La Réunion (974)</th><td>0</td>" in overseas


def test_the_dashboard_makes_as_many_queries_for_six_grants_as_for_two(client: Client):
    call = build(SPECS[:2])
    EnvelopeSnapshot.objects.create(
        call=call, day=date(2026, 1, 1), envelope=call.envelope, committed=0, paid=0, laureates=0
    )
    admin = programme_admin()
    client.force_login(admin)
    with CaptureQueriesContext(connection) as two:
        assert client.get(dashboard_url(call)).status_code == 200
    build(SPECS[2:], call)
    EnvelopeSnapshot.objects.create(
        call=call, day=date(2026, 1, 2), envelope=call.envelope, committed=1, paid=0, laureates=1
    )
    with CaptureQueriesContext(connection) as six:
        response = client.get(dashboard_url(call))
    assert envelope_figures(call)["laureates"] == 6
    assert len(six) == len(two), [query["sql"] for query in six.captured_queries]
    # The session, the user, the second factor, the call, the snapshots, the figures' four
    # queries (22 before the breakdowns were summed from the laureates' rows, issue 13) and the
    # sub-envelopes' rows (one more, issue 15).
    assert len(two) == 11, [query["sql"] for query in two.captured_queries]
    assert f"tdb-{call.slug}-releves" in svgs(page(response))


def test_the_pages_of_a_call_without_laureate_render(client: Client):
    call = CallFactory()
    client.force_login(programme_admin())
    text = page(client.get(dashboard_url(call)))
    assert "Aucune tranche." in text and "Aucun relevé pour l'instant" in text
    assert f"tdb-{call.slug}-releves" not in svgs(text)
    assert "101 départements sans fabrique lauréate" in text
    client.logout()
    text = page(client.get(summary_url(call)))
    assert format_money(call.envelope) in text and f"0 / {call.target_count}" in text


def test_the_dashboard_is_for_programme_admins_only(client: Client):
    call = CallFactory()
    client.force_login(applicant())
    assert client.get(dashboard_url(call)).status_code == 403
    client.logout()
    response = client.get(dashboard_url(call))
    assert response.status_code == 302 and "/compte/" in response["Location"]
    client.force_login(programme_admin())
    assert client.get(reverse("grants:dashboard", kwargs={"slug": "inconnu"})).status_code == 404


def test_the_public_summary_is_open_and_shows_no_personal_data(client: Client, programme):
    call = programme
    expected = expected_figures(call)
    response = client.get(summary_url(call))
    assert response.status_code == 200
    text = page(response)
    for amount in (
        call.envelope,
        expected["committed"],
        expected["paid"],
        call.envelope - expected["committed"],
    ):
        assert format_money(amount) in text
    assert f"{expected['laureates']} / {call.target_count}" in text
    assert "Occitanie" in text and format_money(expected["by_region"]["76"]["committed"]) in text
    found = svgs(text)
    assert len(found[f"synthese-{call.slug}-carte"].findall(f".//{SVG_NS}path")) == 96
    assert "@" not in text
    for user in User.objects.all():
        assert user.last_name not in text
        assert user.get_full_name() not in text
    for application in Application.objects.all():
        assert application.reference not in text


def test_the_public_summary_of_a_draft_call_does_not_exist(client: Client):
    assert client.get(summary_url(CallFactory(status="draft"))).status_code == 404


# --- the charts on their own -------------------------------------------------------------------------


def test_chart_texts_are_escaped():
    svg = charts.bar_chart([charts.Bar("<script>&", 3, "3")], chart_id="x", title="A & <b>", description="d")
    root = ET.fromstring(svg)  # noqa: S314 - our own markup
    assert root.find(f"{SVG_NS}title").text == "A & <b>"
    assert root.find(f"{SVG_NS}g/{SVG_NS}title").text == "<script>& : 3"


def test_the_line_chart_titles_each_point():
    day = date(2026, 1, 1)
    svg = charts.line_chart(
        [charts.Series("Engagé", [(day, Decimal("10")), (day + timedelta(days=3), Decimal("250000"))])],
        chart_id="l",
        title="t",
        description="d",
    )
    points = ET.fromstring(svg).findall(f"{SVG_NS}circle")  # noqa: S314 - our own markup
    assert [point.find(f"{SVG_NS}title").text for point in points] == [
        "Engagé, 01/01/2026 : 10\u00a0€",
        "Engagé, 04/01/2026 : 250\u00a0000\u00a0€",
    ]


def test_colour_classes_give_zero_its_own_colour():
    assert [item.label for item in charts.colour_classes(0)] == ["Aucune fabrique"]
    assert [item.label for item in charts.colour_classes(9)] == ["Aucune fabrique", "1 à 3", "4 à 6", "7 à 9"]
    assert charts.departements_geojson() is charts.departements_geojson()  # parsed once


# --- snapshots and alerts ----------------------------------------------------------------------


def test_a_snapshot_is_taken_once_a_day_and_updated_when_taken_again():
    call = build([SPECS[0]])
    day = date(2026, 5, 1)
    first = envelope_snapshot_take(call=call, day=day)
    assert (first.committed, first.paid, first.laureates) == (Decimal("150000"), Decimal("50000"), 1)
    build([SPECS[2]], call)
    again = envelope_snapshot_take(call=call, day=day)
    assert EnvelopeSnapshot.objects.filter(call=call).count() == 1
    assert again.pk == first.pk and again.committed == Decimal("240000") and again.laureates == 2
    envelope_snapshot_take(call=call, day=day + timedelta(days=1))
    assert EnvelopeSnapshot.objects.filter(call=call).count() == 2


def test_the_alert_is_sent_once_when_commitments_pass_the_threshold_and_not_below():
    admin = programme_admin()
    other_admin = programme_admin()
    call = CallFactory(envelope=Decimal("400000"), commitment_alert_percent=50)
    day = date(2026, 5, 1)
    build([Spec("32", ["rural"], amount=Decimal("150000"))], call)  # 37.5 %
    assert commitment_alerts_send(call=call, day=day) is None
    assert not OutgoingEmail.objects.filter(key__startswith="envelope-alert:").exists()

    build([Spec("31", ["rural"], amount=Decimal("150000"))], call)  # 75 %
    email = commitment_alerts_send(call=call, day=day)
    assert email is not None and email.key == alert_key(call, day) == f"envelope-alert:{call.pk}:{day}"
    assert email.to == sorted([admin.email, other_admin.email])
    assert "engagée à 75\u00a0%" in email.subject  # « 75 % »: no « ,0 », a no-break space
    assert format_money(Decimal("300000")) in email.body
    assert commitment_alerts_send(call=call, day=day).pk == email.pk
    assert OutgoingEmail.objects.filter(key__startswith="envelope-alert:").count() == 1


def test_the_alert_fires_exactly_at_the_threshold():
    programme_admin()
    call = CallFactory(envelope=Decimal("300000"), commitment_alert_percent=50)
    build([Spec("32", ["rural"], amount=Decimal("150000"))], call)
    assert commitment_alerts_send(call=call, day=date(2026, 5, 1)) is not None


def test_the_daily_task_snapshots_open_calls_and_alerts_once():
    programme_admin()
    call = CallFactory(envelope=Decimal("200000"), commitment_alert_percent=50)
    build([Spec("32", ["rural"], amount=Decimal("150000"))], call)
    closed = CallFactory(status="closed")
    open_calls = Call.objects.filter(status="open").count()  # the seeded call is open too
    assert envelope_daily_task() == {"snapshots": open_calls, "alerts": 1}
    assert envelope_daily_task() == {"snapshots": open_calls, "alerts": 1}  # same day: same rows
    today = timezone.localdate()
    assert EnvelopeSnapshot.objects.filter(day=today).count() == open_calls
    snapshot = EnvelopeSnapshot.objects.get(call=call, day=today)
    assert (snapshot.committed, snapshot.laureates) == (Decimal("150000"), 1)
    assert not EnvelopeSnapshot.objects.filter(call=closed).exists()
    assert OutgoingEmail.objects.filter(key__startswith="envelope-alert:").count() == 1
    assert OutgoingEmail.objects.filter(key=alert_key(call, today)).exists()


def test_the_dashboard_links_to_the_budget_reports(client):
    from django.urls import reverse

    call = CallFactory()
    client.force_login(programme_admin())
    page = client.get(reverse("grants:dashboard", args=[call.slug])).content.decode()
    assert reverse("grants:export-csv", args=[call.slug, "tranches"]) in page
    assert reverse("grants:export-index") in page


# The template loops the dashboard's tables drew their rows with, before they were written in
# Python (grants.views.dashboard), byte for byte.
DEPARTEMENT_ROWS = """{% load portal %}{% for row in figures.by_departement %}{% if row.laureates %}
        <tr><td>{{ row.code }}</td><th scope="row">{{ row.name }}</th><td>{{ row.region_name }}</td><td>{{ row.laureates }}</td><td class="portal-nowrap">{{ row.committed|money }}</td><td class="portal-nowrap">{{ row.paid|money }}</td></tr>
      {% endif %}{% endfor %}"""
WITHOUT_LAUREATE = """{% for row in figures.departements_without_laureate %}{{ row.name }} ({{ row.code }}){% if not forloop.last %}, {% endif %}{% endfor %}"""
REGION_ROWS = """{% load portal %}{% for row in figures.by_region %}
        <tr><th scope="row">{{ row.name }}</th><td>{{ row.laureates }}</td><td class="portal-nowrap">{{ row.committed|money }}</td><td class="portal-nowrap">{{ row.paid|money }}</td></tr>
      {% endfor %}"""


def test_the_tables_rows_written_in_python_are_the_template_loops_bytes(client: Client, programme):
    from django.template import engines

    from grants.views.dashboard import departement_rows_html, region_rows_html, without_laureate_html

    figures = envelope_figures(programme)
    # Texts to escape and a count past a thousand (localized with its separator), as a template would.
    figures["by_departement"][0] = {
        **figures["by_departement"][0],
        "name": "Ain & <Bugey>",
        "laureates": 1234,
        "committed": Decimal("1234.5"),
    }
    figures["by_region"].append(
        {
            "code": "",
            "name": "Non « renseigné » <x>",
            "laureates": 0,
            "committed": Decimal("0.00"),
            "paid": Decimal("0.00"),
        }
    )
    figures["departements_without_laureate"].insert(0, {"code": "2A", "name": "Corse & <du Sud>"})
    engine = engines["django"]
    for source, drawn in (
        (DEPARTEMENT_ROWS, departement_rows_html),
        (WITHOUT_LAUREATE, without_laureate_html),
        (REGION_ROWS, region_rows_html),
    ):
        expected = engine.from_string(source).render({"figures": figures})
        assert str(drawn(figures)) == expected
        assert "&lt;" in expected
    assert str(departement_rows_html(figures)).count("<tr>") == 1 + sum(
        1 for row in figures["by_departement"][1:] if row["laureates"]
    )
    # The pages carry them.
    client.force_login(programme_admin())
    unchanged = envelope_figures(programme)
    page_html = client.get(dashboard_url(programme)).content.decode()
    assert str(departement_rows_html(unchanged)) in page_html
    assert str(region_rows_html(unchanged)) in page_html
    assert f"<p>{without_laureate_html(unchanged)}</p>" in page_html
    summary_html = client.get(summary_url(programme)).content.decode()
    assert str(region_rows_html(unchanged)) in summary_html
