"""The homes in a browser: the applicant sees what is expected next and follows it; the instructor
sees their to-do. Screenshots and axe-core audits as in test_journeys."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from grants.models import Agreement
from grants.services import application_award
from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, in_review_application

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_the_applicant_home_leads_to_the_agreement_and_the_workspace_lists_the_instructors_work(
    new_page, journey
):
    application, reviewer = in_review_application()
    laureate, _reviewer = in_review_application()
    application_award(application=laureate, amount=Decimal("150000"), actor=_reviewer)
    agreement = Agreement.objects.get(grant__application=laureate)

    home = new_page()
    log_in(home, laureate.created_by.email, PASSWORD)
    section = home.locator("#ce-qui-est-attendu").locator("xpath=..")
    expect(section).to_contain_text("Convention à accepter")
    expect(section).to_contain_text("Tranche de l'année 1 à demander : 50\u00a0000\u00a0€")
    expect(section).to_contain_text("En attente")
    journey.step(home, "porteur ce qui est attendu")
    with home.expect_navigation():
        section.get_by_role("link", name="Lire et accepter la convention").click()
    expect(home.get_by_role("heading", level=1)).to_contain_text(agreement.number)

    desk = new_page()
    log_in(desk, reviewer.email, PASSWORD, journey)
    todo = desk.locator("#a-faire").locator("xpath=..")
    expect(todo).to_contain_text("Dossiers qui vous sont affectés, à noter (1)")
    journey.step(desk, "instructeur a faire")
    with desk.expect_navigation():
        todo.get_by_role("link", name=f"Noter « {application.title} »").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text(application.title)
    journey.assert_accessible()
