"""Sub-envelopes: the call's envelope delegated to régions and départements, set by the programme
admins, committed and released by every path that moves money, recounted by `envelope_check`."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import AuditEvent
from applications.models import Application, Call
from core.formatting import format_money
from grants.models import Grant, SubEnvelope, Tranche
from grants.selectors.envelope import SubEnvelopeRemaining, sub_envelopes_remaining
from grants.services import application_award, application_reopen, decisions_bulk
from grants.services.agreements import agreement_terminate, amendment_create
from grants.services.bulk_decisions import decisions_bulk_preview
from grants.services.decisions import award_preview
from grants.services.envelope import envelope_drift_lines, envelope_recount
from grants.services.payments import tranche_cancel
from grants.services.sub_envelopes import sub_envelopes_preview, sub_envelopes_set
from tests.factories import in_review_application, programme_admin
from tests.grants.test_agreements import active, laureate, pay

pytestmark = pytest.mark.django_db

OCCITANIE, GERS, HAUTE_GARONNE, ILE_DE_FRANCE = "76", "32", "31", "11"
AWARD = Decimal("150000")


def amounts(call: Call, regions: dict[str, str], departements: dict[str, str] | None = None) -> None:
    sub_envelopes_set(
        call=call,
        regions={code: Decimal(value) for code, value in regions.items()},
        departements={code: Decimal(value) for code, value in (departements or {}).items()},
        actor=programme_admin(),
    )


def rows(call: Call) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Each sub-envelope of the call by its territory's code: amount, committed, delegated."""
    return {
        sub.departement_id or sub.region_id: (sub.amount, sub.committed_amount, sub.delegated_amount)
        for sub in SubEnvelope.objects.filter(call=call)
    }


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


def dossier(call: Call | None = None, departement: str = GERS) -> tuple[Application, object]:
    """A dossier in review asking 150 000 € in `departement` (of Occitanie: the reviewer's scope)."""
    application, reviewer = in_review_application(**({"call": call} if call else {}))
    Application.objects.filter(pk=application.pk).update(departement_id=departement)
    application.refresh_from_db()
    return application, reviewer


# --- setting the amounts ---------------------------------------------------------------------------


def test_an_admin_delegates_to_a_region_and_its_departements_and_it_is_audited():
    application, _reviewer = dossier()
    call = application.call
    admin = programme_admin()
    plan = sub_envelopes_set(
        call=call,
        regions={OCCITANIE: Decimal("3000000"), ILE_DE_FRANCE: Decimal("5000000")},
        departements={GERS: Decimal("500000"), HAUTE_GARONNE: Decimal("700000")},
        actor=admin,
    )
    assert rows(call) == {
        OCCITANIE: (Decimal("3000000"), Decimal("0"), Decimal("1200000")),
        ILE_DE_FRANCE: (Decimal("5000000"), Decimal("0"), Decimal("0")),
        GERS: (Decimal("500000"), Decimal("0"), Decimal("0")),
        HAUTE_GARONNE: (Decimal("700000"), Decimal("0"), Decimal("0")),
    }
    assert plan.regions_total == Decimal("8000000")
    assert [change.label for change in plan.changes] == [
        "Région Île-de-France",
        "Région Occitanie",
        "Département Haute-Garonne (31)",
        "Département Gers (32)",
    ]
    event = AuditEvent.objects.get(action="envelope.sub_envelopes_set")
    assert event.actor == admin and event.target_id == str(call.pk)
    assert {"region": OCCITANIE, "departement": GERS, "before": None, "after": "500000"} in event.data[
        "changes"
    ]

    # Lowered, one removed: the région's delegated counter follows its départements.
    sub_envelopes_set(
        call=call,
        regions={OCCITANIE: Decimal("2000000")},
        departements={GERS: Decimal("400000"), HAUTE_GARONNE: None},
        actor=admin,
    )
    assert rows(call) == {
        OCCITANIE: (Decimal("2000000"), Decimal("0"), Decimal("400000")),
        GERS: (Decimal("400000"), Decimal("0"), Decimal("0")),
    }
    assert AuditEvent.objects.filter(action="envelope.sub_envelopes_set").count() == 2


