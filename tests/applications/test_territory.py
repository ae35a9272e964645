"""The territory that instructs a dossier: shown to the applicant, chosen among its places'
départements, applied at submission, moved by a programme admin (recap, audit, e-mails)."""

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import AuditEvent
from applications.counters import dossier_counts_recount, dossier_counts_stored
from applications.models import Application, DossierCount, TerritoryMove
from applications.selectors import (
    application_completeness,
    application_territory,
    applications_reviewable_by,
)
from applications.services import (
    application_choose_departement,
    application_move_territory,
    application_set_places,
    application_submit,
)
from applications.services.review import corrections_request
from fabriques.models import Departement, Region, TiersLieu
from fabriques.services import instructor_scope_set
from notifications.models import OutgoingEmail
from tests.factories import (
    complete_application,
    in_review_application,
    instructor,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)

pytestmark = pytest.mark.django_db

CHOOSE = "Vos lieux sont dans plusieurs départements : choisissez celui qui instruira le dossier."


def url(name: str, application: Application) -> str:
    return reverse(f"applications:{name}", kwargs={"reference": application.reference})


def paris_instructor():  # type: ignore[no-untyped-def]
    user = instructor()
    instructor_scope_set(instructor=user, regions=[Region.objects.get(code="11")], actor=None)
    return user


def paris_place() -> TiersLieu:
    return TiersLieu.objects.create(
        name="Rive Gauche Coworking",
        commune_name="Paris",
        postal_code="75006",
        departement_id="75",
        source=TiersLieu.Source.CGET_2019,
        source_id="paris-1",
    )


def gers_dossier_with_a_paris_place() -> Application:
    """The issue's example: the Paris place has the lowest id (it was in the census first)."""
    paris = paris_place()
    application = complete_application()
    application.places.add(paris)
    assert paris.pk < application.places.get(departement_id="32").pk
    return application


def test_a_gers_dossier_with_a_paris_place_is_not_silently_routed_to_paris():
    application = gers_dossier_with_a_paris_place()
    gers, paris = occitanie_instructor(), paris_instructor()
    with pytest.raises(ValidationError) as refused:
        application_submit(application=application, actor=application.created_by)
    assert CHOOSE in refused.value.messages
    application.refresh_from_db()
    assert application.status == Application.Status.DRAFT
    assert not application.status_changes.exists()

    application_choose_departement(
        application=application, departement=Departement.objects.get(code="32"), actor=application.created_by
    )
    application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    assert application.departement_id == "32"
    assert application in applications_reviewable_by(gers)
    assert application not in applications_reviewable_by(paris)


def test_a_single_departement_is_applied_without_a_choice():
    application = complete_application()
    paris = paris_place()
    application_set_places(application=application, places=[paris], actor=application.created_by)
    territory = application_territory(application)
    assert territory.departement.code == "75" and not territory.can_choose
    assert all(section.complete for section in application_completeness(application))
    application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    assert application.departement_id == "75"


def test_a_choice_outside_the_places_departements_is_refused():
    application = gers_dossier_with_a_paris_place()
    with pytest.raises(ValidationError) as refused:
        application_choose_departement(
            application=application,
            departement=Departement.objects.get(code="13"),
            actor=application.created_by,
        )
    assert refused.value.message_dict == {
        "departement": ["Choisissez le département de l'un des lieux du dossier."]
    }
    application.refresh_from_db()
    assert application.chosen_departement_id is None
    assert not AuditEvent.objects.filter(action="application.choose_departement").exists()


def test_submission_refuses_a_stored_choice_that_is_no_place_departement():
    application = gers_dossier_with_a_paris_place()
    # Written behind the services' back (a place's département corrected by the census, say).
    Application.objects.filter(pk=application.pk).update(chosen_departement_id="13")
    application.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        application_submit(application=application, actor=application.created_by)
    assert any("n'est plus celui d'un lieu du dossier" in message for message in refused.value.messages)
    application.refresh_from_db()
    assert application.status == Application.Status.DRAFT


def test_removing_the_chosen_place_forgets_the_choice():
    application = gers_dossier_with_a_paris_place()
    application_choose_departement(
        application=application, departement=Departement.objects.get(code="75"), actor=application.created_by
    )
    gers_only = list(application.places.filter(departement_id="32"))
    application_set_places(application=application, places=gers_only, actor=application.created_by)
    application.refresh_from_db()
    assert application.chosen_departement_id is None
    assert application_territory(application).departement.code == "32"


