"""The notification centre's pages: the list, its filters and pagination, opening and marking read,
the header's count (from the user row: no query of its own), the preferences in « Mon compte »."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, User
from notifications.models import Frequency, Notification, NotificationPreference
from notifications.models import NotificationKind as K
from notifications.services_inbox import Event, notify, unread_recount
from notifications.views import PER_PAGE
from tests.factories import applicant, give_second_factor, instructor, programme_admin

pytestmark = pytest.mark.django_db

# Pinned (issue 14): the session, the user, their roles (the navigation), the kinds present, the
# page's count and its rows.
CENTRE_QUERIES = 6


def note(
    person: User, key: str, *, kind: str = K.MESSAGE_FROM_INSTRUCTION, title: str = "", link: str = "/"
) -> Notification:
    [row] = notify(
        event=Event(kind=kind, key=key, title=title or f"Notification {key}", text="Un texte.", link=link),
        recipient_ids=[person.pk],
    )
    return row


def text(response) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_centre_lists_my_notifications_newest_first_with_the_unread_ones_marked(client: Client) -> None:
    person, other = applicant(), applicant()
    read = note(person, "old", title="Ancienne notification")
    note(person, "new", title="Nouvelle notification")
    note(other, "theirs", title="Celle d'un autre")
    client.force_login(person)
    client.get(reverse("notifications:open", args=[read.pk]))
    page = text(client.get(reverse("notifications:centre")))
    assert page.index("Nouvelle notification") < page.index("Ancienne notification")
    assert "Celle d'un autre" not in page
    assert page.count("Non lue</span>") == 1
    assert "1 notification non lue." in page
    assert f'href="/notifications/{read.pk}/"' in page


def test_the_header_shows_the_unread_count_with_its_accessible_text(client: Client) -> None:
    person = applicant()
    for index in range(3):
        note(person, f"n{index}")
    client.force_login(person)
    page = text(client.get(reverse("notifications:centre")))
    assert 'aria-hidden="true">3</span>' in page
    assert '<span class="fr-sr-only"> : 3 notifications non lues</span>' in page


def test_the_centre_runs_a_pinned_number_of_queries_whatever_the_number_of_notifications(
    client: Client,
) -> None:
    person = applicant()
    client.force_login(person)
    url = reverse("notifications:centre")

    def queries() -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    note(person, "first")
    one = queries()
    for index in range(PER_PAGE + 5):
        note(person, f"more{index}", kind=K.CORRECTIONS_ASKED if index % 2 else K.MESSAGE_FROM_INSTRUCTION)
    assert one == queries() == CENTRE_QUERIES


def test_the_centre_filters_by_kind_and_unread_and_paginates(client: Client) -> None:
    person = applicant()
    opened = note(person, "m1", title="Message lu")
    note(person, "m2", title="Message non lu")
    note(person, "c1", kind=K.CORRECTIONS_ASKED, title="Compléments à fournir")
    client.force_login(person)
    client.get(reverse("notifications:open", args=[opened.pk]))
    url = reverse("notifications:centre")
    by_kind = text(client.get(url, {"kind": K.CORRECTIONS_ASKED}))
    assert "Compléments à fournir" in by_kind and "Message non lu" not in by_kind
    unread = text(client.get(url, {"unread": "on"}))
    assert "Message non lu" in unread and "Message lu<" not in unread
    # Only the kinds I have are offered.
    assert f'value="{K.DOSSIER_SUBMITTED}"' not in by_kind
    for index in range(PER_PAGE):
        note(person, f"p{index}", title=f"Page {index}")
    first = text(client.get(url))
    assert "Page suivante" in first and "Message lu<" not in first
    second = text(client.get(url, {"page": 2}))
    assert "Message lu" in second


def test_opening_a_notification_marks_it_read_and_follows_its_link(client: Client) -> None:
    person = applicant()
    row = note(person, "go", link="/mon-espace/dossiers/")
    client.force_login(person)
    response = client.get(reverse("notifications:open", args=[row.pk]))
    assert response.status_code == 302
    assert response["Location"] == "/mon-espace/dossiers/"
    row.refresh_from_db()
    assert row.read_at is not None
    assert User.objects.get(pk=person.pk).unread_notifications == 0


def test_another_persons_notification_is_a_404_and_stays_unread(client: Client) -> None:
    owner, intruder = applicant(), applicant()
    row = note(owner, "mine")
    client.force_login(intruder)
    assert client.get(reverse("notifications:open", args=[row.pk])).status_code == 404
    row.refresh_from_db()
    assert row.read_at is None
    assert User.objects.get(pk=owner.pk).unread_notifications == 1


def test_mark_all_read_is_a_post_that_empties_the_count(client: Client) -> None:
    person, other = applicant(), applicant()
    note(person, "a")
    note(person, "b")
    note(other, "c")
    client.force_login(person)
    url = reverse("notifications:mark-all-read")
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert "2 notifications marquées comme lues." in text(response)
    assert User.objects.get(pk=person.pk).unread_notifications == 0 == unread_recount(user_id=person.pk)
    assert User.objects.get(pk=other.pk).unread_notifications == 1


def test_the_centre_is_for_every_role(client: Client) -> None:
    for person in (applicant(), instructor(), programme_admin()):
        client.force_login(person)
        give_second_factor(client, person)
        assert client.get(reverse("notifications:centre")).status_code == 200
    client.logout()
    assert client.get(reverse("notifications:centre")).status_code == 302


# --- preferences ----------------------------------------------------------------------------------


def test_the_preferences_page_offers_the_kinds_of_my_role_with_their_defaults(client: Client) -> None:
    person = instructor()
    client.force_login(person)
    give_second_factor(client, person)
    page = text(client.get(reverse("accounts:notification-preferences")))
    assert "Nouveau dossier déposé dans mon territoire" in page
    assert "Versement en retard" not in page  # the admins'
    assert "Message de l'instruction" not in page  # the applicants'
    assert re.search(rf'name="{K.DOSSIER_SUBMITTED}" value="digest"[^>]*checked', page)
    assert re.search(rf'name="{K.MESSAGE_FROM_APPLICANT}" value="instant"[^>]*checked', page)
    admin = programme_admin()
    client.force_login(admin)
    give_second_factor(client, admin)
    page = text(client.get(reverse("accounts:notification-preferences")))
    assert re.search(rf'name="{K.PAYMENT_OVERDUE}" value="digest"[^>]*checked', page)


def test_the_preferences_page_saves_the_choices_with_an_audit_row(client: Client) -> None:
    person = applicant()
    client.force_login(person)
    url = reverse("accounts:notification-preferences")
    page = text(client.get(url))
    # The official e-mails are listed apart, not offered.
    assert "Décision prise sur mon dossier" in page
    assert f'name="{K.DECISION_TAKEN}"' not in page
    response = client.post(url, {K.MESSAGE_FROM_INSTRUCTION: Frequency.NEVER}, follow=True)
    assert "Vos préférences de notification sont enregistrées." in text(response)
    preference = NotificationPreference.objects.get(user=person)
    assert (preference.kind, preference.frequency) == (K.MESSAGE_FROM_INSTRUCTION, Frequency.NEVER)
    assert AuditEvent.objects.filter(action="notifications.preferences", actor=person).count() == 1


def test_the_preferences_page_refuses_an_unknown_choice_next_to_the_field(client: Client) -> None:
    person = applicant()
    client.force_login(person)
    response = client.post(
        reverse("accounts:notification-preferences"), {K.MESSAGE_FROM_INSTRUCTION: "hourly"}
    )
    assert response.status_code == 200
    assert "Sélectionnez un choix valide" in text(response)
    assert not NotificationPreference.objects.exists()


def test_the_security_page_links_to_the_preferences(client: Client) -> None:
    person = applicant()
    client.force_login(person)
    assert reverse("accounts:notification-preferences") in text(client.get(reverse("accounts:security")))


def test_the_technical_admin_lists_the_notifications_read_only(client: Client) -> None:
    from tests.factories import UserFactory

    staff = UserFactory(is_staff=True, is_superuser=True)
    person = applicant()
    row = note(person, "admin", title="Vue dans l'administration")
    client.force_login(staff)
    page = client.get(reverse("admin:notifications_notification_changelist"), {"q": person.email})
    assert "Vue dans l&#x27;administration" in page.content.decode()
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
    client.post(reverse("admin:notifications_notification_delete", args=[row.pk]), {"post": "yes"})
    assert Notification.objects.filter(pk=row.pk).exists()


def test_the_header_count_adds_no_query_to_a_pinned_page(client: Client) -> None:
    from tests.factories import in_review_application
    from tests.grants.test_page_queries import APPLICANT_DOSSIER_QUERIES, queries_of

    application, _reviewer = in_review_application()
    author = application.created_by
    for index in range(3):
        note(author, f"h{index}")
    client.force_login(author)
    url = reverse("applications:dossier-detail", args=[application.reference])
    assert queries_of(client, url, "3 notifications non lues") == APPLICANT_DOSSIER_QUERIES
