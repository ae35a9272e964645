"""Saved views of the instructors' list (« Mes vues »): services, pages, a view's owner alone."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from applications.models import SavedView
from applications.services.labels import label_create, label_delete
from applications.services.saved_views import saved_view_create, saved_view_delete, saved_view_rename
from tests.factories import (
    CallFactory,
    applicant,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)
from tests.pages import logged, text

pytestmark = pytest.mark.django_db

WORKSPACE = reverse("applications:instructor-home")
LIST = reverse("applications:saved-view-list")
CREATE = reverse("applications:saved-view-create")


def audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- the services ----------------------------------------------------------------------------------


def test_a_view_is_created_with_its_name_tidied_and_audited() -> None:
    me = occitanie_instructor()
    view = saved_view_create(name="  Mes   dossiers ", query="assigned=me&sort=-score", actor=me)
    assert (view.user, view.name, view.query) == (me, "Mes dossiers", "assigned=me&sort=-score")
    [event] = audit("saved_view.create")
    assert event.actor == me and event.target_id == str(view.pk)
    assert event.data == {"name": "Mes dossiers", "query": "assigned=me&sort=-score"}


def test_a_name_is_unique_per_user_whatever_its_case_and_free_for_another_user() -> None:
    me, other = occitanie_instructor(), programme_admin()
    saved_view_create(name="Étape 2", query="status=submitted", actor=me)
    with pytest.raises(ValidationError) as refused:
        saved_view_create(name="ÉTAPE 2", query="status=in_review", actor=me)
    assert refused.value.message_dict == {"name": ["Vous avez déjà une vue nommée « Étape 2 »."]}
    assert SavedView.objects.filter(user=me).count() == 1
    assert saved_view_create(name="étape 2", query="status=submitted", actor=other).user == other


def test_a_view_needs_a_name_and_some_filter_and_only_the_instruction_saves_views() -> None:
    me = occitanie_instructor()
    for query in ("", "tab=decides"):
        with pytest.raises(ValidationError) as refused:
            saved_view_create(name="Vide", query=query, actor=me)
        assert refused.value.messages == [
            "Choisissez au moins un filtre ou un tri avant d'enregistrer une vue."
        ]
    with pytest.raises(ValidationError) as refused:
        saved_view_create(name="   ", query="sort=score", actor=me)
    assert "name" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        saved_view_create(name="Vue", query="sort=score", actor=applicant())
    assert not SavedView.objects.exists() and not audit("saved_view.create")


def test_rename_and_delete_are_audited_and_only_the_owner_may() -> None:
    me, other = occitanie_instructor(), occitanie_instructor()
    view = saved_view_create(name="Gers", query="departement=32", actor=me)
    saved_view_create(name="Paris", query="departement=75", actor=me)
    with pytest.raises(ValidationError) as refused:
        saved_view_rename(saved_view=view, name="paris", actor=me)
    assert refused.value.message_dict == {"name": ["Vous avez déjà une vue nommée « Paris »."]}
    with pytest.raises(PermissionDenied):
        saved_view_rename(saved_view=view, name="À moi", actor=other)
    with pytest.raises(PermissionDenied):
        saved_view_delete(saved_view=view, actor=other)

    renamed = saved_view_rename(saved_view=view, name="Le Gers", actor=me)
    assert renamed.name == "Le Gers"
    [event] = audit("saved_view.rename")
    assert event.data == {"fields": ["name"], "before": {"name": "Gers"}, "after": {"name": "Le Gers"}}
    saved_view_rename(saved_view=renamed, name="Le Gers", actor=me)
    assert len(audit("saved_view.rename")) == 1  # nothing changed, nothing recorded

    saved_view_delete(saved_view=renamed, actor=me)
    assert not SavedView.objects.filter(pk=view.pk).exists()
    [event] = audit("saved_view.delete")
    assert event.data == {"name": "Le Gers", "query": "departement=32"}


# --- the pages -------------------------------------------------------------------------------------


def test_saving_the_list_s_filters_keeps_only_the_filters_and_shows_the_view_among_mine() -> None:
    me = occitanie_instructor()
    client = logged(me)
    page = text(client.get(WORKSPACE, {"assigned": "me", "sort": "-score", "page": "2"}))
    assert 'name="query" value="assigned=me&sort=-score"' in page
    # Nothing to save without a filter or a sort.
    assert text(client.get(WORKSPACE, {"tab": "decides"})).count('name="query"') == 0

    response = client.post(
        CREATE, {"name": "À noter", "query": "assigned=me&sort=-score&page=2&tab=decides&evil=1"}
    )
    view = SavedView.objects.get(user=me)
    assert view.query == "assigned=me&sort=-score&tab=decides"  # the filters, the sort and the tab
    saved = f"{WORKSPACE}?assigned=me&sort=-score&tab=decides"
    assert response.status_code == 302 and response["Location"] == saved
    page = text(client.get(response["Location"]))
    assert "La vue « À noter » est enregistrée" in page
    open_url = reverse("applications:saved-view-open", args=[view.pk])
    assert f'<a class="fr-tag" href="{open_url}" aria-current="page">À noter</a>' in page

    response = client.get(open_url)
    assert response.status_code == 302 and response["Location"] == saved


def test_a_name_taken_is_said_next_to_the_field_and_nothing_is_saved() -> None:
    me = occitanie_instructor()
    saved_view_create(name="Mes dossiers", query="assigned=me", actor=me)
    response = logged(me).post(CREATE, {"name": "mes DOSSIERS", "query": "assigned=none"})
    assert response.status_code == 200
    page = text(response)
    assert "Vous avez déjà une vue nommée « Mes dossiers »." in page
    assert 'name="query" value="assigned=none"' in page
    assert SavedView.objects.filter(user=me).count() == 1


def test_another_user_s_view_is_a_404_everywhere() -> None:
    owner, other = occitanie_instructor(), occitanie_instructor()
    view = saved_view_create(name="Privée", query="assigned=me", actor=owner)
    client = logged(other)
    assert client.get(reverse("applications:saved-view-open", args=[view.pk])).status_code == 404
    assert client.get(reverse("applications:saved-view-rename", args=[view.pk])).status_code == 404
    assert (
        client.post(reverse("applications:saved-view-rename", args=[view.pk]), {"name": "X"}).status_code
        == 404
    )
    delete = reverse("applications:saved-view-delete", args=[view.pk])
    assert client.post(delete, {"confirmer": "1"}).status_code == 404
    assert SavedView.objects.get(pk=view.pk).name == "Privée"
    assert "Privée" not in text(client.get(LIST)) and "Privée" not in text(client.get(WORKSPACE))


def test_rename_then_delete_after_a_recap_from_the_list() -> None:
    me = occitanie_instructor()
    view = saved_view_create(name="Gers", query="departement=32&overdue=1", actor=me)
    client = logged(me)
    page = text(client.get(LIST))
    assert "Département : 32 – Gers" in page and "Délai d'instruction : En retard seulement" in page

    rename = reverse("applications:saved-view-rename", args=[view.pk])
    assert text(client.post(rename, {"name": ""})).count("fr-error-text") == 1
    response = client.post(rename, {"name": "Gers en retard"})
    assert response.status_code == 302 and response["Location"] == LIST
    assert SavedView.objects.get(pk=view.pk).name == "Gers en retard"

    delete = reverse("applications:saved-view-delete", args=[view.pk])
    recap = text(client.post(delete))
    assert "Supprimer la vue « Gers en retard »" in recap and "Département" in recap
    assert SavedView.objects.filter(pk=view.pk).exists()
    response = client.post(delete, {"confirmer": "1"})
    assert response.status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert "La vue « Gers en retard » est supprimée." in text(client.get(response["Location"]))


def test_a_stale_view_drops_a_label_or_an_instructor_gone_with_a_message_never_a_500() -> None:
    call = CallFactory()
    admin = programme_admin()
    kept = label_create(call=call, name="Gardée", colour="green-menthe", actor=admin)
    gone = label_create(call=call, name="Partie", colour="pink-tuile", actor=admin)
    colleague = occitanie_instructor()
    me = occitanie_instructor()
    submitted_application(call=call)
    view = saved_view_create(
        name="Ancienne",
        query=f"call={call.pk}&assigned={colleague.pk}&labels={kept.pk}&labels={gone.pk}",
        actor=me,
    )
    label_delete(label=gone, actor=admin)
    type(colleague).objects.filter(pk=colleague.pk).update(is_active=False)

    client = logged(me)
    response = client.get(reverse("applications:saved-view-open", args=[view.pk]))
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query) == {
        "call": [str(call.pk)],
        "labels": [str(kept.pk)],
    }
    page = text(client.get(response["Location"]))
    assert "Le filtre « Affectation » de la vue « Ancienne » ne s'applique plus" in page
    assert "Le filtre « Étiquettes » de la vue « Ancienne » ne s'applique plus" in page

    # Every label gone: the list has no label filter any more, the view still opens.
    label_delete(label=kept, actor=admin)
    response = client.get(reverse("applications:saved-view-open", args=[view.pk]))
    assert parse_qs(urlsplit(response["Location"]).query) == {"call": [str(call.pk)]}
    assert client.get(LIST).status_code == 200


def test_the_database_refuses_a_second_view_of_the_same_name_whatever_its_case() -> None:
    me = occitanie_instructor()
    SavedView.objects.create(user=me, name="Gers", query="departement=32")
    with pytest.raises(IntegrityError), transaction.atomic():
        SavedView.objects.create(user=me, name="GERS", query="departement=32")
    with pytest.raises(IntegrityError), transaction.atomic():
        SavedView.objects.create(user=me, name="", query="departement=32")


def test_the_list_reads_my_views_and_the_instructors_offered_in_one_query_each_whatever_their_number() -> (
    None
):
    """The instructors' list runs two more queries than before saved views and the « Affectation »
    filter (one each), and as many with five views and five colleagues as with one."""
    me = occitanie_instructor()
    client = logged(me)
    submitted_application()

    def count() -> int:
        client.get(WORKSPACE)  # caches (content types, session) warm
        with CaptureQueriesContext(connection) as queries:
            page = text(client.get(WORKSPACE))
        assert "Gérer mes vues" in page
        return len(queries.captured_queries)

    saved_view_create(name="Vue 0", query="assigned=me", actor=me)
    occitanie_instructor()
    few = count()
    for number in range(1, 5):
        saved_view_create(name=f"Vue {number}", query=f"sort=-score&per_page={number}", actor=me)
        occitanie_instructor()
    assert count() == few
    page = text(client.get(WORKSPACE))
    assert page.count('class="fr-tag"') == 5