def test_the_places_page_shows_the_territory_and_takes_the_choice(client):
    application = gers_dossier_with_a_paris_place()
    client.force_login(application.created_by)
    page = client.get(url("dossier-places", application)).content.decode()
    assert CHOOSE in page
    assert "Le dossier sera instruit" not in page
    # Occitanie and Île-de-France: the applicant is told.
    assert "plusieurs régions (Île-de-France, Occitanie)" in page
    response = client.post(
        url("dossier-places", application), {"action": "territory", "territoire-departement": "13"}
    )
    assert response.status_code == 200
    assert "Choisissez le département de l&#x27;un des lieux du dossier." in response.content.decode()
    response = client.post(
        url("dossier-places", application),
        {"action": "territory", "territoire-departement": "32"},
        follow=True,
    )
    page = response.content.decode()
    assert "Le dossier sera instruit dans le département Gers (32), région Occitanie." in page
    application.refresh_from_db()
    assert application.chosen_departement_id == "32"
    summary = client.get(url("dossier-detail", application)).content.decode()
    assert "Avant le dépôt" in summary
    assert "Le dossier sera instruit dans le département Gers (32), région Occitanie." in summary


def test_the_summary_of_a_single_departement_dossier_names_it(client):
    application = complete_application()
    client.force_login(application.created_by)
    summary = client.get(url("dossier-detail", application)).content.decode()
    assert "Le dossier sera instruit dans le département Gers (32), région Occitanie." in summary
    places = client.get(url("dossier-places", application)).content.decode()
    assert 'name="territoire-departement"' not in places


def test_a_resubmission_keeps_the_territory_it_was_moved_to():
    application, reviewer = in_review_application()
    admin = programme_admin()
    application_move_territory(
        application=application,
        departement=Departement.objects.get(code="31"),
        reason="Lieu principal à Toulouse.",
        actor=admin,
    )
    corrections_request(application=application, points=["Le RIB"], actor=reviewer)
    application.refresh_from_db()
    application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    assert application.departement_id == "31"


# --- moves by a programme admin ----------------------------------------------------------------


def test_an_admin_moves_a_submitted_dossier_with_audit_log_and_emails_to_both_scopes():
    application = gers_dossier_with_a_paris_place()
    application_choose_departement(
        application=application, departement=Departement.objects.get(code="75"), actor=application.created_by
    )
    application_submit(application=application, actor=application.created_by)
    gers, paris, admin = occitanie_instructor(), paris_instructor(), programme_admin()
    assert application in applications_reviewable_by(paris)
    move = application_move_territory(
        application=application,
        departement=Departement.objects.get(code="32"),
        reason="  Le lieu parisien a été ajouté par erreur.  ",
        actor=admin,
    )
    application.refresh_from_db()
    assert application.departement_id == "32"
    assert (move.from_departement_id, move.to_departement_id, move.reason, move.actor) == (
        "75",
        "32",
        "Le lieu parisien a été ajouté par erreur.",
        admin,
    )
    event = AuditEvent.objects.get(action="application.move_territory")
    assert event.actor == admin and event.target_id == str(application.pk)
    assert event.data == {"from": "75", "to": "32", "reason": "Le lieu parisien a été ajouté par erreur."}
    incoming = OutgoingEmail.objects.get(key=f"application:{application.pk}:territory-move:{move.pk}:to")
    outgoing = OutgoingEmail.objects.get(key=f"application:{application.pk}:territory-move:{move.pk}:from")
    assert incoming.to == [gers.email]
    assert outgoing.to == [paris.email]
    assert "Gers (32), région Occitanie" in incoming.body and "Paris (75)" in incoming.body
    assert "Le lieu parisien a été ajouté par erreur." in outgoing.body
    # The applicant is told where the dossier is now instructed, and why.
    told = OutgoingEmail.objects.get(key=f"application:{application.pk}:territory-move:{move.pk}:applicant")
    assert told.to == [application.created_by.email]
    assert told.subject == f"Votre dossier {application.reference} est instruit dans un autre département"
    assert (
        "Gers (32), région Occitanie" in told.body
        and "Le lieu parisien a été ajouté par erreur." in told.body
    )
    assert settings.SITE_URL + url("dossier-detail", application) in told.body
    assert application in applications_reviewable_by(gers)
    assert application not in applications_reviewable_by(paris)
    # The counts per département follow the move (the database's triggers).
    assert dossier_counts_stored() == dossier_counts_recount()
    assert (
        DossierCount.objects.get(
            call=application.call, departement_code="32", status=application.status
        ).count
        == 1
    )
    assert not DossierCount.objects.filter(departement_code="75", count__gt=0).exists()


