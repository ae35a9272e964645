"""The demo data of `make demo`: the Gers Développement and Kanopé dossier and the others."""

from decimal import Decimal

import pypdf
import pytest
from stdnum.fr import siret

from applications.models import Application
from devtools.demo import seed_all
from fabriques.models import Organisation, TiersLieu
from grants.models import Grant
from notifications.models import Document

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def counts() -> tuple[int, ...]:
    return (
        Application.objects.count(),
        Organisation.objects.count(),
        TiersLieu.objects.count(),
        Document.objects.count(),
    )


def test_seed_builds_the_gers_consortium_dossier_and_can_run_twice(
    django_capture_on_commit_callbacks, task_queues
):
    with django_capture_on_commit_callbacks(execute=True):
        seed_all()
    task_queues.drain()
    first = counts()
    with django_capture_on_commit_callbacks(execute=True):
        seed_all()
    # Nothing asked twice: the second run queues no document and no e-mail.
    assert task_queues.sent == []
    assert counts() == first

    gers = Application.objects.get(title__startswith="Gers Développement et Kanopé")
    assert gers.status == Application.Status.AWARDED
    grant = Grant.objects.get(application=gers, status="active")
    assert grant.amount == Decimal("150000")
    assert list(grant.tranches.values_list("amount", flat=True)) == [Decimal("50000")] * 3
    assert gers.status_changes.get(to_status="awarded").document.kind == "award-letter"
    assert gers.call.committed_amount == Decimal("150000") and gers.call.laureate_count == 1
    # The agreement is signed by the lead's legal representative and the first tranche is paid.
    assert grant.agreement.status == "active" and grant.agreement.accepted_by.email.startswith("porteur@")
    first = grant.tranches.get(year_index=1)
    assert (first.status, first.amount) == ("paid", Decimal("50000"))
    assert first.payment_request is not None
    members = {m.organisation.name: m for m in gers.members.select_related("organisation")}
    assert set(members) == {"Gers Développement", "Kanopé"}
    assert members["Gers Développement"].is_lead
    assert members["Kanopé"].organisation.cooperative_kind == "cae"
    lead = members["Gers Développement"].organisation
    assert (lead.commune_name, lead.departement_id, lead.year_created, lead.headcount) == (
        "Auch",
        "32",
        2010,
        4,
    )
    assert [y.requested for y in gers.budget_years.order_by("year_index")] == [Decimal("50000")] * 3
    assert sum(y.requested for y in gers.budget_years.all()) == Decimal("150000")
    bobine = gers.places.get()
    assert bobine.name == "La Bobine"
    assert set(bobine.activities.values_list("code", flat=True)) >= {"coworking", "fablab", "audiovisual"}
    receipt = gers.status_changes.get(to_status="submitted").document
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(receipt.file.path).pages)
    assert gers.reference in text and "Kanopé" in text

    # Demo structures are marked as such, with checksum-valid SIRETs.
    for organisation in Organisation.objects.all():
        assert organisation.is_demo
        assert siret.is_valid(organisation.siret)

    # The other dossiers stand on real places of the 2019 census, in several states.
    others = Application.objects.exclude(pk=gers.pk)
    assert set(others.values_list("status", flat=True)) == {"draft", "in_review", "refused", "withdrawn"}
    assert others.get(status="in_review").score is not None
    assert "modèle économique" in others.get(status="refused").status_changes.last().note
    for application in others:
        assert application.places.filter(source="cget-2019").exists()
    assert TiersLieu.objects.filter(source="cget-2019").count() > 1500


def test_the_demo_call_names_its_grantor_and_exports_open_data_the_schema_accepts(
    django_capture_on_commit_callbacks, tmp_path
):
    from django.core.management import call_command

    from tests.grants.scdl import schema_errors

    with django_capture_on_commit_callbacks(execute=True):
        seed_all()
    gers = Application.objects.get(title__startswith="Gers Développement et Kanopé")
    assert gers.call.grantor_siret == "13002612300013" and siret.is_valid(gers.call.grantor_siret)
    call_command("export_open_data", "--call", gers.call.slug, "--output", tmp_path / "od.csv")
    assert schema_errors(tmp_path / "od.csv") == []
    lines = (tmp_path / "od.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) >= 3 and all(",13002612300013," in line for line in lines[1:])
