import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from applications.models import Access, Application, BudgetYear
from fabriques.models import TiersLieu
from tests.factories import CallFactory, OrganisationFactory, applicant, complete_application, member_of

pytestmark = pytest.mark.django_db


def url(name: str, application: Application, **kwargs: object) -> str:
    return reverse(f"applications:{name}", kwargs={"reference": application.reference, **kwargs})


def test_an_applicant_creates_a_draft_and_lands_on_its_project_section(client):
    user = applicant()
    lead = OrganisationFactory(name="Gers Développement")
    member_of(lead, user)
    call = CallFactory()
    client.force_login(user)
    response = client.post(
        reverse("applications:dossier-create"),
        {"call": call.pk, "lead_organisation": lead.pk, "title": "La Bobine", "kind": "ft"},
    )
    application = Application.objects.get()
    assert response["Location"] == url("dossier-project", application)
    page = client.get(response["Location"]).content.decode()
    assert application.reference in page
    assert "0 section complète sur 5" in page or "1 section complète sur 5" in page


def test_a_structure_of_someone_else_cannot_be_chosen_as_lead(client):
    user = applicant()
    client.force_login(user)
    foreign = OrganisationFactory()
    response = client.post(
        reverse("applications:dossier-create"),
        {"call": CallFactory().pk, "lead_organisation": foreign.pk, "title": "X", "kind": "ft"},
    )
    assert response.status_code == 200
    assert not Application.objects.exists()


def test_project_sections_are_saved_and_html_is_escaped(client):
    application = complete_application()
    client.force_login(application.created_by)
    data = {
        "title": "Nouveau titre",
        "kind": "fnt",
        "summary": "<script>alert('x')</script> Un lieu",
        "services": "Coworking",
        "jobs_fte": "3,5",
    }
    response = client.post(url("dossier-project", application), data)
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.kind == "fnt" and application.title == "Nouveau titre"
    assert str(application.jobs_fte) == "3.50"
    page = client.get(url("dossier-project", application)).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