@pytest.mark.parametrize(
    ("regions", "departements", "field", "message"),
    [
        (
            {OCCITANIE: "30000000", ILE_DE_FRANCE: "30000000"},
            {},
            "__all__",
            "Les enveloppes des régions totalisent 60 000 000 €, au-delà de l'enveloppe de l'appel (54 000 000 €).",
        ),
        (
            {OCCITANIE: "1000000"},
            {GERS: "600000", HAUTE_GARONNE: "500000"},
            f"region_{OCCITANIE}",
            "Les enveloppes des départements de la région Occitanie totalisent 1 100 000 €, au-delà des "
            "1 000 000 € délégués à la région.",
        ),
        (
            {},
            {GERS: "600000"},
            f"departement_{GERS}",
            "Fixez d'abord l'enveloppe de la région Occitanie : celle d'un département en est une part.",
        ),
        ({OCCITANIE: "-1"}, {}, f"region_{OCCITANIE}", "Un montant délégué ne peut pas être négatif."),
    ],
)
def test_sums_above_their_parent_are_refused_next_to_the_field_and_nothing_is_saved(
    regions, departements, field, message
):
    application, _reviewer = dossier()
    call = application.call
    amounts(call, {OCCITANIE: "2000000"})
    with pytest.raises(ValidationError) as raised:
        amounts(call, regions, departements)
    # The figures are spaced by format_money's no-break spaces.
    assert message in [plain(text) for text in raised.value.message_dict[field]]
    assert rows(call) == {OCCITANIE: (Decimal("2000000"), Decimal("0"), Decimal("0"))}
    assert AuditEvent.objects.filter(action="envelope.sub_envelopes_set").count() == 1


def test_only_a_programme_admin_sets_the_amounts():
    application, reviewer = dossier()
    with pytest.raises(PermissionDenied):
        sub_envelopes_set(call=application.call, regions={OCCITANIE: AWARD}, departements={}, actor=reviewer)
    with pytest.raises(PermissionDenied):
        sub_envelopes_preview(
            call=application.call, regions={OCCITANIE: AWARD}, departements={}, actor=reviewer
        )
    assert not SubEnvelope.objects.exists()


def test_a_new_sub_envelope_starts_from_what_is_already_committed_and_cannot_go_below_it():
    case = laureate()  # 150 000 € awarded in the Gers
    committed = case.grant.amount + case.grant.bonus
    amounts(case.call, {OCCITANIE: "1000000"}, {GERS: "400000"})
    assert rows(case.call)[OCCITANIE][1] == committed
    assert rows(case.call)[GERS][1] == committed
    with pytest.raises(ValidationError) as raised:
        amounts(case.call, {OCCITANIE: "1000000"}, {GERS: "100000"})
    assert raised.value.message_dict[f"departement_{GERS}"] == [
        f"L'enveloppe déléguée au département Gers (32) ne peut pas descendre à {format_money(Decimal('100000'))} : "
        f"{format_money(committed)} y sont déjà engagés."
    ]
    with pytest.raises(ValidationError) as raised:
        amounts(case.call, {OCCITANIE: "100000"})
    assert raised.value.message_dict[f"region_{OCCITANIE}"] == [
        f"L'enveloppe déléguée à la région Occitanie ne peut pas descendre à {format_money(Decimal('100000'))} : "
        f"{format_money(committed)} y sont déjà engagés."
    ]
    assert rows(case.call)[GERS][0] == Decimal("400000")
    # Removing a delegation is allowed: what it held stays counted in the call's envelope.
    amounts(case.call, {OCCITANIE: "1000000"})
    assert set(rows(case.call)) == {OCCITANIE}


