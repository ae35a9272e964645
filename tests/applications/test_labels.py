"""Labels per call: the admins' services and page, the dossier's labels, the list's badges and filter."""

import re
from pathlib import Path

import dsfr
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from applications.models import Application, ApplicationLabel, Label, LabelColour
from applications.services.labels import (
    application_labels_set,
    label_create,
    label_delete,
    label_update,
)
from fabriques.models import Region
from fabriques.services import instructor_scope_set
from tests.factories import (
    CallFactory,
    applicant,
    in_review_application,
    instructor,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)
from tests.pages import logged, text

pytestmark = pytest.mark.django_db

WORKSPACE = reverse("applications:instructor-home")


def audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def list_url(call: object) -> str:
    return reverse("applications:label-list", kwargs={"slug": call.slug})  # type: ignore[attr-defined]


# --- the services ----------------------------------------------------------------------------------


def test_every_colour_is_a_badge_colour_of_django_dsfr_s_stylesheet() -> None:
    stylesheet = (Path(dsfr.__file__).parent / "static/dsfr/dist/dsfr.min.css").read_text(encoding="utf-8")
    offered = set(re.findall(r"\.fr-badge--([a-z]+(?:-[a-z]+)+)\b", stylesheet))
    assert set(LabelColour.values) <= offered
    assert len(LabelColour.values) == 17  # the DSFR's illustrative palette, whole


def test_an_admin_creates_a_label_its_name_tidied_and_audited() -> None:
    call, admin = CallFactory(), programme_admin()
    label = label_create(call=call, name="  À revoir   en comité ", colour="pink-tuile", actor=admin)
    assert (label.name, label.colour, label.call_id, label.created_by) == (
        "À revoir en comité",
        "pink-tuile",
        call.pk,
        admin,
    )
    [event] = audit("label.create")
    assert event.actor == admin and event.target_id == str(label.pk)
    assert event.data == {"call": call.slug, "name": "À revoir en comité", "colour": "pink-tuile"}


def test_a_name_is_unique_in_its_call_whatever_its_case_and_free_in_another_call() -> None:
    call, admin = CallFactory(), programme_admin()
    label_create(call=call, name="Été rural", colour="green-menthe", actor=admin)
    for taken in ("été rural", "ÉTÉ RURAL", " Été  Rural "):
        with pytest.raises(ValidationError) as refused:
            label_create(call=call, name=taken, colour="blue-ecume", actor=admin)
        assert refused.value.message_dict == {
            "name": ["Une étiquette de cet appel s'appelle déjà « Été rural »."]
        }
    assert Label.objects.filter(call=call).count() == 1
    assert label_create(call=CallFactory(), name="ÉTÉ RURAL", colour="blue-ecume", actor=admin).pk
    assert len(audit("label.create")) == 2


def test_the_database_refuses_a_second_name_differing_only_by_case_and_a_colour_off_the_palette() -> None:
    call = CallFactory()
    Label.objects.create(call=call, name="Prioritaire", colour="green-menthe")
    with pytest.raises(IntegrityError), transaction.atomic():
        Label.objects.create(call=call, name="PRIORITAIRE", colour="green-menthe")
    with pytest.raises(IntegrityError), transaction.atomic():
        Label.objects.create(call=call, name="Rouge", colour="red-marianne")
    with pytest.raises(IntegrityError), transaction.atomic():
        Label.objects.create(call=call, name="", colour="green-menthe")