def test_a_validation_error_keeps_what_was_typed(client):
    application = complete_application()
    client.force_login(application.created_by)
    response = client.post(
        url("dossier-project", application),
        {"title": "", "kind": "ft", "services": "Un long texte saisi par le porteur"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_title-erreurs"' in page
    assert "Un long texte saisi par le porteur" in page


@pytest.mark.parametrize(
    ("amounts", "field", "message"),
    [
        (
            ["25 000", "25 000", "24 999,99"],
            None,
            "Le total demandé (74\u00a0999,99\u00a0€) doit être compris",
        ),
        (["50 000", "50 000", "50 000,01"], "requested_3", "dépasse le plafond annuel de 50\u00a0000\u00a0€"),
        (["50 000", "abc", "50 000"], "requested_2", "Saisissez un montant en euros"),
    ],
)
def test_budget_errors_are_french_next_to_the_field_and_nothing_is_saved(client, amounts, field, message):
    application = complete_application()
    client.force_login(application.created_by)
    before = list(BudgetYear.objects.order_by("pk").values_list("requested", flat=True))
    data = {}
    for year, amount in enumerate(amounts, start=1):
        data |= {f"requested_{year}": amount, f"other_funding_{year}": "0", f"total_cost_{year}": "60 000"}
    response = client.post(url("dossier-budget", application), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    if field:
        assert f'id="id_{field}-erreurs"' in page
    assert "data-error-summary" in page
    assert list(BudgetYear.objects.order_by("pk").values_list("requested", flat=True)) == before


def test_a_budget_typed_the_french_way_is_saved(client):
    application = complete_application()
    client.force_login(application.created_by)
    data = {}
    for year in (1, 2, 3):
        data |= {
            f"requested_{year}": "49 999,50",
            f"other_funding_{year}": "10 000",
            f"total_cost_{year}": "80 000",
        }
    response = client.post(url("dossier-budget", application), data)
    assert response.status_code == 302
    assert [str(v) for v in application.budget_years.values_list("requested", flat=True)] == ["49999.50"] * 3
    page = client.get(url("dossier-budget", application)).content.decode()
    assert "149\u00a0998,50\u00a0€" in page


def test_places_come_from_the_national_census_or_are_described(client):
    application = complete_application()
    census = TiersLieu.objects.create(
        name="Le Hangar numérique",
        departement_id="32",
        commune_name="Condom",
        source="cget-2019",
        source_id="9999",
    )
    client.force_login(application.created_by)
    found = client.get(url("dossier-places", application), {"q": "hangar"}).content.decode()
    assert "Le Hangar numérique" in found
    client.post(url("dossier-places", application), {"action": "census", "place": census.pk})
    assert census in application.places.all()
    response = client.post(
        url("dossier-places", application),
        {
            "action": "create",
            "lieu-name": "Atelier du Gers",
            "lieu-departement": "32",
            "lieu-zone": "qpv",
            "lieu-qpv_code": "",
            "lieu-activities": ["fablab"],
        },
    )
    assert response.status_code == 200
    assert "Indiquez le code du quartier prioritaire." in response.content.decode()
    assert not TiersLieu.objects.filter(name="Atelier du Gers").exists()


def test_submitting_from_the_page_issues_the_receipt_and_makes_the_dossier_read_only(
    client, django_capture_on_commit_callbacks, task_queues
):
    application = complete_application()
    client.force_login(application.created_by)
    detail = client.get(url("dossier-detail", application)).content.decode()
    assert "Déposer le dossier" in detail
    # The button leads to the recap: nothing is submitted yet.
    recap = client.post(url("dossier-submit", application))
    assert recap.status_code == 200
    assert "Confirmer le dépôt du dossier" in recap.content.decode()
    application.refresh_from_db()
    assert application.status == "draft"
    assert not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("dossier-submit", application), {"confirmer": "1"}, follow=True)
    task_queues.drain()
    page = response.content.decode()
    assert "est déposé" in page
    application.refresh_from_db()
    assert application.status == "submitted"
    assert re.search(r"accuse-reception-[A-Z]+-\d{4}-\d{5}-1\.pdf", page)
    assert len(mail.outbox) == 1
    # Read-only now: the forms are gone and a direct POST is refused.
    project = client.get(url("dossier-project", application)).content.decode()
    assert "Lecture seule" in project
    assert "Enregistrer</button>" not in project
    client.post(url("dossier-project", application), {"title": "Modifié", "kind": "ft"})
    application.refresh_from_db()
    assert application.title != "Modifié"


def test_submitting_an_incomplete_dossier_says_what_is_missing(client):
    application = complete_application()
    application.places.clear()
    client.force_login(application.created_by)
    page = client.post(url("dossier-submit", application), follow=True).content.decode()
    assert "Choisissez au moins un tiers-lieu." in page
    application.refresh_from_db()
    assert application.status == "draft"


def test_withdrawing_a_submitted_dossier(client, django_capture_on_commit_callbacks):
    from applications.services import application_submit

    application = complete_application()
    with django_capture_on_commit_callbacks(execute=True):
        application_submit(application=application, actor=application.created_by)
    client.force_login(application.created_by)
    client.post(url("dossier-withdraw", application), {"reason": "Projet reporté"})
    application.refresh_from_db()
    assert application.status == "withdrawn"


def test_the_lead_invites_a_partner_who_then_sees_the_dossier(
    client, django_capture_on_commit_callbacks, task_queues
):
    application = complete_application()
    client.force_login(application.created_by)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url("dossier-access", application), {"email": "Salarie@Kanope.coop", "permission": "edit"}
        )
    task_queues.drain()
    access = Access.objects.get()
    assert access.email == "salarie@kanope.coop"
    link = re.search(r"/invitation/[^\s]+/", mail.outbox[-1].body).group(0)
    guest = applicant(email="salarie@kanope.coop")
    client.force_login(guest)
    assert client.get(url("dossier-detail", application)).status_code == 404
    response = client.get(link)
    assert response["Location"] == url("dossier-detail", application)
    assert client.get(url("dossier-detail", application)).status_code == 200
    # An editor may change the dossier, but only the lead's staff may share it further.
    assert (
        client.post(url("dossier-project", application), {"title": "Par l'invitée", "kind": "ft"}).status_code
        == 302
    )
    assert (
        client.post(url("dossier-access", application), {"email": "x@y.fr", "permission": "view"}).status_code
        == 403
    )


def test_another_applicant_gets_404_on_every_dossier_page(client):
    application = complete_application()
    client.force_login(applicant())
    for name in (
        "dossier-detail",
        "dossier-project",
        "dossier-places",
        "dossier-budget",
        "dossier-access",
        "dossier-consortium",
        "dossier-documents",
        "dossier-withdraw",
    ):
        assert client.get(url(name, application)).status_code == 404, name
    for name in ("dossier-submit", "dossier-project", "dossier-budget"):
        assert client.post(url(name, application), {}).status_code == 404, name
    application.refresh_from_db()
    assert application.status == "draft"


def test_the_dossier_list_runs_a_fixed_number_of_queries(client):
    user = applicant()
    client.force_login(user)
    complete_application(applicant_user=user)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("applications:dossier-list"))
    for _ in range(4):
        complete_application(applicant_user=user)
    with CaptureQueriesContext(connection) as five:
        page = client.get(reverse("applications:dossier-list")).content.decode()
    assert page.count("/mon-espace/dossiers/TST-") >= 5
    assert len(five) == len(one)


