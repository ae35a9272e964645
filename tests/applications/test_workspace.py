import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.models import Application, Call, Member, Wave
from fabriques.models import Organisation, TiersLieu
from tests.factories import (
    CallFactory,
    OrganisationFactory,
    applicant,
    complete_application,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)

pytestmark = pytest.mark.django_db

WORKSPACE = reverse("applications:instructor-home")
NO_LAUREATE = "Aucun lauréat dans ce département"


def page_of(client, **params: object) -> str:  # type: ignore[no-untyped-def]
    response = client.get(WORKSPACE, params)
    assert response.status_code == 200
    return response.content.decode()


def references_in(page: str) -> list[str]:
    """The references listed in the table, in their order."""
    return re.findall(r'<a href="/instruction/dossiers/[^/"]+/">([^<]+)</a>', page)


def set_fields(application: Application, **fields: object) -> Application:
    Application.objects.filter(pk=application.pk).update(**fields)
    application.refresh_from_db()
    return application


def paris_dossier(**kwargs: object) -> Application:
    """A submitted dossier of Paris (75, Île-de-France): lead structure, place and territory."""
    application = submitted_application(**kwargs)
    lead = Member.objects.get(application=application, is_lead=True).organisation
    Organisation.objects.filter(pk=lead.pk).update(
        departement_id="75", postal_code="75001", commune_code="75101", commune_name="Paris"
    )
    TiersLieu.objects.filter(applications=application).update(departement_id="75", commune_name="Paris")
    return set_fields(application, departement_id="75", title="La fabrique de Paris")


def awarded(application: Application) -> Application:
    return set_fields(application, status="awarded", submitted_at=application.submitted_at or timezone.now())


def test_an_occitanie_instructor_sees_the_gers_and_not_another_region(client):
    gers = submitted_application()
    paris = paris_dossier()
    client.force_login(occitanie_instructor())
    page = page_of(client)
    assert gers.reference in page
    assert paris.reference not in page
    assert reverse("applications:review-detail", kwargs={"reference": gers.reference}) in page
    # The scope stays on the page.
    assert "Région Occitanie (76)" in page
    assert "13 départements instruits" in page


def test_a_programme_admin_sees_both_territories(client):
    gers = submitted_application()
    paris = paris_dossier()
    client.force_login(programme_admin())
    page = page_of(client)
    assert gers.reference in page and paris.reference in page
    assert "vous voyez les dossiers déposés de tous les territoires" in page


def test_drafts_never_appear(client):
    draft = complete_application()
    client.force_login(programme_admin())
    for tab in ("a-instruire", "en-instruction", "decides"):
        assert draft.reference not in page_of(client, tab=tab)
    page = page_of(client)
    assert "Aucun dossier dans cet onglet pour le moment." in page


