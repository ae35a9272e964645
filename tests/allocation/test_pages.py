"""The scenarios' pages: compute, compose, see, compare; refusals next to their field."""

from decimal import Decimal

import pytest
from django.urls import reverse

from allocation.models import Scenario, ScenarioItem
from tests.factories import give_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    give_second_factor(client, admin_user)
    return client


def compute(admin_client, call, **data):
    fields = {
        "name": "Couverture d'abord",
        "first": "coverage",
        "second": "priority",
        "third": "score",
        "min_score": "",
        "target": "",
        "fixed_in": "",
        "fixed_out": "",
        **data,
    }
    return admin_client.post(reverse("allocation:scenario-compute", args=[call.slug]), fields)


def test_compute_then_compare_with_the_ranking(admin_client, call, candidates):
    response = compute(admin_client, call)
    scenario = Scenario.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("allocation:scenario-detail", args=[scenario.pk])
    page = admin_client.get(response["Location"]).content.decode()
    assert "optimum prouvé" in page
    assert candidates["lot"].reference in page
    assert "450\xa0000\xa0€" in page
    compared = admin_client.get(reverse("allocation:scenario-compare", args=[scenario.pk])).content.decode()
    assert "Classement par note" in compared
    assert "Départements couverts en plus : Lot (46)" in compared
    # Only in the ranking: the Gers's second dossier; only in the scenario: the Lot's.
    only_right = compared.split("Dossiers retenus seulement par « Couverture d&#x27;abord »")[1]
    assert candidates["lot"].reference in only_right.split("</table>")[0]
    only_left = compared.split("Dossiers retenus seulement par « Classement par note »")[1]
    assert candidates["gers2"].reference in only_left.split("</table>")[0]
    # The maps and the chart, each with its table.
    assert compared.count("<svg") == 3
    covered = compared.split("Départements couverts par l'une ou l'autre sélection")[1].split("</table>")[0]
    assert [code for code in ("32", "40", "46") if f"<td>{code}</td>" in covered] == ["32", "40", "46"]
    assert "Chiffres des deux sélections" in compared


def test_compare_with_another_scenario(admin_client, call, candidates):
    compute(admin_client, call)
    compute(admin_client, call, name="Les notes", first="score", second="coverage", third="priority")
    first, second = Scenario.objects.order_by("created_at")
    url = reverse("allocation:scenario-compare", args=[first.pk]) + f"?avec={second.pk}"
    page = admin_client.get(url).content.decode()
    assert "« Couverture d&#x27;abord » comparé à « Les notes »" in page
    assert (
        admin_client.get(
            reverse("allocation:scenario-compare", args=[first.pk]) + "?avec=nimporte"
        ).status_code
        == 404
    )


def test_compute_form_shows_errors_next_to_the_fields_and_saves_nothing(admin_client, call, candidates):
    response = compute(admin_client, call, name="", second="coverage", fixed_in="TST-0000-99999")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Classez les trois objectifs, chacun une fois." in page
    assert "Aucun dossier de l&#x27;appel n&#x27;a la référence TST-0000-99999." in page
    assert not Scenario.objects.exists()


def test_compute_refused_by_the_solver_says_why(admin_client, call, candidates):
    compute(admin_client, call, min_score="70", fixed_in=candidates["lot"].reference)
    scenario = Scenario.objects.get()
    page = admin_client.get(reverse("allocation:scenario-detail", args=[scenario.pk])).content.decode()
    assert "Aucune sélection possible" in page
    assert "retenu d&#x27;office, a une note inférieure à la note minimale" in page


def test_compose_from_the_ranked_list(admin_client, call, candidates):
    url = reverse("allocation:scenario-build", args=[call.slug])
    page = admin_client.get(url).content.decode()
    assert page.index(candidates["gers1"].reference) < page.index(candidates["lot"].reference)
    gers, lot = candidates["gers1"], candidates["lot"]
    response = admin_client.post(
        url,
        {
            "name": "Mon choix",
            "selected": [str(gers.pk), str(lot.pk)],
            f"amount_{gers.pk}": "150 000",
            f"amount_{lot.pk}": "80 000,00",
        },
    )
    scenario = Scenario.objects.get()
    assert response.status_code == 302
    assert dict(ScenarioItem.objects.filter(scenario=scenario).values_list("application_id", "amount")) == {
        gers.pk: Decimal("150000.00"),
        lot.pk: Decimal("80000.00"),
    }
    refused = admin_client.post(
        url, {"name": "Trop", "selected": [str(gers.pk)], f"amount_{gers.pk}": "20 000"}
    ).content.decode()
    assert "doit être compris entre" in refused
    assert Scenario.objects.count() == 1


