"""The programme's page of processing times and the dossier's time line on the instruction page."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from applications import selectors_times
from applications.models import StatusChange
from tests.applications.test_times import build, dossier
from tests.factories import in_review_application, occitanie_instructor, programme_admin
from tests.grants.test_page_queries import queries_of

pytestmark = pytest.mark.django_db

# The session, the user, their second factor and their roles, then the call, the stays (one window
# query) and the assignments.
TIMES_PAGE_QUERIES = 7


def test_the_programme_admin_reads_the_medians_of_a_call_with_their_counts_and_charts(client: Client) -> None:
    fixture = build()
    client.force_login(programme_admin())
    response = client.get(reverse("grants:processing-times", args=[fixture.call.slug]))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Délais d'instruction — {fixture.call.title}" in page
    # The whole call, per state: 5 finished stays « déposé » with a median of 5 days.
    assert '5 jours</span><br><span class="fr-text--xs">5 séjours</span>' in page
    # Wave 1's median « déposé » over 4 stays, flagged as a small sample.
    assert '3,5 jours</span><br><span class="fr-text--xs">4 séjours, échantillon réduit</span>' in page
    for name in ("Gers (32)", "Landes (40)", "Alice Martin", "Bob Durand", "Vague 1", "Vague 2"):
        assert f'<th scope="row">{name}</th>' in page
    assert "Carol" not in page  # her only dossier is conflicted
    # Each chart is an image with its title, followed by its table.
    for chart in ("etats", "departements", "instructeurs", "vagues"):
        assert f'id="delais-{fixture.call.slug}-{chart}"' in page
    assert "<title>Landes (40) : " not in page  # no finished stay « en instruction » in the Landes
    assert "<title>Gers (32) : 9 jours</title>" in page
    # Nothing is the slowest over samples this small.
    assert "le plus lent" not in page


def test_the_slowest_median_of_a_breakdown_is_highlighted(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixture = build()
    monkeypatch.setattr(selectors_times, "SMALL_SAMPLE", 2)
    client.force_login(programme_admin())
    page = client.get(reverse("grants:processing-times", args=[fixture.call.slug])).content.decode()
    # Landes: « déposé » 15 days over 2 stays, the slowest département.
    assert (
        '<span class="portal-nowrap portal-slowest">15 jours</span> '
        '<span class="fr-badge fr-badge--sm fr-badge--warning">le plus lent</span>'
    ) in page


def test_the_times_page_runs_the_same_queries_for_four_dossiers_and_for_fourteen(client: Client) -> None:
    fixture = build()
    client.force_login(programme_admin())
    url = reverse("grants:processing-times", args=[fixture.call.slug])
    assert queries_of(client, url, "Vague 2") == TIMES_PAGE_QUERIES
    wave = fixture.call.waves.get(number=2)
    for number in range(10):
        dossier(fixture.call, f"X{number}", "33", wave, [("", "draft", 9), ("draft", "submitted", 8)])
    assert queries_of(client, url, "Gironde (33)") == TIMES_PAGE_QUERIES
    # An instructor's territory is a subquery of the same two queries.
    client.force_login(occitanie_instructor())
    assert queries_of(client, url, "Gers (32)") == TIMES_PAGE_QUERIES


def test_the_times_page_of_a_call_without_dossiers_says_so(client: Client) -> None:
    from tests.factories import CallFactory

    call = CallFactory(documents=False)
    client.force_login(programme_admin())
    page = client.get(reverse("grants:processing-times", args=[call.slug])).content.decode()
    assert "Aucun dossier déposé pour l'instant." in page
    assert "Aucun dossier affecté pour l'instant." in page


def test_the_programme_home_and_the_dashboard_link_to_the_times_page(client: Client) -> None:
    fixture = build()
    client.force_login(programme_admin())
    url = reverse("grants:processing-times", args=[fixture.call.slug])
    assert f'href="{url}"' in client.get(reverse("grants:admin-home")).content.decode()
    assert (
        f'href="{url}"' in client.get(reverse("grants:dashboard", args=[fixture.call.slug])).content.decode()
    )


def test_the_instruction_page_shows_the_dossiers_days_in_each_state(client: Client) -> None:
    application, reviewer = in_review_application()
    # Submitted 12 days ago, taken into review 2,5 days ago (the creation of a draft is not a move).
    changes = list(application.status_changes.order_by("at", "pk"))
    assert [change.to_status for change in changes] == ["submitted", "in_review"]
    now = timezone.now()
    changes[0].at, changes[1].at = now - timedelta(days=12), now - timedelta(days=2.5)
    StatusChange.objects.bulk_update(changes, ["at"])
    client.force_login(reviewer)
    page = client.get(reverse("applications:review-detail", args=[application.reference])).content.decode()
    section = page[page.index('<section id="delais"') :]
    section = section[: section.index("</section>")]
    stays, totals = section.split("<caption>")[1:]
    assert stays.count("<tr>") == 1 + 2  # the header and two stays
    assert '<th scope="row">Déposé</th>' in stays and "9,5 jours" in stays
    assert '<span class="fr-badge fr-badge--sm fr-badge--info">en cours</span>' in stays
    assert "2,5 jours" in stays
    assert (
        '<th scope="row">En instruction <span class="fr-badge fr-badge--sm fr-badge--info">en cours</span></th>'
        '<td class="portal-nowrap">2,5 jours</td>'
    ) in totals
    assert '<th scope="row">Déposé</th><td class="portal-nowrap">9,5 jours</td>' in totals
    url = reverse("grants:processing-times", args=[application.call.slug])
    assert f'<a class="fr-link" href="{url}">Les délais de l\'appel sur votre territoire' in section


def test_an_instructor_reads_the_times_of_their_territory_only(client: Client) -> None:
    fixture = build()
    client.force_login(occitanie_instructor())  # the Gers (32), not the Landes (40)
    response = client.get(reverse("grants:processing-times", args=[fixture.call.slug]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Dossiers de votre territoire" in page
    assert "les 2 dossiers de l'appel" in page
    assert '<th scope="row">Gers (32)</th>' in page
    assert "Landes" not in page
    assert "Vague 2" not in page  # A3, the Landes' dossier, was its only one
    assert reverse("grants:dashboard", args=[fixture.call.slug]) not in page


def test_a_call_in_preparation_is_not_shown_to_instructors(client: Client) -> None:
    from tests.factories import CallFactory

    call = CallFactory(documents=False, status="draft")
    client.force_login(occitanie_instructor())
    assert client.get(reverse("grants:processing-times", args=[call.slug])).status_code == 404
    client.force_login(programme_admin())
    assert client.get(reverse("grants:processing-times", args=[call.slug])).status_code == 200