@pytest.mark.parametrize(
    ("departement", "reason", "who", "message"),
    [
        ("31", "", "admin", "Indiquez le motif du changement de département."),
        ("32", "Erreur", "admin", "Le dossier est déjà instruit dans ce département."),
        (
            "31",
            "Erreur",
            "instructor",
            "Seul un administrateur du programme peut changer le département d'un dossier.",
        ),
    ],
)
def test_a_move_is_refused_without_reason_to_the_same_place_or_by_an_instructor(
    departement, reason, who, message
):
    application = submitted_application()
    actor = programme_admin() if who == "admin" else occitanie_instructor()
    with pytest.raises((ValidationError, PermissionDenied)) as refused:
        application_move_territory(
            application=application,
            departement=Departement.objects.get(code=departement),
            reason=reason,
            actor=actor,
        )
    error = refused.value
    messages = error.messages if isinstance(error, ValidationError) else [str(error)]
    assert message in messages
    application.refresh_from_db()
    assert application.departement_id == "32"
    assert not TerritoryMove.objects.exists()
    assert not OutgoingEmail.objects.filter(key__contains="territory-move").exists()


def test_a_draft_cannot_be_moved():
    application = complete_application()
    with pytest.raises(ValidationError) as refused:
        application_move_territory(
            application=application,
            departement=Departement.objects.get(code="31"),
            reason="Erreur",
            actor=programme_admin(),
        )
    assert refused.value.messages == [
        "Seul un dossier déposé peut changer de département : celui-ci est « Brouillon »."
    ]


def test_the_move_page_recaps_before_it_applies(client, django_capture_on_commit_callbacks):
    application = submitted_application()
    gers, admin = occitanie_instructor(), programme_admin()
    target = url("review-territory", application)
    client.force_login(admin)
    assert (
        "Changer le département d'instruction"
        in client.get(url("review-detail", application)).content.decode()
    )
    form = client.get(target).content.decode()
    assert "Voir le récapitulatif" in form
    # Without a reason: the error next to the field, nothing moved.
    response = client.post(target, {"departement": "31", "reason": "  "})
    assert "Indiquez le motif du changement de département." in response.content.decode()
    # The recap: what happens, who is told; nothing moved yet.
    recap = client.post(
        target, {"departement": "31", "reason": "Lieu principal à Toulouse."}
    ).content.decode()
    assert "Récapitulatif avant confirmation" in recap
    assert "Haute-Garonne (31), région Occitanie" in recap
    assert gers.email in recap  # Occitanie covers both: the same instructor keeps it
    assert (
        "Le porteur de projet est prévenu par courriel, avec le motif : "
        f"{application.created_by.email}." in recap
    )
    assert "Confirmer le changement de département" in recap
    # One pattern (accounts.confirmation): the typed values ride along, the buttons carry its flags.
    assert '<input type="hidden" name="departement" value="31">' in recap
    assert 'name="confirmer" value="1"' in recap and 'name="modifier" value="1"' in recap
    # The old flag no longer moves anything: only `confirmer` does.
    client.post(target, {"departement": "31", "reason": "Lieu principal à Toulouse.", "confirm": "1"})
    application.refresh_from_db()
    assert application.departement_id == "32"
    application.refresh_from_db()
    assert application.departement_id == "32" and not TerritoryMove.objects.exists()
    # « Modifier »: the form again, filled in.
    edit = client.post(target, {"departement": "31", "reason": "Lieu principal à Toulouse.", "modifier": "1"})
    assert "Voir le récapitulatif" in edit.content.decode()
    assert "Lieu principal à Toulouse." in edit.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            target,
            {"departement": "31", "reason": "Lieu principal à Toulouse.", "confirmer": "1"},
            follow=True,
        )
    page = done.content.decode()
    assert "est désormais instruit dans le département Haute-Garonne (31)" in page
    assert "de Gers vers Haute-Garonne" in page and "Lieu principal à Toulouse." in page
    application.refresh_from_db()
    assert application.departement_id == "31"
    # The same département again: refused at the recap step already.
    again = client.post(target, {"departement": "31", "reason": "Encore"}).content.decode()
    assert "Le dossier est déjà instruit dans ce département." in again
    assert "Récapitulatif avant confirmation" not in again


def test_instructors_see_that_the_places_span_several_regions(client):
    application = gers_dossier_with_a_paris_place()
    application_choose_departement(
        application=application, departement=Departement.objects.get(code="32"), actor=application.created_by
    )
    application_submit(application=application, actor=application.created_by)
    reviewer = occitanie_instructor()
    client.force_login(reviewer)
    page = client.get(url("review-detail", application)).content.decode()
    assert "Les lieux de ce dossier sont dans plusieurs régions (Île-de-France, Occitanie)" in page
    assert "Changer le département d'instruction" not in page


def test_a_choice_posted_when_there_is_none_to_make_says_why(client):
    application = complete_application()
    client.force_login(application.created_by)
    response = client.post(
        url("dossier-places", application),
        {"action": "territory", "territoire-departement": "32"},
        follow=True,
    )
    assert "Le département d&#x27;instruction découle des lieux du dossier" in response.content.decode()
    application.refresh_from_db()
    assert application.chosen_departement_id is None