def test_an_applicant_gets_403_and_an_anonymous_visitor_the_login_page(client):
    response = client.get(WORKSPACE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")
    client.force_login(applicant())
    assert client.get(WORKSPACE).status_code == 403


def test_tabs_split_the_dossiers_by_state_and_show_their_counts(client):
    call = CallFactory()
    submitted = submitted_application(call=call)
    in_review = set_fields(submitted_application(call=call), status="in_review")
    corrections = set_fields(submitted_application(call=call), status="corrections_requested")
    refused = set_fields(submitted_application(call=call), status="refused")
    client.force_login(occitanie_instructor())

    page = page_of(client)
    assert "À instruire (1)" in page and "En instruction (2)" in page and "Décidés ou retirés (1)" in page
    assert references_in(page) == [submitted.reference]
    assert 'aria-current="page">À instruire (1)' in page

    page = page_of(client, tab="en-instruction")
    assert set(references_in(page)) == {in_review.reference, corrections.reference}
    assert 'aria-current="page">En instruction (2)' in page

    page = page_of(client, tab="decides")
    assert references_in(page) == [refused.reference]

    # An unknown tab falls back to the first.
    assert references_in(page_of(client, tab="nimporte")) == [submitted.reference]


def test_each_filter_narrows_the_list(client):
    call = CallFactory()
    other_call = CallFactory()
    first = submitted_application(call=call)
    second = submitted_application(call=call)
    third = submitted_application(call=other_call)
    client.force_login(programme_admin())

    set_fields(first, departement_id="31")
    assert references_in(page_of(client, departement="31")) == [first.reference]

    TiersLieu.objects.filter(applications=second).update(zone="rural")
    assert references_in(page_of(client, zone="rural")) == [second.reference]
    assert references_in(page_of(client, zone="qpv")) == []

    set_fields(third, kind="fnt")
    assert references_in(page_of(client, kind="fnt")) == [third.reference]
    assert set(references_in(page_of(client, kind="ft"))) == {first.reference, second.reference}

    assert set(references_in(page_of(client, call=call.pk))) == {first.reference, second.reference}

    wave = Wave.objects.create(call=call, number=1, name="Vague de printemps", deadline=timezone.now())
    set_fields(second, wave=wave)
    assert references_in(page_of(client, wave=wave.pk)) == [second.reference]

    set_fields(third, status="in_review")
    page = page_of(client, status="in_review")
    assert references_in(page) == [third.reference]
    assert 'aria-current="page">En instruction (1)' in page

    set_fields(first, score=Decimal("42.0"))
    set_fields(second, score=Decimal("75.5"))
    assert references_in(page_of(client, score_min="50")) == [second.reference]
    assert references_in(page_of(client, score_max="50")) == [first.reference]
    assert set(references_in(page_of(client, score_min="40", score_max="80"))) == {
        first.reference,
        second.reference,
    }
    assert references_in(page_of(client, score_min="75,5")) == [second.reference]


def test_search_by_siret_with_spaces_by_reference_and_by_name(client):
    call = CallFactory()
    first = submitted_application(call=call)
    second = submitted_application(call=call)
    lead = Member.objects.get(application=second, is_lead=True).organisation
    Organisation.objects.filter(pk=lead.pk).update(name="Coopérative des Hautes-Pyrénées")
    client.force_login(occitanie_instructor())

    siret = lead.siret
    spaced = f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"
    assert references_in(page_of(client, q=spaced)) == [second.reference]
    assert references_in(page_of(client, q=siret)) == [second.reference]
    assert references_in(page_of(client, q=first.reference.lower())) == [first.reference]
    assert references_in(page_of(client, q="hautes-pyrénées")) == [second.reference]
    set_fields(first, title="Le tiers-lieu de la Lomagne")
    assert references_in(page_of(client, q="lomagne")) == [first.reference]
    page = page_of(client, q="introuvable")
    assert references_in(page) == []
    assert "Aucun dossier de cet onglet ne correspond à votre recherche." in page


def test_sort_by_score_desc_ranks_the_dossiers_of_a_call(client):
    call = CallFactory()
    low = set_fields(submitted_application(call=call), score=Decimal("60.0"), score_spread=Decimal("4.0"))
    high = set_fields(submitted_application(call=call), score=Decimal("85.0"), score_spread=Decimal("2.5"))
    middle = set_fields(submitted_application(call=call), score=Decimal("72.0"))
    unscored = submitted_application(call=call)
    client.force_login(occitanie_instructor())

    page = page_of(client, call=call.pk, sort="-score")
    assert references_in(page) == [high.reference, middle.reference, low.reference, unscored.reference]
    assert '<th scope="col">Rang</th>' in page
    ranks = re.findall(r"<tr>\s*<td>(\d+|—)</td>\s*<td class=\"portal-nowrap\"><a", page)
    assert ranks == ["1", "2", "3", "—"]
    assert "85,0" in page and "écart 2,5" in page

    ascending = page_of(client, call=call.pk, sort="score")
    assert references_in(ascending) == [low.reference, middle.reference, high.reference, unscored.reference]
    assert re.findall(r"<tr>\s*<td>(\d+|—)</td>\s*<td class=\"portal-nowrap\"><a", ascending) == [
        "3",
        "2",
        "1",
        "—",
    ]

    # Without one call or one wave, or without a sort by score, no rank.
    assert '<th scope="col">Rang</th>' not in page_of(client, sort="-score")
    assert '<th scope="col">Rang</th>' not in page_of(client, call=call.pk, sort="reference")


def test_sort_by_reference_both_ways(client):
    call = CallFactory()
    dossiers = [submitted_application(call=call) for _ in range(3)]
    client.force_login(occitanie_instructor())
    references = sorted(application.reference for application in dossiers)
    assert references_in(page_of(client, sort="reference")) == references
    assert references_in(page_of(client, sort="-reference")) == references[::-1]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"score_min": "abc"}, "Saisissez un nombre."),
        ({"score_max": "120"}, "Assurez-vous que cette valeur est inférieure ou égale à 100"),
        ({"score_min": "80", "score_max": "20"}, "La note maximale doit être supérieure ou égale"),
        ({"per_page": "7"}, "Sélectionnez un choix valide."),
        ({"departement": "75"}, "Ce département ne fait pas partie de votre périmètre."),
        ({"departement": "999"}, "Ce département ne fait pas partie de votre périmètre."),
        ({"call": "abc"}, "Cet appel n’existe pas."),
        ({"sort": "hasard"}, "Sélectionnez un choix valide."),
    ],
)
def test_invalid_filters_show_a_french_error_and_still_list(client, params, message):
    gers = submitted_application()
    client.force_login(occitanie_instructor())
    response = client.get(WORKSPACE, params)
    assert response.status_code == 200
    page = response.content.decode()
    assert message.replace("’", "&#x27;") in page or message in page
    assert "portal-error-summary" in page
    assert gers.reference in page


def test_the_coverage_badge_goes_once_a_dossier_of_the_departement_is_awarded(client):
    call = CallFactory()
    waiting = submitted_application(call=call)
    client.force_login(occitanie_instructor())
    assert NO_LAUREATE in page_of(client)

    # A laureate of another call in the same département counts too.
    awarded(submitted_application())
    page = page_of(client)
    assert waiting.reference in page
    assert NO_LAUREATE not in page


