"""Forms that help: the budget's running total against the call's bounds, the lead keeping what
remains of the consortium's shares, « * » only on what is required (with its legend), and the
workspace's filter button that keeps its text."""

import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import AuditEvent
from applications.models import Application, BudgetYear, Member
from applications.rules import budget_running, typed_amount
from applications.services import member_add, member_update
from core.formatting import format_money
from tests.factories import CallFactory, OrganisationFactory, complete_application, occitanie_instructor

pytestmark = pytest.mark.django_db

LEGEND = "Les champs marqués d’un astérisque (*) sont obligatoires."


def url(name: str, application: Application) -> str:
    return reverse(f"applications:{name}", kwargs={"reference": application.reference})


def running_box(page: str) -> str:
    return page.split('id="budget-running"')[1].split("</div>")[0]


# --- the budget ---------------------------------------------------------------------------------


def test_the_running_total_reads_amounts_typed_the_french_way():
    call = CallFactory()
    running = budget_running(
        call=call,
        requested={1: typed_amount("50 000"), 2: typed_amount("49\u202f999,50"), 3: typed_amount("abc")},
    )
    assert (running.total, running.state, running.gap) == (Decimal("99999.50"), "within", Decimal("0"))
    above = budget_running(
        call=call, requested={1: Decimal("60000"), 2: Decimal("50000"), 3: Decimal("50000")}
    )
    assert (above.state, above.gap, above.years_over_cap) == ("above", Decimal("10000"), [1])


def test_the_budget_page_shows_the_saved_total_and_the_calls_bounds_beside_the_fields(client):
    application = complete_application()
    client.force_login(application.created_by)
    page = client.get(url("dossier-budget", application)).content.decode()
    box = running_box(page)
    assert format_money(Decimal("150000")) in box  # 3 × 50 000 saved
    assert "Le total est dans les bornes de l’appel." in box
    assert f"de {format_money(Decimal('75000'))} à {format_money(Decimal('150000'))} au total" in box
    assert f"au plus {format_money(Decimal('50000'))} par an" in box
    assert 'data-min="75000.00"' in box and 'data-cap="50000.00"' in box
    assert "js/budget.js" in page


def test_a_budget_with_errors_keeps_every_value_and_totals_what_was_typed_not_what_is_saved(client):
    application = complete_application()
    BudgetYear.objects.filter(application=application).update(requested=0, other_funding=0, total_cost=0)
    client.force_login(application.created_by)
    before = client.get(url("dossier-budget", application)).content.decode()
    # The saved (empty) budget: its standing warning and a total short of the minimum.
    assert "Avant le dépôt, il reste à compléter" in before
    assert f"Il manque {format_money(Decimal('75000'))}" in running_box(before)

    data = {}
    for year, (requested, other, cost) in enumerate(
        [("40 000", "5 000", "60 000"), ("40 000", "1 234,56", "60 000"), ("50 000,01", "0", "70 000")],
        start=1,
    ):
        data |= {f"requested_{year}": requested, f"other_funding_{year}": other, f"total_cost_{year}": cost}
    response = client.post(url("dossier-budget", application), data)
    assert response.status_code == 200
    page = response.content.decode()
    for value in data.values():
        assert f'value="{value}"' in page
    assert 'id="id_requested_3-erreurs"' in page
    box = running_box(page)
    assert format_money(Decimal("130000.01")) in box and "Le total est dans les bornes de l’appel." in box
    assert "Au-dessus du plafond annuel : année 3." in box
    # No standing warning about the saved budget to contradict the typed amounts.
    assert "Avant le dépôt, il reste à compléter" not in page
    assert "data-budget-saved-state" not in page
    assert (
        list(BudgetYear.objects.filter(application=application).values_list("requested", flat=True))
        == [Decimal("0")] * 3
    )


# --- the consortium -----------------------------------------------------------------------------


def partner(application: Application, share: str, **kwargs: object) -> Member:
    organisation = OrganisationFactory(**kwargs)
    return member_add(
        application=application,
        organisation_fields={"siret": organisation.siret},
        role="Partenaire",
        share_percent=Decimal(share),
        actor=application.created_by,
    )


def shares(application: Application) -> list[Decimal]:
    return list(application.members.order_by("-is_lead", "pk").values_list("share_percent", flat=True))


def test_a_partner_at_40_percent_leaves_the_lead_60_never_140():
    application = complete_application()
    partner(application, "40")
    assert shares(application) == [Decimal("60"), Decimal("40")]
    partner(application, "25")
    assert shares(application) == [Decimal("35"), Decimal("40"), Decimal("25")]
    assert sum(shares(application)) == 100