def test_a_name_taken_between_the_check_and_the_insert_is_refused_in_french(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two admins at once: the unique index has the last word, said next to the field."""
    from applications.services import labels as service

    call, admin = CallFactory(), programme_admin()
    Label.objects.create(call=call, name="Prioritaire", colour="green-menthe")
    monkeypatch.setattr(service, "_name_taken", lambda **kwargs: None)
    monkeypatch.setattr(Label, "full_clean", lambda self, **kwargs: None)
    with pytest.raises(ValidationError) as refused:
        label_create(call=call, name="prioritaire", colour="blue-ecume", actor=admin)
    assert refused.value.message_dict == {"name": ["Une étiquette de cet appel porte déjà ce nom."]}
    assert Label.objects.filter(call=call).count() == 1
    assert not audit("label.create")


def test_only_programme_admins_manage_labels() -> None:
    call = CallFactory()
    label = Label.objects.create(call=call, name="Prioritaire", colour="green-menthe")
    reviewer = occitanie_instructor()
    with pytest.raises(PermissionDenied):
        label_create(call=call, name="Autre", colour="blue-ecume", actor=reviewer)
    with pytest.raises(PermissionDenied):
        label_update(label=label, name="Autre", colour="blue-ecume", actor=reviewer)
    with pytest.raises(PermissionDenied):
        label_delete(label=label, actor=reviewer)
    label.refresh_from_db()
    assert (
        label.name,
        Label.objects.count(),
        AuditEvent.objects.filter(action__startswith="label.").count(),
    ) == (
        "Prioritaire",
        1,
        0,
    )


def test_renaming_and_recolouring_audits_before_and_after_and_keeps_the_dossiers() -> None:
    application, reviewer = in_review_application()
    admin = programme_admin()
    label = label_create(call=application.call, name="Prioritaire", colour="green-menthe", actor=admin)
    application_labels_set(application=application, labels=[label], actor=reviewer)
    label_update(label=label, name="Très prioritaire", colour="purple-glycine", actor=admin)
    label.refresh_from_db()
    assert (label.name, label.colour) == ("Très prioritaire", "purple-glycine")
    assert list(application.labels.all()) == [label]
    [event] = audit("label.update")
    assert event.data == {
        "call": application.call.slug,
        "fields": ["name", "colour"],
        "before": {"name": "Prioritaire", "colour": "green-menthe"},
        "after": {"name": "Très prioritaire", "colour": "purple-glycine"},
    }
    # Saved unchanged: no row in the log.
    label_update(label=label, name="Très prioritaire", colour="purple-glycine", actor=admin)
    assert len(audit("label.update")) == 1


def test_a_rename_to_another_label_s_name_is_refused_but_a_change_of_case_of_its_own_is_not() -> None:
    call, admin = CallFactory(), programme_admin()
    label_create(call=call, name="Rural", colour="green-menthe", actor=admin)
    other = label_create(call=call, name="Urbain", colour="blue-ecume", actor=admin)
    with pytest.raises(ValidationError) as refused:
        label_update(label=other, name="RURAL", colour="blue-ecume", actor=admin)
    assert refused.value.message_dict == {"name": ["Une étiquette de cet appel s'appelle déjà « Rural »."]}
    other.refresh_from_db()
    assert other.name == "Urbain"
    label_update(label=other, name="URBAIN", colour="blue-ecume", actor=admin)
    other.refresh_from_db()
    assert other.name == "URBAIN"


def test_deleting_a_label_takes_it_off_its_dossiers_and_audits_how_many() -> None:
    first, reviewer = in_review_application()
    second = submitted_application(call=first.call)
    admin = programme_admin()
    label = label_create(call=first.call, name="Comité de mars", colour="yellow-moutarde", actor=admin)
    kept = label_create(call=first.call, name="Rural", colour="green-menthe", actor=admin)
    application_labels_set(application=first, labels=[label, kept], actor=reviewer)
    application_labels_set(application=second, labels=[label], actor=admin)
    assert label_delete(label=label, actor=admin) == 2
    assert not Label.objects.filter(name="Comité de mars").exists()
    assert list(ApplicationLabel.objects.values_list("application_id", "label_id")) == [(first.pk, kept.pk)]
    [event] = audit("label.delete")
    assert event.data == {
        "call": first.call.slug,
        "name": "Comité de mars",
        "colour": "yellow-moutarde",
        "dossiers": 2,
        "references": sorted([first.reference, second.reference]),
    }


def test_an_instructor_in_scope_sets_several_labels_who_and_when_kept_and_audited() -> None:
    application, reviewer = in_review_application()
    admin = programme_admin()
    rural = label_create(call=application.call, name="Rural", colour="green-menthe", actor=admin)
    comite = label_create(call=application.call, name="Comité", colour="pink-tuile", actor=admin)
    ecole = label_create(call=application.call, name="École", colour="blue-ecume", actor=admin)

    assert application_labels_set(application=application, labels=[rural, comite], actor=reviewer) == [
        comite,
        rural,
    ]
    links = ApplicationLabel.objects.filter(application=application).order_by("label__name")
    assert [(link.label, link.added_by) for link in links] == [(comite, reviewer), (rural, reviewer)]
    assert all(link.added_at is not None for link in links)
    [event] = audit("application.labels_set")
    assert event.target_id == str(application.pk)
    assert event.data == {"added": ["Comité", "Rural"], "removed": []}

    # « École » replaces « Comité »; « Rural » stays with its first author and date.
    first_rural = ApplicationLabel.objects.get(application=application, label=rural)
    assert application_labels_set(application=application, labels=[rural, ecole], actor=admin) == [
        ecole,
        rural,
    ]
    assert ApplicationLabel.objects.get(application=application, label=rural) == first_rural
    assert ApplicationLabel.objects.get(application=application, label=ecole).added_by == admin
    assert audit("application.labels_set")[-1].data == {"added": ["École"], "removed": ["Comité"]}

    # The same set again writes nothing; an empty set takes them all off.
    application_labels_set(application=application, labels=[ecole, rural], actor=reviewer)
    assert len(audit("application.labels_set")) == 2
    application_labels_set(application=application, labels=[], actor=reviewer)
    assert not ApplicationLabel.objects.filter(application=application).exists()
    assert audit("application.labels_set")[-1].data == {"added": [], "removed": ["École", "Rural"]}


def test_labels_are_refused_outside_the_instructor_s_scope() -> None:
    application, _reviewer = in_review_application()
    label = label_create(call=application.call, name="Rural", colour="green-menthe", actor=programme_admin())
    paris = instructor()
    instructor_scope_set(instructor=paris, regions=[Region.objects.get(code="11")], actor=None)
    for outsider in (paris, applicant(), application.created_by):
        with pytest.raises(PermissionDenied) as refused:
            application_labels_set(application=application, labels=[label], actor=outsider)
        assert str(refused.value) == "Ce dossier n'est pas dans votre périmètre d'instruction."
    assert not ApplicationLabel.objects.exists()
    assert not audit("application.labels_set")


def test_a_label_of_another_call_is_refused_and_nothing_is_written() -> None:
    application, reviewer = in_review_application()
    admin = programme_admin()
    own = label_create(call=application.call, name="Rural", colour="green-menthe", actor=admin)
    foreign = label_create(call=CallFactory(), name="Autre appel", colour="blue-ecume", actor=admin)
    with pytest.raises(ValidationError) as refused:
        application_labels_set(application=application, labels=[own, foreign], actor=reviewer)
    assert refused.value.message_dict == {
        "labels": ["L'étiquette « Autre appel » n'appartient pas à l'appel de ce dossier."]
    }
    assert not ApplicationLabel.objects.exists()
    assert not audit("application.labels_set")


# --- the admins' page ----------------------------------------------------------------------------


def test_the_admins_page_lists_the_labels_with_their_dossiers_and_creates_one() -> None:
    application, reviewer = in_review_application()
    admin = programme_admin()
    rural = label_create(call=application.call, name="Rural", colour="green-menthe", actor=admin)
    label_create(call=application.call, name="Écoles", colour="blue-ecume", actor=admin)
    application_labels_set(application=application, labels=[rural], actor=reviewer)
    client = logged(admin)
    url = list_url(application.call)

    page = text(client.get(url))
    assert application.call.title in page
    rows = re.findall(
        r'<th scope="row"><span class="fr-badge fr-badge--sm fr-badge--([a-z-]+)">([^<]+)</span>'
        r"</th>\s*<td>([^<]+)</td>\s*<td>(\d+)</td>",
        page,
    )
    # French order: « Écoles » before « Rural ».
    assert rows == [
        ("blue-ecume", "Écoles", "Bleu écume", "0"),
        ("green-menthe", "Rural", "Vert menthe", "1"),
    ]
    assert "2 étiquettes" in page

    response = client.post(url, {"name": "Comité de mars", "colour": "yellow-moutarde"})
    assert response.status_code == 302 and response["Location"] == url
    assert Label.objects.get(call=application.call, name="Comité de mars").colour == "yellow-moutarde"
    assert "L'étiquette « Comité de mars » est créée." in text(client.get(url))


def test_a_taken_name_or_no_colour_is_said_next_to_the_field_and_nothing_is_saved() -> None:
    call, admin = CallFactory(), programme_admin()
    label_create(call=call, name="Rural", colour="green-menthe", actor=admin)
    client = logged(admin)
    page = text(client.post(list_url(call), {"name": "rural", "colour": "blue-ecume"}))
    assert re.search(
        r'id="id_name-erreurs"><p class="fr-error-text">Une étiquette de cet appel s\'appelle déjà « Rural ».</p>',
        page,
    )
    page = text(client.post(list_url(call), {"name": "Autre"}))
    assert re.search(r'id="id_colour-erreurs"><p class="fr-error-text">Ce champ est obligatoire.</p>', page)
    assert 'aria-labelledby="id_colour-legende id_colour-erreurs"' in page
    assert Label.objects.filter(call=call).count() == 1


def test_the_admin_renames_and_recolours_a_label_from_its_page() -> None:
    call, admin = CallFactory(), programme_admin()
    label = label_create(call=call, name="Rural", colour="green-menthe", actor=admin)
    client = logged(admin)
    url = reverse("applications:label-update", kwargs={"slug": call.slug, "label_id": label.pk})
    page = text(client.get(url))
    assert 'value="Rural"' in page
    assert re.search(r'<input type="radio" name="colour" value="green-menthe"[^>]* checked', page)
    response = client.post(url, {"name": "Ruralité", "colour": "brown-caramel"})
    assert response.status_code == 302 and response["Location"] == list_url(call)
    label.refresh_from_db()
    assert (label.name, label.colour) == ("Ruralité", "brown-caramel")
    # A label of another call is not found under this call's address.
    other = label_create(call=CallFactory(), name="Autre", colour="green-menthe", actor=admin)
    wrong = reverse("applications:label-update", kwargs={"slug": call.slug, "label_id": other.pk})
    assert client.get(wrong).status_code == 404


def test_deleting_shows_a_recap_with_the_dossiers_carrying_the_label_then_deletes() -> None:
    first, reviewer = in_review_application()
    second = submitted_application(call=first.call)
    admin = programme_admin()
    label = label_create(call=first.call, name="Comité de mars", colour="yellow-moutarde", actor=admin)
    for application in (first, second):
        application_labels_set(application=application, labels=[label], actor=admin)
    client = logged(admin)
    url = reverse("applications:label-delete", kwargs={"slug": first.call.slug, "label_id": label.pk})

    recap = text(client.post(url, {}))
    assert "Elle est portée par 2 dossiers : elle leur sera retirée." in recap
    assert "Confirmer la suppression" in recap
    assert Label.objects.filter(pk=label.pk).exists() and not audit("label.delete")

    response = client.post(url, {"confirmer": "1"})
    assert response.status_code == 302 and response["Location"] == list_url(first.call)
    assert not Label.objects.filter(pk=label.pk).exists()
    assert not ApplicationLabel.objects.exists()
    page = text(client.get(list_url(first.call)))
    assert "L'étiquette « Comité de mars » est supprimée ; elle est retirée de 2 dossiers." in page
    assert "Aucune étiquette n'est encore définie pour cet appel." in page


def test_the_programme_home_links_each_call_to_its_labels() -> None:
    call = CallFactory()
    page = text(logged(programme_admin()).get(reverse("grants:admin-home")))
    assert f'href="{list_url(call)}"' in page


# --- the dossier's page --------------------------------------------------------------------------


def test_the_instruction_page_shows_the_badges_and_sets_the_labels_the_applicant_never_sees_them() -> None:
    application, reviewer = in_review_application()
    admin = programme_admin()
    rural = label_create(call=application.call, name="Rural", colour="green-menthe", actor=admin)
    comite = label_create(call=application.call, name="Comité de mars", colour="pink-tuile", actor=admin)
    label_create(call=CallFactory(), name="Autre appel", colour="blue-ecume", actor=admin)
    client = logged(reviewer)
    detail = reverse("applications:review-detail", args=[application.reference])
    page = text(client.get(detail))
    assert "Aucune étiquette sur ce dossier." in page
    # The call's labels only, in French order, none ticked.
    boxes = re.findall(r'<input type="checkbox" name="labels-labels" value="(\d+)"[^>]*?( checked)?>', page)
    assert boxes == [(str(comite.pk), ""), (str(rural.pk), "")]
    assert "Autre appel" not in page

    post = reverse("applications:review-labels", args=[application.reference])
    response = client.post(post, {"labels-labels": [rural.pk, comite.pk]})
    assert response.status_code == 302 and response["Location"] == f"{detail}#etiquettes"
    page = text(client.get(detail))
    assert "Les étiquettes du dossier sont enregistrées : Comité de mars, Rural." in page
    section = page[page.index('id="etiquettes"') :]
    assert re.findall(r'<li><span class="fr-badge (fr-badge--[a-z-]+)">([^<]+)</span></li>', section)[:2] == [
        ("fr-badge--pink-tuile", "Comité de mars"),
        ("fr-badge--green-menthe", "Rural"),
    ]
    assert set(application.labels.all()) == {rural, comite}

    # Never on the applicant's pages.
    own = logged(application.created_by)
    for name in ("dossier-detail", "dossier-messages"):
        applicant_page = text(own.get(reverse(f"applications:{name}", args=[application.reference])))
        assert application.reference in applicant_page
        assert "Comité de mars" not in applicant_page and "Étiquettes" not in applicant_page


def test_a_label_not_offered_is_refused_next_to_the_field_and_nothing_is_written() -> None:
    application, reviewer = in_review_application()
    foreign = label_create(
        call=CallFactory(), name="Autre appel", colour="blue-ecume", actor=programme_admin()
    )
    label_create(call=application.call, name="Rural", colour="green-menthe", actor=programme_admin())
    client = logged(reviewer)
    page = text(
        client.post(
            reverse("applications:review-labels", args=[application.reference]),
            {"labels-labels": [foreign.pk]},
        )
    )
    assert re.search(
        r'id="id_labels-labels-erreurs"><p class="fr-error-text">Cette étiquette n\'est pas proposée ici.',
        page,
    )
    assert '<details class="portal-fold" id="volet-etiquettes" open>' in page
    assert not ApplicationLabel.objects.exists()


def test_an_instructor_out_of_scope_cannot_label_the_dossier() -> None:
    application, _reviewer = in_review_application()
    label = label_create(call=application.call, name="Rural", colour="green-menthe", actor=programme_admin())
    paris = instructor()
    instructor_scope_set(instructor=paris, regions=[Region.objects.get(code="11")], actor=None)
    response = logged(paris).post(
        reverse("applications:review-labels", args=[application.reference]), {"labels-labels": [label.pk]}
    )
    assert response.status_code == 404
    assert not ApplicationLabel.objects.exists()


# --- the instructors' list -----------------------------------------------------------------------


def references_in(page: str) -> list[str]:
    return re.findall(r'<a href="/instruction/dossiers/[^/"]+/">([^<]+)</a>', page)


def test_the_list_shows_the_badges_and_filters_on_any_of_the_chosen_labels() -> None:
    call = CallFactory()
    rural_one = submitted_application(call=call)
    rural_two = submitted_application(call=call)
    school = submitted_application(call=call)
    bare = submitted_application(call=call)
    admin, reviewer = programme_admin(), occitanie_instructor()
    rural = label_create(call=call, name="Rural", colour="green-menthe", actor=admin)
    ecole = label_create(call=call, name="École", colour="blue-ecume", actor=admin)
    unused = label_create(call=call, name="Jamais posée", colour="pink-tuile", actor=admin)
    application_labels_set(application=rural_one, labels=[rural], actor=reviewer)
    application_labels_set(application=rural_two, labels=[rural, ecole], actor=reviewer)
    application_labels_set(application=school, labels=[ecole], actor=reviewer)
    # In review: another tab, counted in the tabs too.
    Application.objects.filter(pk=rural_two.pk).update(status=Application.Status.IN_REVIEW)
    client = logged(reviewer)

    page = text(client.get(WORKSPACE))
    assert sorted(references_in(page)) == sorted([rural_one.reference, school.reference, bare.reference])
    row = page[page.index(rural_one.reference) :].split("</tr>")[0]
    assert '<span class="fr-badge fr-badge--sm fr-badge--green-menthe">Rural</span>' in row
    bare_row = page[page.index(bare.reference) :].split("</tr>")[0]
    assert "fr-badges-group" not in bare_row
    # The filter offers every label, as badges.
    assert re.findall(r'name="labels" value="(\d+)"', page) == [str(ecole.pk), str(unused.pk), str(rural.pk)]

    page = text(client.get(WORKSPACE, {"labels": [rural.pk]}))
    assert references_in(page) == [rural_one.reference]
    assert "À instruire (1)" in page and "En instruction (1)" in page
    assert re.search(rf'name="labels" value="{rural.pk}"[^>]*checked', page)

    page = text(client.get(WORKSPACE, {"labels": [rural.pk, ecole.pk]}))
    assert sorted(references_in(page)) == sorted([rural_one.reference, school.reference])
    assert "À instruire (2)" in page and "En instruction (1)" in page

    page = text(client.get(WORKSPACE, {"labels": [unused.pk]}))
    assert references_in(page) == []
    assert "Aucun dossier de cet onglet ne correspond à votre recherche." in page

    # An unknown label is said next to the filter and left out: the other filters still apply.
    page = text(client.get(WORKSPACE, {"labels": ["999999"], "q": school.reference}))
    assert "Cette étiquette n'est pas proposée ici." in page
    assert references_in(page) == [school.reference]


def test_labels_of_several_calls_are_told_apart_by_their_call_and_a_call_in_preparation_s_left_out() -> None:
    first, second = CallFactory(title="Appel 2025"), CallFactory(title="Appel 2026")
    draft = CallFactory(title="Appel en préparation", status="draft")
    admin = programme_admin()
    label_create(call=first, name="Rural", colour="green-menthe", actor=admin)
    label_create(call=second, name="Rural", colour="green-menthe", actor=admin)
    label_create(call=draft, name="Brouillon", colour="green-menthe", actor=admin)
    page = text(logged(occitanie_instructor()).get(WORKSPACE))
    assert page.count('<span class="fr-hint-text">Appel 2025</span>') == 1
    assert page.count('<span class="fr-hint-text">Appel 2026</span>') == 1
    assert "Brouillon" not in page


def test_the_list_reads_the_labels_in_two_queries_whatever_the_number_of_dossiers_and_labels() -> None:
    """The labels to filter on (one query), the rows' labels (one prefetch): no query per row."""
    call = CallFactory()
    admin, reviewer = programme_admin(), occitanie_instructor()
    client = logged(reviewer)
    dossiers = [submitted_application(call=call) for _ in range(2)]
    params = {"per_page": "50"}

    def count() -> int:
        client.get(WORKSPACE, params)  # caches (content types, session) warm
        with CaptureQueriesContext(connection) as queries:
            response = client.get(WORKSPACE, params)
        assert response.status_code == 200
        return len(queries.captured_queries)

    without_labels = count()
    labels = [
        label_create(call=call, name=f"Étiquette {number}", colour="green-menthe", actor=admin)
        for number in range(3)
    ]
    for application in dossiers:
        application_labels_set(application=application, labels=labels[:2], actor=reviewer)
    with_labels = count()
    assert with_labels == without_labels + 1  # the rows' labels, one prefetch

    for _ in range(3):
        application = submitted_application(call=call)
        application_labels_set(application=application, labels=labels, actor=reviewer)
    assert count() == with_labels
    page = text(client.get(WORKSPACE, params))
    badge = '<li><span class="fr-badge fr-badge--sm fr-badge--green-menthe">Étiquette 2</span></li>'
    assert page.count(badge) == 3  # the rows' badges (the filter's are not in a list)