def test_the_coverage_badge_is_per_departement(client):
    gers = submitted_application()
    haute_garonne = set_fields(submitted_application(), departement_id="31")
    awarded(set_fields(submitted_application(), departement_id="31"))
    client.force_login(occitanie_instructor())
    page = page_of(client)
    rows = {reference: row for row in page.split("<tr>")[1:] for reference in references_in(row)}
    assert NO_LAUREATE in rows[gers.reference]
    assert NO_LAUREATE not in rows[haute_garonne.reference]


def test_pagination_keeps_the_filters(client):
    call = CallFactory()
    for _ in range(12):
        submitted_application(call=call)
    client.force_login(occitanie_instructor())
    page = page_of(client, per_page="10", call=call.pk, sort="reference")
    assert len(references_in(page)) == 10
    assert 'class="fr-pagination"' in page
    assert "page 1 sur 2" in page
    next_link = re.search(r'href="(\?[^"]*page=2[^"]*)"', page)
    assert next_link is not None
    link = next_link.group(1).replace("&amp;", "&")
    assert f"call={call.pk}" in link and "per_page=10" in link and "sort=reference" in link
    second = client.get(WORKSPACE + link).content.decode()
    assert len(references_in(second)) == 2
    assert "page 2 sur 2" in second
    # A page number out of range shows the last page rather than an error.
    assert client.get(WORKSPACE, {"per_page": "10", "page": "99"}).status_code == 200


def quick_dossier(call: Call, number: int) -> Application:
    """A submitted dossier in the Gers with its lead structure, written directly (for volume)."""
    user = applicant()
    application = Application.objects.create(
        reference=f"VOL-2026-{number:05d}",
        call=call,
        title=f"Dossier {number}",
        status="submitted",
        submitted_at=timezone.now(),
        departement_id="32",
        score=Decimal(number % 100),
        score_spread=Decimal("1.0"),
        created_by=user,
    )
    Member.objects.create(
        application=application,
        organisation=OrganisationFactory(),
        is_lead=True,
        role="Porteur",
        share_percent=Decimal("100"),
    )
    return application


def test_the_page_runs_the_same_number_of_queries_for_2_and_30_dossiers(client):
    call = CallFactory()
    user = occitanie_instructor()
    client.force_login(user)
    for number in range(2):
        quick_dossier(call, number)
    params = {"per_page": "50", "call": call.pk, "sort": "-score"}
    page_of(client, **params)  # warm the caches (content types, sessions) before counting

    with CaptureQueriesContext(connection) as small:
        page = page_of(client, **params)
    assert len(references_in(page)) == 2

    for number in range(2, 30):
        quick_dossier(call, number)
    with CaptureQueriesContext(connection) as large:
        page = page_of(client, **params)
    assert len(references_in(page)) == 30
    assert len(large.captured_queries) == len(small.captured_queries)


def test_25_dossiers_per_page_by_default(client):
    call = CallFactory()
    for number in range(26):
        quick_dossier(call, number)
    client.force_login(programme_admin())
    page = page_of(client)
    assert len(references_in(page)) == 25
    assert "À instruire : 26 dossiers — page 1 sur 2" in page
    assert len(references_in(page_of(client, page="2"))) == 1
    assert len(references_in(page_of(client, per_page="100"))) == 26


def test_the_unfiltered_page_reads_the_counts_and_runs_the_same_queries_for_2_and_30(client):
    """Without a filter the tabs are counted from DossierCount: as many queries at any size."""
    call = CallFactory()
    user = occitanie_instructor()
    client.force_login(user)
    for number in range(2):
        quick_dossier(call, number)
    page_of(client)

    with CaptureQueriesContext(connection) as small:
        page = page_of(client)
    assert "À instruire : 2 dossiers" in page
    assert any("applications_dossiercount" in query["sql"] for query in small.captured_queries)

    for number in range(2, 30):
        quick_dossier(call, number)
    with CaptureQueriesContext(connection) as large:
        page = page_of(client)
    assert "À instruire : 30 dossiers" in page
    assert len(large.captured_queries) == len(small.captured_queries)


def test_the_rows_per_page_select_shows_the_default_when_the_query_does_not_say(client):
    """Without `per_page` the select shows 25 (the rows shown), so « Filtrer » keeps 25 per page."""
    call = CallFactory()
    for number in range(12):
        quick_dossier(call, number)
    client.force_login(programme_admin())
    page = page_of(client, kind="ft")
    select = re.search(r'<select name="per_page".*?</select>', page, re.S)
    assert select is not None
    assert re.findall(r'<option value="(\d+)"[^>]*selected', select.group(0)) == ["25"]
    assert len(references_in(page)) == 12
    page = page_of(client, kind="ft", per_page="10")
    select = re.search(r'<select name="per_page".*?</select>', page, re.S)
    assert select is not None
    assert re.findall(r'<option value="(\d+)"[^>]*selected', select.group(0)) == ["10"]
    assert len(references_in(page)) == 10
