"""`seed_bulk`: many dossiers in every state, envelopes kept exact, references that never collide."""

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.urls import reverse
from stdnum.fr import siret

from applications.models import (
    Application,
    Assignment,
    BudgetYear,
    Call,
    Member,
    ReferenceCounter,
    Score,
    StatusChange,
)
from applications.services import application_create
from applications.workflow import TRANSITIONS
from devtools.bulk import seed_bulk
from fabriques.models import Departement, Organisation, OrganisationMembership, TiersLieu
from grants.models import Agreement, Grant, Tranche
from tests.factories import occitanie_instructor, programme_admin

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def check_envelopes() -> None:
    for call in Call.objects.all():
        grants = Grant.objects.filter(call=call, status=Grant.Status.ACTIVE)
        totals = grants.aggregate(amount=Sum("amount"), bonus=Sum("bonus"))
        committed = (totals["amount"] or Decimal("0")) + (totals["bonus"] or Decimal("0"))
        assert call.committed_amount == committed, call.slug
        assert call.committed_amount <= call.envelope
        assert call.laureate_count == grants.count() <= call.target_count


def test_seed_bulk_builds_consistent_data_in_every_state():
    summary = seed_bulk(dossiers=300, seed=3, now=NOW)

    assert summary.dossiers == Application.objects.count() == 300
    assert Call.objects.count() == 6
    statuses = Counter(Application.objects.values_list("status", flat=True))
    for status in (
        "draft",
        "submitted",
        "in_review",
        "corrections_requested",
        "awarded",
        "refused",
        "closed",
    ):
        assert statuses[status] > 0, status
    # Most dossiers are not awarded; each awarded one has its grant, agreement and three tranches.
    assert statuses["awarded"] < 300 / 4
    assert Grant.objects.count() == statuses["awarded"] == Agreement.objects.count()
    assert Tranche.objects.count() == 3 * statuses["awarded"]
    assert {"paid", "scheduled"} <= set(Tranche.objects.values_list("status", flat=True))
    for grant in Grant.objects.prefetch_related("tranches"):
        assert sum(t.amount for t in grant.tranches.all()) == grant.amount + grant.bonus
    check_envelopes()

    # Every move in the history is one the workflow allows, and ends at the dossier's state.
    for application in Application.objects.prefetch_related("status_changes"):
        changes = list(application.status_changes.all())
        state = "draft"
        for change in changes:
            assert change.from_status == state and change.to_status in TRANSITIONS[state]
            state = change.to_status
        assert state == application.status
    # One lead per dossier, shares adding up to 100 %, three budget years each.
    shares = Member.objects.values("application").annotate(
        leads=Count("pk", filter=Q(is_lead=True)), total=Sum("share_percent")
    )
    assert all(row["leads"] == 1 and row["total"] == 100 for row in shares)
    assert BudgetYear.objects.count() == 900
    assert Score.objects.exists() and Assignment.objects.exists()
    assert Application.objects.filter(status="awarded", score__isnull=True).count() == 0
    # Valid SIRETs, a legal representative for each structure, places in every département.
    for value in Organisation.objects.values_list("siret", flat=True):
        assert siret.is_valid(value), value
    assert not Organisation.objects.filter(memberships__is_legal_representative=True).count() < (
        Organisation.objects.count()
    )
    assert Departement.objects.exclude(places__isnull=False).count() == 0
    assert StatusChange.objects.filter(to_status="awarded").count() == statuses["awarded"]


def test_references_are_unique_and_later_dossiers_get_fresh_ones():
    seed_bulk(dossiers=300, seed=5, now=NOW)

    references = list(Application.objects.values_list("reference", flat=True))
    assert len(set(references)) == len(references)
    for counter in ReferenceCounter.objects.all():
        given = [
            int(r.rsplit("-", 1)[1]) for r in references if r.startswith(f"{counter.prefix}-{counter.year}-")
        ]
        assert counter.last_number >= max(given, default=0)

    call = Call.objects.get(slug="fabriques-de-territoires")
    lead = OrganisationMembership.objects.filter(organisation__application_memberships__isnull=False).first()
    assert lead is not None
    application = application_create(
        call=call, lead_organisation=lead.organisation, title="Une candidature après coup", actor=lead.user
    )
    assert application.reference not in references


def test_same_seed_same_data():
    def fingerprint() -> tuple[list[tuple[object, ...]], ...]:
        return (
            list(
                Application.objects.order_by("reference").values_list("reference", "status", "title", "score")
            ),
            list(Organisation.objects.order_by("siret").values_list("siret", "name", "departement_id")),
            list(
                Grant.objects.order_by("application__reference").values_list(
                    "application__reference", "amount"
                )
            ),
            list(
                Tranche.objects.order_by("grant__application__reference", "year_index").values_list(
                    "status", "amount", "paid_on"
                )
            ),
        )

    class Rollback(Exception):
        pass

    prints = []
    for _attempt in range(2):
        try:
            with transaction.atomic():
                seed_bulk(dossiers=150, seed=11, now=NOW)
                prints.append(fingerprint())
                raise Rollback
        except Rollback:
            pass
    assert prints[0] == prints[1]
    assert prints[0][0]


def test_running_twice_adds_without_collision():
    seed_bulk(dossiers=120, seed=2, now=NOW)
    seed_bulk(dossiers=120, seed=2, now=NOW)
    assert Application.objects.count() == 240
    assert Application.objects.values("reference").distinct().count() == 240
    check_envelopes()


def test_the_command_prints_a_summary():
    out = StringIO()
    call_command("seed_bulk", "--dossiers", "60", "--seed", "4", "--calls", "2", stdout=out)
    assert "60 dossiers" in out.getvalue()
    assert Call.objects.count() == 2
    check_envelopes()


def test_workspace_and_dashboard_render_over_bulk_data(client):
    seed_bulk(dossiers=300, seed=7, now=NOW)

    client.force_login(occitanie_instructor())
    response = client.get(reverse("applications:instructor-home"))
    assert response.status_code == 200
    response = client.get(reverse("applications:instructor-home"), {"tab": "decided"})
    assert response.status_code == 200

    client.force_login(programme_admin())
    for call in Call.objects.all():
        response = client.get(reverse("grants:dashboard", kwargs={"slug": call.slug}))
        assert response.status_code == 200, call.slug
        assert "counters_match" not in response.content.decode()


@pytest.mark.slow
def test_seed_bulk_on_top_of_the_demo_data(django_capture_on_commit_callbacks):
    from devtools.demo import seed_all

    with django_capture_on_commit_callbacks(execute=True):
        seed_all()
    before = Call.objects.get(slug="fabriques-de-territoires")
    assert before.laureate_count == 1

    seed_bulk(dossiers=200, seed=9, now=NOW)

    assert Application.objects.filter(title__startswith="Gers Développement").count() == 1
    references = list(Application.objects.values_list("reference", flat=True))
    assert len(set(references)) == len(references)
    assert TiersLieu.objects.filter(source="cget-2019").exists()
    check_envelopes()
    assert Call.objects.get(pk=before.pk).laureate_count >= 1
