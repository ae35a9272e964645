"""Forms that help, in Chromium: the budget's running total follows the amounts as they are typed,
and « Appliquer les filtres » keeps its text from a phone's width to a desktop's."""

from decimal import Decimal

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from applications.models import BudgetYear
from core.formatting import format_money
from tests.browser.test_journeys import log_in
from tests.factories import PASSWORD, complete_application, occitanie_instructor

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_the_budget_total_follows_what_is_typed(new_page, journey):  # type: ignore[no-untyped-def]
    application = complete_application()
    BudgetYear.objects.filter(application=application).update(requested=0, other_funding=0, total_cost=0)
    page = new_page()
    log_in(page, application.created_by.email, PASSWORD)
    page.goto(reverse("applications:dossier-budget", args=[application.reference]))
    box = page.locator("#budget-running")
    expect(box).to_contain_text(f"Il manque {format_money(Decimal('75000'))}")
    expect(page.locator("[data-budget-saved-state]")).to_be_visible()

    page.locator("#id_requested_1").fill("50 000")
    page.locator("#id_requested_2").fill("40 000,50")
    expect(box.locator("[data-budget-total]")).to_have_text(format_money(Decimal("90000.50")))
    expect(box).to_contain_text("Le total est dans les bornes de l’appel.")
    # The list of what the saved budget lacks no longer stands beside typed amounts.
    expect(page.locator("[data-budget-saved-state]")).to_be_hidden()
    page.locator("#id_requested_3").fill("60 000")
    expect(box).to_contain_text(f"Le total dépasse de {format_money(Decimal('0.50'))}")
    expect(box).to_contain_text("Au-dessus du plafond annuel : année 3.")
    journey.step(page, "budget total en direct")
    journey.assert_accessible()


@pytest.mark.parametrize("width", [320, 768, 1280])
def test_the_filter_button_shows_its_text_at_every_width(new_page, journey, width):  # type: ignore[no-untyped-def]
    user = occitanie_instructor()
    page = new_page()
    log_in(page, user.email, PASSWORD)
    page.set_viewport_size({"width": width, "height": 900})  # after: narrow, the header's menu folds
    page.goto(reverse("applications:instructor-home"))
    button = page.get_by_role("button", name="Appliquer les filtres")
    expect(button).to_be_visible()
    # The whole label is laid out inside the button, not clipped to the icon's 2.5rem.
    assert button.evaluate("b => b.scrollWidth <= b.clientWidth + 1 && b.clientWidth > 100")
    journey.step(page, f"filtres {width}", audit=False)