def test_the_database_refuses_a_sub_envelope_overcommitted_or_overdelegated():
    application, _reviewer = dossier()
    amounts(application.call, {OCCITANIE: "300000"}, {GERS: "200000"})
    with pytest.raises(IntegrityError), transaction.atomic():
        SubEnvelope.objects.filter(departement_id=GERS).update(committed_amount=F("amount") + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        SubEnvelope.objects.filter(departement__isnull=True).update(delegated_amount=Decimal("300000.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        SubEnvelope.objects.filter(departement_id=GERS).update(delegated_amount=Decimal("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        SubEnvelope.objects.create(
            call=application.call, region_id=OCCITANIE, amount=Decimal("1"), updated_by=programme_admin()
        )


# --- awards and the other paths that move money ------------------------------------------------------


def test_an_award_commits_the_region_and_departement_sub_envelopes_with_the_call():
    application, reviewer = dossier()
    amounts(application.call, {OCCITANIE: "1000000", ILE_DE_FRANCE: "1000000"}, {GERS: "300000"})
    application_award(application=application, amount=AWARD, actor=reviewer)
    assert rows(application.call)[OCCITANIE][1] == AWARD
    assert rows(application.call)[GERS][1] == AWARD
    assert rows(application.call)[ILE_DE_FRANCE][1] == Decimal("0")
    assert Call.objects.get(pk=application.call_id).committed_amount == AWARD
    # A dossier of another département of the région draws on the région's only.
    other, reviewer = dossier(application.call, HAUTE_GARONNE)
    application_award(application=other, amount=AWARD, actor=reviewer)
    assert rows(application.call)[OCCITANIE][1] == 2 * AWARD
    assert rows(application.call)[GERS][1] == AWARD


def test_an_award_over_the_regions_sub_envelope_is_refused_with_its_message_and_writes_nothing():
    application, reviewer = dossier()
    call = application.call
    amounts(call, {OCCITANIE: "100000"})
    with pytest.raises(ValidationError) as raised:
        award_preview(application=application, amount=AWARD, actor=reviewer)
    message = (
        f"L'enveloppe déléguée à la région Occitanie ne permet pas d'engager {format_money(AWARD)} : il n'y "
        f"reste que {format_money(Decimal('100000'))}."
    )
    assert raised.value.message_dict["amount"] == [message]
    with pytest.raises(ValidationError) as raised:
        application_award(application=application, amount=AWARD, actor=reviewer)
    assert raised.value.message_dict["amount"] == [message]
    call.refresh_from_db()
    application.refresh_from_db()
    assert (call.committed_amount, call.laureate_count, application.status) == (0, 0, "in_review")
    assert not Grant.objects.exists()
    assert rows(call)[OCCITANIE][1] == Decimal("0")


def test_an_award_over_the_departements_sub_envelope_is_refused_with_its_message():
    application, reviewer = dossier()
    amounts(application.call, {OCCITANIE: "1000000"}, {GERS: "120000"})
    with pytest.raises(ValidationError) as raised:
        application_award(application=application, amount=AWARD, actor=reviewer)
    assert raised.value.message_dict["amount"] == [
        f"L'enveloppe déléguée au département Gers (32) ne permet pas d'engager {format_money(AWARD)} : il "
        f"n'y reste que {format_money(Decimal('120000'))}."
    ]
    assert rows(application.call)[OCCITANIE][1] == Decimal("0")
    # The same dossier fits at the département's remainder.
    application_award(application=application, amount=Decimal("120000"), actor=reviewer)
    assert rows(application.call)[GERS][1] == Decimal("120000")


def test_a_reopening_releases_the_sub_envelopes():
    case = laureate()
    amounts(case.call, {OCCITANIE: "1000000"}, {GERS: "300000"})
    application_reopen(application=case.application, reason="Erreur matérielle.", actor=programme_admin())
    assert rows(case.call)[OCCITANIE][1] == Decimal("0")
    assert rows(case.call)[GERS][1] == Decimal("0")
    assert envelope_drift_lines(envelope_recount(case.call)) == []


def test_a_tranche_cancelled_an_amendment_and_a_termination_keep_the_sub_envelopes_right():
    case = laureate(amount="120000")
    admin = programme_admin()
    amounts(case.call, {OCCITANIE: "1000000"}, {GERS: "130000"})

    def amend() -> None:
        amendment_create(
            grant=case.grant,
            new_amount=Decimal("150000"),
            yearly=[Decimal("50000")] * 3,
            reason="Extension du fablab.",
            actor=admin,
        )

    # Beyond the département's remainder: refused with its message, nothing moved.
    with pytest.raises(ValidationError) as raised:
        amend()
    assert raised.value.message_dict["amount"] == [
        f"L'enveloppe déléguée au département Gers (32) ne permet pas d'engager {format_money(Decimal('30000'))} "
        f": il n'y reste que {format_money(Decimal('10000'))}."
    ]
    assert rows(case.call)[GERS][1] == Decimal("120000")
    amounts(case.call, {OCCITANIE: "1000000"}, {GERS: "300000"})
    amend()
    assert rows(case.call)[GERS][1] == Decimal("150000")
    assert rows(case.call)[OCCITANIE][1] == Decimal("150000")
    third = Tranche.objects.get(grant=case.grant, year_index=3)
    tranche_cancel(tranche=third, reason="Projet réduit.", actor=admin)
    assert rows(case.call)[GERS][1] == Decimal("100000")
    active(case, admin)
    pay(case.grant, 1)
    case.agreement.refresh_from_db()
    agreement_terminate(
        agreement=case.agreement, reason="Le lieu a fermé.", clawback_amount=Decimal("0"), actor=admin
    )
    assert rows(case.call)[GERS][1] == Decimal("50000")
    assert rows(case.call)[OCCITANIE][1] == Decimal("50000")
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("50000")
    assert envelope_drift_lines(envelope_recount(case.call)) == []


def test_bulk_decisions_count_the_sub_envelope_down_across_the_list():
    first, reviewer = dossier()
    second, _same = dossier(first.call, HAUTE_GARONNE)
    amounts(first.call, {OCCITANIE: "200000"})
    preview = decisions_bulk_preview(
        applications=[first, second], decision="award", actor=reviewer, amount=AWARD
    )
    assert [row.done for row in preview] == [True, False]
    assert preview[1].refusal == (
        f"L'enveloppe déléguée à la région Occitanie ne permet pas d'engager {format_money(AWARD)} : il n'y "
        f"reste que {format_money(Decimal('50000'))}."
    )
    results = decisions_bulk(applications=[first, second], decision="award", actor=reviewer, amount=AWARD)
    assert [result.done for result in results] == [True, False]
    assert results[1].message == preview[1].refusal
    assert rows(first.call)[OCCITANIE][1] == AWARD


# --- the recount and the selector ----------------------------------------------------------------


def test_envelope_check_recounts_the_sub_envelopes_and_reports_their_drift():
    case = laureate()
    amounts(case.call, {OCCITANIE: "1000000"}, {GERS: "300000"})
    out = StringIO()
    call_command("envelope_check", "--call", case.call.slug, stdout=out)
    assert "sans écart" in out.getvalue()
    # A write around the envelope module, as a faulty script would do it.
    SubEnvelope.objects.filter(departement_id=GERS).update(committed_amount=Decimal("1000"))
    SubEnvelope.objects.filter(region_id=OCCITANIE, departement__isnull=True).update(delegated_amount=0)
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("envelope_check", "--call", case.call.slug, stdout=out)
    text = out.getvalue()
    committed = case.grant.amount + case.grant.bonus
    assert (
        f"Enveloppe déléguée au département Gers (32) : le compteur indique {format_money(Decimal('1000'))} "
        f"engagés, les tranches en cours de ses dossiers totalisent {format_money(committed)}."
    ) in text
    assert "Enveloppe déléguée à la région Occitanie : le compteur indique 0" in text
    assert f"leurs enveloppes totalisent {format_money(Decimal('300000'))}." in text


def test_sub_envelopes_remaining_gives_each_territory_its_remainder():
    case = laureate()
    assert sub_envelopes_remaining(case.call) == []
    amounts(case.call, {OCCITANIE: "1000000", ILE_DE_FRANCE: "2000000"}, {GERS: "300000"})
    committed = case.grant.amount + case.grant.bonus
    result = sub_envelopes_remaining(case.call)
    by_code = {(row.region_code, row.departement_code): row for row in result}
    assert by_code[(OCCITANIE, None)] == SubEnvelopeRemaining(
        region_code=OCCITANIE,
        departement_code=None,
        departements=frozenset(
            {"09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"}
        ),
        amount=Decimal("1000000.00"),
        committed=committed,
        remaining=Decimal("1000000") - committed,
    )
    assert by_code[(OCCITANIE, GERS)].departements == frozenset({GERS})
    assert by_code[(OCCITANIE, GERS)].remaining == Decimal("300000") - committed
    assert by_code[(ILE_DE_FRANCE, None)].remaining == Decimal("2000000")
    assert "75" in by_code[(ILE_DE_FRANCE, None)].departements
    # Régions first: a solver reads the parents before their parts.
    assert [row.departement_code for row in result] == [None, None, GERS]
    assert all(isinstance(row.remaining, Decimal) for row in result)