def test_shares_above_100_in_total_are_refused_in_french_and_nothing_is_saved():
    application = complete_application()
    first = partner(application, "70")
    with pytest.raises(ValidationError, match="Les parts des partenaires totaliseraient 110"):
        partner(application, "40", name="Trop gourmande")
    assert not Member.objects.filter(organisation__name="Trop gourmande").exists()
    assert shares(application) == [Decimal("30"), Decimal("70")]

    lead = application.members.get(is_lead=True)
    with pytest.raises(ValidationError, match="ne peuvent pas dépasser 100"):
        member_update(
            member=lead, role="Chef de file", share_percent=Decimal("50"), actor=application.created_by
        )
    # A partner's share raised: the lead keeps what remains.
    member_update(member=first, role="Partenaire", share_percent=Decimal("80"), actor=application.created_by)
    assert shares(application) == [Decimal("20"), Decimal("80")]


def test_a_share_changed_and_the_leads_share_lowered_for_it_are_audited_before_and_after():
    application = complete_application()
    lead = application.members.get(is_lead=True)
    first = partner(application, "40")
    actor = application.created_by

    def events(action: str) -> list[dict[str, str]]:
        return list(
            AuditEvent.objects.filter(action=action, target_id=str(application.pk), actor=actor)
            .order_by("pk")
            .values_list("data", flat=True)
        )

    lowered = {"siret": lead.organisation.siret, "because_of": first.organisation.siret}
    assert events("application.lead_share_lower") == [
        lowered | {"share_before": "100.00", "share_after": "60.00"}
    ]
    member_update(member=first, role="Partenaire associé", share_percent=Decimal("55"), actor=actor)
    assert events("application.member_update") == [
        {
            "siret": first.organisation.siret,
            "role_before": "Partenaire",
            "role_after": "Partenaire associé",
            "share_before": "40.00",
            "share_after": "55.00",
        }
    ]
    assert events("application.lead_share_lower")[-1] == lowered | {
        "share_before": "60.00",
        "share_after": "45.00",
    }
    # Lowering a partner's share leaves the lead as it is: nothing lowered, nothing more audited.
    member_update(member=first, role="Partenaire associé", share_percent=Decimal("30"), actor=actor)
    assert len(events("application.lead_share_lower")) == 2
    assert len(events("application.member_update")) == 2


def test_adding_a_partner_says_what_the_lead_keeps(client):
    application = complete_application()
    known = OrganisationFactory(name="Kanopé")
    client.force_login(application.created_by)
    page = client.get(url("dossier-consortium", application)).content.decode()
    assert "Le chef de file garde ce qui reste après les partenaires" in page and LEGEND in page
    response = client.post(
        url("member-add", application),
        {"siret": known.siret, "role": "CAE", "share_percent": "40"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "Le chef de file garde ce qui reste : sa part passe de 100\u00a0% à 60\u00a0%." in html
    assert "totalisent 140" not in html and shares(application) == [Decimal("60"), Decimal("40")]

    too_much = OrganisationFactory(name="Trop gourmande")
    response = client.post(
        url("member-add", application), {"siret": too_much.siret, "role": "X", "share_percent": "70"}
    )
    html = response.content.decode()
    assert response.status_code == 200 and 'id="id_share_percent-erreurs"' in html
    assert "Les parts des partenaires totaliseraient 110" in html
    assert not application.members.filter(organisation=too_much).exists()


# --- required and optional ----------------------------------------------------------------------


def test_only_required_documents_carry_an_asterisk_and_the_legend_says_what_it_means(client):
    application = complete_application()
    client.force_login(application.created_by)
    page = client.get(url("dossier-documents", application)).content.decode()
    assert LEGEND in page
    labels = dict(re.findall(r"Ajouter un fichier pour « ([^»]+) »(.{0,80})", page))
    assert "portal-required" in labels["Statuts"]
    assert "portal-required" not in labels["Lettres de soutien"]

    optional = application.call.required_documents.get(code="soutiens")
    response = client.post(
        url("dossier-documents", application), {f"doc-{optional.pk}-required_document": optional.pk}
    )
    assert "Choisissez un fichier à déposer." in response.content.decode()


def test_the_project_form_has_the_legend(client):
    application = complete_application()
    client.force_login(application.created_by)
    assert LEGEND in client.get(url("dossier-project", application)).content.decode()


def test_the_filter_button_keeps_its_text_inside_its_button_group(client):
    client.force_login(occitanie_instructor())
    page = client.get(reverse("applications:instructor-home")).content.decode()
    group = page.split("Appliquer les filtres")[0].rsplit("<ul", 1)[1]
    # Without --icon-left on the group, the DSFR shrinks an icon button to its icon (2.5rem).
    assert "fr-btns-group--icon-left" in group
