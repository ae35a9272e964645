from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from applications.models import Application, Member
from fabriques.models import Organisation
from tests.factories import (
    OrganisationFactory,
    applicant,
    complete_application,
    make_siret,
    member_of,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def page_url(application: Application) -> str:
    return reverse("applications:dossier-consortium", args=[application.reference])


def add_url(application: Application) -> str:
    return reverse("applications:member-add", args=[application.reference])


def remove_url(application: Application, member: Member) -> str:
    return reverse("applications:member-remove", args=[application.reference, member.pk])


def new_partner(siret: str, **overrides: str) -> dict[str, str]:
    """What an applicant types to add a structure the portal does not know yet."""
    return {
        "siret": siret,
        "name": "Kanopé",
        "legal_category": "5710",
        "cooperative_kind": "cae",
        "rna": "",
        "address": "12 rue Gambetta",
        "postal_code": "32000",
        "commune_code": "32013",
        "commune_name": "Auch",
        "departement": "32",
        "year_created": "2012",
        "headcount": "8",
        "website": "kanope.example.fr",
        "role": "Coopérative d'activité et d'emploi",
        "share_percent": "30",
        **overrides,
    }


def spaced(siret: str) -> str:
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"


@pytest.fixture
def application() -> Application:
    return complete_application()


@pytest.fixture
def lead_client(client, application):  # type: ignore[no-untyped-def]
    client.force_login(application.created_by)
    return client


def add_partner(application: Application, **kwargs: object) -> Member:
    organisation = OrganisationFactory(**kwargs)
    return Member.objects.create(
        application=application, organisation=organisation, role="Partenaire", share_percent=Decimal("10")
    )


def test_the_page_lists_the_lead_first_with_its_formatted_siret(lead_client, application):
    lead = application.members.get(is_lead=True)
    add_partner(application, name="AAA première par le nom")
    response = lead_client.get(page_url(application))
    assert response.status_code == 200
    html = response.content.decode()
    assert lead.organisation.siret_display in html
    assert lead.organisation.siret not in html
    assert html.index(lead.organisation.name) < html.index("AAA première par le nom")
    assert "Chef de file" in html
    assert "Ajouter un partenaire" in html
    assert f'hx-post="{add_url(application)}"' in html
    assert f'action="{add_url(application)}"' in html
    assert "110\u00a0%" in html  # a no-break space before « % »
    assert "elles doivent totaliser 100 % avant le dépôt" in html


def test_the_page_answers_get_only_and_add_and_remove_answer_post_only(lead_client, application):
    lead = application.members.get(is_lead=True)
    assert lead_client.post(page_url(application)).status_code == 405
    assert lead_client.get(add_url(application)).status_code == 405
    assert lead_client.get(remove_url(application, lead)).status_code == 405


def test_a_new_partner_is_added_through_htmx_and_the_block_is_swapped(lead_client, application):
    siret = make_siret(4242)
    response = lead_client.post(add_url(application), new_partner(spaced(siret)), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="consortium-membres"' in html
    assert "HX-Request" in response["Vary"]
    assert "La structure « Kanopé » a rejoint le consortium." in html
    assert spaced(siret) in html
    # A fresh, empty form follows the table.
    assert 'name="siret"' in html
    assert f'value="{spaced(siret)}"' not in html
    member = Member.objects.get(application=application, organisation__siret=siret)
    assert member.role == "Coopérative d'activité et d'emploi"
    assert member.share_percent == Decimal("30")
    assert not member.is_lead
    organisation = member.organisation
    assert (organisation.name, organisation.cooperative_kind, organisation.commune_code) == (
        "Kanopé",
        "cae",
        "32013",
    )


def test_a_share_typed_with_a_french_decimal_comma_is_read(lead_client, application):
    siret = make_siret(4243)
    response = lead_client.post(add_url(application), new_partner(siret, share_percent="12,5"), **HTMX)
    assert response.status_code == 200
    assert Member.objects.get(organisation__siret=siret).share_percent == Decimal("12.5")


def test_a_share_above_100_is_refused_next_to_its_field(lead_client, application):
    known = OrganisationFactory()
    data = {"siret": known.siret, "role": "Trop gourmand", "share_percent": "100,01"}
    response = lead_client.post(add_url(application), data, **HTMX)
    html = response.content.decode()
    assert 'id="id_share_percent-erreurs"' in html
    assert "inférieure ou égale à 100" in html
    assert not Member.objects.filter(organisation=known).exists()


def test_a_known_structure_needs_only_its_siret_a_role_and_a_share(lead_client, application):
    known = OrganisationFactory(name="Kanopé déjà connue")
    before = Organisation.objects.count()
    data = {"siret": spaced(known.siret), "role": "Accompagnement", "share_percent": "15"}
    response = lead_client.post(add_url(application), data, **HTMX)
    assert response.status_code == 200
    assert "Kanopé déjà connue" in response.content.decode()
    assert Organisation.objects.count() == before
    member = Member.objects.get(application=application, organisation=known)
    assert (member.role, member.share_percent) == ("Accompagnement", Decimal("15"))


def test_a_known_structure_still_needs_a_role_and_a_share(lead_client, application):
    known = OrganisationFactory()
    response = lead_client.post(add_url(application), {"siret": known.siret}, **HTMX)
    html = response.content.decode()
    assert 'id="id_role-erreurs"' in html
    assert 'id="id_share_percent-erreurs"' in html
    assert 'id="id_name-erreurs"' not in html
    assert not Member.objects.filter(organisation=known).exists()


def test_a_structure_already_in_the_consortium_is_refused_next_to_the_siret(lead_client, application):
    partner = add_partner(application)
    data = {"siret": partner.organisation.siret, "role": "Encore", "share_percent": "5"}
    response = lead_client.post(add_url(application), data, **HTMX)
    html = response.content.decode()
    assert 'id="id_siret-erreurs"' in html
    assert "Cette structure fait déjà partie du consortium." in html
    assert application.members.count() == 2


def test_a_bad_siret_returns_the_block_with_the_error_next_to_the_field_and_creates_nothing(
    lead_client, application
):
    organisations = Organisation.objects.count()
    members = Member.objects.count()
    bad = make_siret(4244)[:-1] + str((int(make_siret(4244)[-1]) + 1) % 10)
    response = lead_client.post(add_url(application), new_partner(bad), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert 'id="id_siret-erreurs"' in html
    assert "Ce SIRET n&#x27;est pas valide" in html
    assert "Le formulaire contient une erreur" in html
    # The bound form keeps what was typed.
    assert 'value="Kanopé"' in html
    assert Organisation.objects.count() == organisations
    assert Member.objects.count() == members


def test_without_htmx_an_addition_redirects_with_a_message(lead_client, application):
    siret = make_siret(4245)
    response = lead_client.post(add_url(application), new_partner(siret))
    assert response.status_code == 302
    assert response["Location"] == page_url(application)
    assert Member.objects.filter(application=application, organisation__siret=siret).exists()
    page = lead_client.get(response["Location"])
    assert "La structure « Kanopé » a rejoint le consortium." in page.content.decode()


def test_without_htmx_an_error_renders_the_whole_page_with_the_bound_form(lead_client, application):
    response = lead_client.post(add_url(application), new_partner("123"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert 'id="id_siret-erreurs"' in html
    assert "Le SIRET doit compter 14 chiffres (il en compte 3)." in html
    assert not Organisation.objects.filter(name="Kanopé").exists()


def test_a_partner_is_removed_through_htmx(lead_client, application):
    partner = add_partner(application, name="Partenaire à retirer")
    page = lead_client.get(page_url(application)).content.decode()
    assert f'hx-post="{remove_url(application, partner)}"' in page
    assert f'action="{remove_url(application, partner)}"' in page
    response = lead_client.post(remove_url(application, partner), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "La structure « Partenaire à retirer » a été retirée du consortium." in html
    assert not Member.objects.filter(pk=partner.pk).exists()
    # The structure itself stays known to the portal.
    assert Organisation.objects.filter(pk=partner.organisation_id).exists()


def test_a_partner_is_removed_without_htmx(lead_client, application):
    partner = add_partner(application, name="Partenaire à retirer")
    response = lead_client.post(remove_url(application, partner))
    assert response.status_code == 302
    assert response["Location"] == page_url(application)
    assert not Member.objects.filter(pk=partner.pk).exists()
    page = lead_client.get(response["Location"]).content.decode()
    assert "a été retirée du consortium." in page


def test_the_lead_has_no_remove_button_and_cannot_be_removed(lead_client, application):
    lead = application.members.get(is_lead=True)
    page = lead_client.get(page_url(application)).content.decode()
    assert remove_url(application, lead) not in page

    response = lead_client.post(remove_url(application, lead), **HTMX)
    assert response.status_code == 200
    assert "Le chef de file ne peut pas être retiré du consortium." in response.content.decode()
    assert Member.objects.filter(pk=lead.pk, is_lead=True).exists()

    response = lead_client.post(remove_url(application, lead), follow=True)
    assert response.redirect_chain == [(page_url(application), 302)]
    assert "Le chef de file ne peut pas être retiré du consortium." in response.content.decode()
    assert Member.objects.filter(pk=lead.pk, is_lead=True).exists()


def test_a_member_of_another_dossier_cannot_be_removed_through_this_one(lead_client, application):
    other = complete_application(applicant_user=application.created_by)
    foreign = add_partner(other)
    assert lead_client.post(remove_url(application, foreign)).status_code == 404
    assert Member.objects.filter(pk=foreign.pk).exists()


def test_another_applicant_gets_404_everywhere(client, application):
    partner = add_partner(application)
    client.force_login(applicant())
    assert client.get(page_url(application)).status_code == 404
    assert client.post(add_url(application), new_partner(make_siret(4246)), **HTMX).status_code == 404
    assert client.post(remove_url(application, partner), **HTMX).status_code == 404
    assert client.post(remove_url(application, partner)).status_code == 404
    assert Member.objects.filter(pk=partner.pk).exists()
    assert application.members.count() == 2


def test_anonymous_visitors_are_sent_to_the_login_page(client, application):
    response = client.get(page_url(application))
    assert response.status_code == 302
    assert "connexion" in response["Location"] or "login" in response["Location"]
    assert client.post(add_url(application), new_partner(make_siret(4247))).status_code == 302
    assert application.members.count() == 1


def test_a_partners_staff_sees_the_consortium_but_cannot_change_it(client, application):
    partner = add_partner(application, name="La CAE partenaire")
    staff = applicant()
    member_of(partner.organisation, staff)
    client.force_login(staff)
    response = client.get(page_url(application))
    assert response.status_code == 200
    html = response.content.decode()
    assert "La CAE partenaire" in html
    assert "Lecture seule" in html
    assert "Ajouter un partenaire" not in html
    assert "member-remove" not in html and "/retirer/" not in html
    assert client.post(add_url(application), new_partner(make_siret(4248)), **HTMX).status_code == 404
    assert client.post(remove_url(application, partner)).status_code == 404
    assert Member.objects.filter(pk=partner.pk).exists()
    assert not Organisation.objects.filter(siret=make_siret(4248)).exists()


def submit(application: Application) -> None:
    Application.objects.filter(pk=application.pk).update(
        status=Application.Status.SUBMITTED, submitted_at=timezone.now()
    )


def test_a_submitted_dossier_can_no_longer_gain_a_partner(lead_client, application):
    known = OrganisationFactory()
    submit(application)
    page = lead_client.get(page_url(application)).content.decode()
    assert "Ajouter un partenaire" not in page

    data = {"siret": known.siret, "role": "Tardif", "share_percent": "10"}
    response = lead_client.post(add_url(application), data, **HTMX)
    assert response.status_code == 200
    assert "ne peut plus être modifié" in response.content.decode()

    siret = make_siret(4249)
    response = lead_client.post(add_url(application), new_partner(siret))
    assert response.status_code == 200
    assert "ne peut plus être modifié" in response.content.decode()

    # Even with a mistake in the form, what the applicant learns is that nothing can change.
    response = lead_client.post(add_url(application), {"siret": "123"}, **HTMX)
    assert "ne peut plus être modifié" in response.content.decode()

    assert application.members.count() == 1
    assert not Organisation.objects.filter(siret=siret).exists()


def test_a_submitted_dossier_can_no_longer_lose_a_partner(lead_client, application):
    partner = add_partner(application)
    submit(application)
    response = lead_client.post(remove_url(application, partner), **HTMX)
    assert response.status_code == 200
    assert "ne peut plus être modifié" in response.content.decode()
    response = lead_client.post(remove_url(application, partner), follow=True)
    assert "ne peut plus être modifié" in response.content.decode()
    assert Member.objects.filter(pk=partner.pk).exists()


def test_html_typed_in_a_name_or_a_role_is_shown_as_text(lead_client, application):
    siret = make_siret(4250)
    data = new_partner(siret, name="<b>Kanopé</b>", role="<script>alert(1)</script>")
    lead_client.post(add_url(application), data, **HTMX)
    assert Member.objects.filter(organisation__siret=siret).exists()
    html = lead_client.get(page_url(application)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>Kanopé</b>" not in html
    assert "&lt;b&gt;Kanopé&lt;/b&gt;" in html


def count_queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_page_does_not_query_once_per_member(lead_client, application):
    url = page_url(application)
    add_partner(application)
    with_one = count_queries(lead_client, url)
    for _ in range(3):
        add_partner(application)
    assert application.members.count() == 5
    assert count_queries(lead_client, url) == with_one


def update_url(application: Application, member: Member) -> str:
    return reverse(
        "applications:member-update", kwargs={"reference": application.reference, "member_id": member.pk}
    )


def test_shares_are_rebalanced_in_place_until_the_consortium_is_complete(lead_client, application):
    from applications.selectors import application_completeness

    partner = add_partner(application)
    Member.objects.filter(pk=partner.pk).update(share_percent=Decimal("30"))
    lead = application.members.get(is_lead=True)
    sections = {section.key: section for section in application_completeness(application)}
    assert not sections["consortium"].complete  # 100 % + 30 %

    response = lead_client.post(
        update_url(application, lead),
        {f"membre-{lead.pk}-role": "Chef de file", f"membre-{lead.pk}-share_percent": "70"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    lead.refresh_from_db()
    assert lead.share_percent == Decimal("70")
    # The section menu is refreshed out of band: the consortium is now complete.
    assert 'id="menu-dossier-liste" hx-swap-oob="true"' in body
    menu = body.split('id="menu-dossier-liste"')[1].split("</ul>")[0]
    consortium_item = menu.split("/consortium/")[1].split("</li>")[0]
    assert "complet" in consortium_item and "à compléter" not in consortium_item
    partner.refresh_from_db()
    assert partner.share_percent == Decimal("30")


def test_a_share_update_with_bad_input_changes_nothing(lead_client, application):
    lead = application.members.get(is_lead=True)
    response = lead_client.post(
        update_url(application, lead),
        {f"membre-{lead.pk}-role": "Chef de file", f"membre-{lead.pk}-share_percent": "120"},
        HTTP_HX_REQUEST="true",
    )
    assert (
        "Part du projet (%) : Assurez-vous que cette valeur est inférieure ou égale à 100."
        in response.content.decode()
    )
    lead.refresh_from_db()
    assert lead.share_percent == Decimal("100")


def test_another_applicant_cannot_change_a_share(client, application):
    client.force_login(applicant())
    lead = application.members.get(is_lead=True)
    response = client.post(
        update_url(application, lead), {f"membre-{lead.pk}-role": "X", f"membre-{lead.pk}-share_percent": "1"}
    )
    assert response.status_code == 404
    lead.refresh_from_db()
    assert lead.share_percent == Decimal("100")


def test_a_member_numbered_past_999_is_updated_from_the_fields_the_page_names(lead_client, application):
    # Numbers are shown with a thousands separator (« 1 234 »): an id printed in a field's name
    # must not be, or the posted fields no longer match the form.
    organisation = OrganisationFactory()
    partner = Member.objects.create(
        pk=12345,
        application=application,
        organisation=organisation,
        role="Partenaire",
        share_percent=Decimal("10"),
    )
    html = lead_client.get(page_url(application)).content.decode()
    assert 'name="membre-12345-role"' in html and 'name="membre-12345-share_percent"' in html
    response = lead_client.post(
        update_url(application, partner),
        {"membre-12345-role": "Atelier", "membre-12345-share_percent": "25"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    partner.refresh_from_db()
    assert partner.share_percent == Decimal("25") and partner.role == "Atelier"


def test_the_leads_remaining_share_is_printed_the_french_way(lead_client, application):
    partner = add_partner(application, name="Partenaire à 12,5")
    Member.objects.filter(pk=partner.pk).update(share_percent=Decimal("12.50"))
    html = lead_client.get(page_url(application)).content.decode()
    assert "aujourd’hui 87,5\u00a0%, moins" in html
    assert "87.5" not in html and "87,50" not in html
