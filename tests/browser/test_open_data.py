"""The open-data page in Chromium: anyone reads the list of a call's published files with their
date and licence, and follows a link to a file. The page is audited with axe-core
(tests/browser/conftest.py)."""

import json

import pytest
from playwright.sync_api import expect

from tests.factories import CallFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_anyone_lists_a_calls_open_data_files_and_opens_one(new_page, journey):  # type: ignore[no-untyped-def]
    from grants.services.open_data import open_data_publish_all

    call = CallFactory(title="Appel ouvert aux données")
    assert open_data_publish_all(actor=None, calls=[call]) == {"published": 5, "refused": 0}

    page = new_page()
    page.goto("/donnees-ouvertes/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Données ouvertes")
    expect(page.get_by_role("link", name="Licence Ouverte / Open Licence version 2.0")).to_be_visible()
    table = page.get_by_role("table", name="Fichiers publiés de l'appel « Appel ouvert aux données »")
    expect(table.get_by_role("row")).to_have_count(6)  # the header and five files
    expect(table.get_by_role("link", name="Subventions (CSV)")).to_have_attribute(
        "href", f"/donnees-ouvertes/{call.open_data_id}/subventions.csv"
    )
    journey.step(page, "donnees ouvertes")

    with page.expect_navigation():
        table.get_by_role("link", name="Dispositif d'aide (JSON)").click()
    document = json.loads(page.locator("body").inner_text())
    assert document["data"][0]["id"] == str(call.open_data_id)
    journey.assert_accessible()