def test_html_in_every_project_field_is_escaped_on_the_page(client):
    from applications.forms import ProjectForm

    application = complete_application()
    client.force_login(application.created_by)
    payload = "<script>alert('champ')</script>"
    fields = [name for name in ProjectForm.Meta.fields if name not in ("kind", "jobs_fte")]
    data = {name: f"{name} {payload}" for name in fields} | {"kind": "ft", "jobs_fte": "2"}
    assert client.post(url("dossier-project", application), data).status_code == 302
    for page_name in ("dossier-project", "dossier-detail"):
        page = client.get(url(page_name, application)).content.decode()
        assert "<script>alert(" not in page
    project = client.get(url("dossier-project", application)).content.decode()
    for name in fields:
        assert f"{name} &lt;script&gt;alert(&#x27;champ&#x27;)&lt;/script&gt;" in project


def test_the_applicant_downloads_the_award_letter_from_the_dossier_page(
    client, django_capture_on_commit_callbacks, task_queues
):
    import io
    from decimal import Decimal

    import pypdf

    from grants.services import application_award
    from tests.factories import close_response, in_review_application

    application, reviewer = in_review_application()
    with django_capture_on_commit_callbacks(execute=True):
        application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    task_queues.drain()
    change = application.status_changes.get(to_status="awarded")
    client.force_login(application.created_by)
    page = client.get(url("dossier-detail", application)).content.decode()
    letter_url = reverse("applications:issued-document", args=[application.reference, change.pk])
    assert letter_url in page
    assert "Lauréat" in page
    response = client.get(letter_url)
    content = b"".join(response.streaming_content)
    close_response(response)
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages).replace(
        "\u00a0", " "
    )
    assert "150 000 €" in text and application.reference in text
    # Another applicant cannot fetch it.
    client.force_login(applicant())
    assert client.get(letter_url).status_code == 404


def test_an_invitation_link_works_only_for_the_invited_address(
    client, django_capture_on_commit_callbacks, task_queues
):
    application = complete_application()
    client.force_login(application.created_by)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url("dossier-access", application), {"email": "invitee@kanope.coop", "permission": "view"}
        )
    task_queues.drain()
    link = re.search(r"/invitation/[^\s]+/", mail.outbox[-1].body).group(0)
    client.force_login(applicant(email="someone.else@exemple.fr"))
    response = client.get(link)
    assert response.status_code == 404
    assert "une autre adresse e-mail" in response.content.decode()
    assert client.get(url("dossier-detail", application)).status_code == 404
    assert Access.objects.get().user is None