def test_list_page_counts_queries_whatever_the_number_of_scenarios(
    admin_client, call, candidates, django_assert_max_num_queries
):
    compute(admin_client, call)
    compute(admin_client, call, name="Deux")
    url = reverse("allocation:scenario-list", args=[call.slug])
    with django_assert_max_num_queries(12):
        page = admin_client.get(url).content.decode()
    assert "Couverture d&#x27;abord" in page
    assert "Deux" in page


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "x" * 100_000, "first": "nope", "min_score": "Infinity", "target": "1e30"},
        {"name": "A\x00B", "min_score": "NaN", "target": "-3", "fixed_in": "\x00", "wave": "999999"},
        {"name": ["a", "b"], "first": ["coverage", "score"], "reducible": "maybe"},
    ],
)
def test_malformed_compute_posts_are_answered_in_french(admin_client, call, candidates, payload):
    response = admin_client.post(reverse("allocation:scenario-compute", args=[call.slug]), payload)
    assert response.status_code == 200
    assert "fr-alert--error" in response.content.decode()
    assert not Scenario.objects.exists()


def test_malformed_build_posts_are_answered_in_french(admin_client, call, candidates):
    url = reverse("allocation:scenario-build", args=[call.slug])
    gers = candidates["gers1"]
    for payload in (
        {"name": "Un", "selected": ["abc", "999999"], f"amount_{gers.pk}": "NaN"},
        {"name": "Deux", "selected": [str(gers.pk)], f"amount_{gers.pk}": "Infinity"},
        {"name": "", "selected": []},
    ):
        response = admin_client.post(url, payload)
        assert response.status_code == 200
        assert "fr-alert--error" in response.content.decode()
    assert admin_client.get(url + "?vague=abc").status_code == 404
    assert admin_client.get(url + "?vague=99").status_code == 404
    assert not Scenario.objects.exists()


def test_a_scenario_not_proven_optimal_says_its_gap(admin_client, call, candidates):
    compute(admin_client, call)
    scenario = Scenario.objects.get()
    Scenario.objects.filter(pk=scenario.pk).update(optimal=False, gap=0.0125)
    page = admin_client.get(reverse("allocation:scenario-detail", args=[scenario.pk])).content.decode()
    assert "meilleure sélection trouvée dans le temps imparti (écart à l'optimum au plus 1,25\xa0%)" in page


def test_a_scenario_goes_on_a_committee_agenda_after_a_recap(admin_client, admin_user, call, candidates):
    from django.utils import timezone

    from accounts.models import AuditEvent
    from allocation.selectors import scenario_items
    from grants.models import CommitteeItem
    from grants.services.committees import committee_create

    session = committee_create(
        call=call,
        wave=None,
        title="Comité de mars",
        starts_at=timezone.now(),
        place="Paris",
        actor=admin_user,
    )
    compute(admin_client, call)
    scenario = Scenario.objects.get()
    url = reverse("allocation:scenario-agenda", args=[scenario.pk])
    page = admin_client.get(url).content.decode()
    assert "Comité de mars (en préparation)" in page
    # The recap first: nothing written yet.
    recap = admin_client.post(url, {"session": session.pk}).content.decode()
    assert "3 dossiers inscrits à l'ordre du jour de « Comité de mars », pour 450\xa0000\xa0€" in recap
    assert "L'ordre du jour était vide." in recap
    assert not CommitteeItem.objects.exists()
    response = admin_client.post(url, {"session": session.pk, "confirm": "1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("grants:committee-detail", args=[session.pk])
    expected = {(application.pk, amount) for application, amount in scenario_items(scenario)}
    assert set(CommitteeItem.objects.values_list("application_id", "proposed")) == expected
    assert AuditEvent.objects.filter(action="scenario.to_agenda").count() == 1
    # A session that no longer takes changes is not offered, and refused if posted.
    session.status = "held"
    session.save(update_fields=["status"])
    refused = admin_client.post(url, {"session": session.pk, "confirm": "1"}).content.decode()
    assert "Cette séance n&#x27;accepte plus de changement d&#x27;ordre du jour." in refused
    assert AuditEvent.objects.filter(action="scenario.to_agenda").count() == 1
