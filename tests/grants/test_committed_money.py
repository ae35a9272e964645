"""What is committed is what is scheduled: the FNT bonus through amendments, and a property test.

- An amendment builds its tranches as the award does: the yearly breakdown is the operating
  grant's, the FNT bonus rides on the first tranche (grants.services.envelope.tranche_amounts).
- Whatever sequence of awards, amendments, payments, cancellations, terminations and reopenings
  happens (hypothesis), for every grant, FNT or not, the tranches add up to the grant's amount plus
  its bonus, the tranches not cancelled add up to what the envelope holds for it, and the call's
  committed amount is the sum over its grants. A refused action writes nothing.
"""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from applications.models import Application, Call
from grants.models import Agreement, Grant, Report, ReportKind, Tranche
from grants.services import application_award
from grants.services.agreements import (
    agreement_accept,
    agreement_activate,
    agreement_terminate,
    amendment_create,
)
from grants.services.envelope import split_yearly
from grants.services.payments import tranche_cancel, tranche_pay, tranche_request, tranche_validate
from grants.services.reopening import application_reopen
from tests.factories import CallFactory, in_review_application, programme_admin

pytestmark = pytest.mark.django_db

IBAN = "FR7630006000011234567890189"
BONUS = Decimal("100000")


@dataclass
class Case:
    call: Call
    application: Application
    reviewer: User
    admin: User

    @property
    def grant(self) -> Grant | None:
        return Grant.objects.filter(application=self.application, status=Grant.Status.ACTIVE).first()


def dossier(call: Call, *, fnt: bool) -> tuple[Application, User]:
    application, reviewer = in_review_application(call=call)
    if fnt:
        Application.objects.filter(pk=application.pk).update(kind=Application.Kind.FNT)
        application.refresh_from_db()
    return application, reviewer


def award_and_activate(case: Case, amount: Decimal) -> Grant:
    grant = application_award(application=case.application, amount=amount, actor=case.reviewer)
    agreement = Agreement.objects.get(grant=grant)
    agreement_accept(agreement=agreement, actor=case.application.created_by)
    agreement_activate(agreement=agreement, commitment_number="2100123456", actor=case.admin)
    return grant


def pay(case: Case, tranche: Tranche) -> None:
    """Through the services: request (the previous year's reports accepted), validate, pay."""
    if tranche.year_index >= 2:
        for kind in ReportKind:
            Report.objects.get_or_create(
                grant=tranche.grant,
                year_index=tranche.year_index - 1,
                kind=kind.value,
                defaults={
                    "file": "rapports/test.pdf",
                    "original_name": "rapport.pdf",
                    "sha256": "0" * 64,
                    "uploaded_by": case.application.created_by,
                    "status": Report.Status.ACCEPTED,
                },
            )
    tranche = tranche_request(tranche=tranche, iban=IBAN, actor=case.application.created_by)
    tranche = tranche_validate(tranche=tranche, actor=case.reviewer)
    tranche_pay(tranche=tranche, paid_on=timezone.localdate(), payment_reference="VIR-1", actor=case.admin)


def tranches(grant: Grant) -> list[tuple[Decimal, str]]:
    return list(Tranche.objects.filter(grant=grant).order_by("year_index").values_list("amount", "status"))


def assert_committed_is_scheduled(call: Call) -> None:
    call.refresh_from_db()
    held = Decimal("0")
    for grant in Grant.objects.filter(call=call):
        rows = list(Tranche.objects.filter(grant=grant))
        live = sum((t.amount for t in rows if t.status != Tranche.Status.CANCELLED), Decimal("0"))
        if grant.status == Grant.Status.ACTIVE:
            assert sum((t.amount for t in rows), Decimal("0")) == grant.amount + grant.bonus, tranches(grant)
            held += live
        else:
            assert all(t.status == Tranche.Status.CANCELLED for t in rows), tranches(grant)
    assert call.committed_amount == held
    assert call.laureate_count == Grant.objects.filter(call=call, status=Grant.Status.ACTIVE).count()


# --- the FNT bonus through an amendment -----------------------------------------------------------


def fnt_case() -> Case:
    call = CallFactory()
    application, reviewer = dossier(call, fnt=True)
    return Case(call, application, reviewer, programme_admin())


def test_amending_an_fnt_grant_to_the_same_amount_keeps_the_bonus_in_the_first_tranche():
    case = fnt_case()
    grant = award_and_activate(case, Decimal("150000"))
    assert tranches(grant)[0] == (Decimal("150000"), Tranche.Status.SCHEDULED)

    amendment_create(
        grant=grant,
        new_amount=Decimal("150000"),
        yearly=[Decimal("50000")] * 3,
        reason="Nouvel échéancier.",
        actor=case.admin,
    )

    assert [amount for amount, _status in tranches(grant)] == [
        Decimal("150000"),
        Decimal("50000"),
        Decimal("50000"),
    ]
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("250000")
    assert_committed_is_scheduled(case.call)


def test_an_fnt_grant_whose_first_tranche_is_paid_can_still_be_amended():
    case = fnt_case()
    grant = award_and_activate(case, Decimal("150000"))
    pay(case, Tranche.objects.get(grant=grant, year_index=1))

    amendment_create(
        grant=grant,
        new_amount=Decimal("120000"),
        yearly=[Decimal("50000"), Decimal("35000"), Decimal("35000")],
        reason="Le second lieu n'ouvrira pas.",
        actor=case.admin,
    )

    assert tranches(grant) == [
        (Decimal("150000"), Tranche.Status.PAID),
        (Decimal("35000"), Tranche.Status.SCHEDULED),
        (Decimal("35000"), Tranche.Status.SCHEDULED),
    ]
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("220000")
    assert_committed_is_scheduled(case.call)


def test_a_paid_first_tranche_of_an_fnt_grant_is_refused_a_new_part_with_the_part_to_keep():
    case = fnt_case()
    grant = award_and_activate(case, Decimal("150000"))
    pay(case, Tranche.objects.get(grant=grant, year_index=1))
    with pytest.raises(ValidationError) as error:
        amendment_create(
            grant=grant,
            new_amount=Decimal("120000"),
            yearly=[Decimal("40000"), Decimal("40000"), Decimal("40000")],
            reason="Motif.",
            actor=case.admin,
        )
    assert error.value.message_dict["yearly_1"] == [
        "La tranche de l'année 1 est « Versée » : son montant (50\u00a0000\u00a0€, hors bonus « fabrique "
        "numérique » de 100\u00a0000\u00a0€) ne peut plus changer."
    ]
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("250000")
    assert_committed_is_scheduled(case.call)


def test_reopening_after_a_tranche_was_cancelled_does_not_release_it_twice():
    case = fnt_case()
    grant = award_and_activate(case, Decimal("150000"))
    tranche_cancel(
        tranche=Tranche.objects.get(grant=grant, year_index=3), reason="Année non réalisée.", actor=case.admin
    )
    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("200000")

    application_reopen(application=case.application, reason="Erreur de dossier.", actor=case.admin)

    assert Call.objects.get(pk=case.call.pk).committed_amount == Decimal("0")
    assert_committed_is_scheduled(case.call)


def test_a_cancelled_tranche_keeps_its_amount_through_an_amendment():
    case = fnt_case()
    grant = award_and_activate(case, Decimal("150000"))
    tranche_cancel(
        tranche=Tranche.objects.get(grant=grant, year_index=3), reason="Année non réalisée.", actor=case.admin
    )
    with pytest.raises(ValidationError) as error:
        amendment_create(
            grant=grant,
            new_amount=Decimal("140000"),
            yearly=[Decimal("50000"), Decimal("50000"), Decimal("40000")],
            reason="Motif.",
            actor=case.admin,
        )
    assert list(error.value.message_dict) == ["yearly_3"]
    assert "« Annulée »" in error.value.message_dict["yearly_3"][0]
    assert_committed_is_scheduled(case.call)


# --- the property ----------------------------------------------------------------------------------

amounts = st.integers(min_value=15, max_value=30).map(lambda n: Decimal(n * 5000))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("amend"), st.integers(0, 1), amounts, st.booleans()),
        st.tuples(st.just("pay"), st.integers(0, 1)),
        st.tuples(st.just("cancel"), st.integers(0, 1), st.integers(1, 3)),
        st.tuples(st.just("terminate"), st.integers(0, 1)),
        st.tuples(st.just("reopen"), st.integers(0, 1)),
        st.tuples(st.just("award"), st.integers(0, 1), amounts),
    ),
    max_size=8,
)


def amendment_parts(grant: Grant, amount: Decimal, keep_frozen: bool) -> list[Decimal]:
    """Equal parts, or the parts of the frozen tranches kept and the rest split equally."""
    if not keep_frozen:
        return split_yearly(amount, 3, [])
    parts: dict[int, Decimal] = {}
    for tranche in Tranche.objects.filter(grant=grant).order_by("year_index"):
        if tranche.status != Tranche.Status.SCHEDULED:
            parts[tranche.year_index] = tranche.amount - (grant.bonus if tranche.year_index == 1 else 0)
    free = [year for year in (1, 2, 3) if year not in parts]
    if free:
        rest = split_yearly(amount - sum(parts.values(), Decimal("0")), len(free), [])
        parts |= dict(zip(free, rest, strict=True))
    return [parts[year] for year in (1, 2, 3)]


def run(case: Case, step: tuple[object, ...]) -> None:
    action = step[0]
    grant = case.grant
    if action == "award":
        award_and_activate(case, step[2])  # type: ignore[arg-type]
        return
    if grant is None:
        return
    if action == "amend":
        amount, keep = step[2], step[3]
        amendment_create(
            grant=grant,
            new_amount=amount,  # type: ignore[arg-type]
            yearly=amendment_parts(grant, amount, keep),  # type: ignore[arg-type]
            reason="Avenant.",
            actor=case.admin,
        )
    elif action == "pay":
        tranche = (
            Tranche.objects.filter(grant=grant, status=Tranche.Status.SCHEDULED)
            .order_by("year_index")
            .first()
        )
        if tranche is not None:
            pay(case, tranche)
    elif action == "cancel":
        tranche_cancel(
            tranche=Tranche.objects.get(grant=grant, year_index=step[2]), reason="Annulée.", actor=case.admin
        )
    elif action == "terminate":
        agreement_terminate(
            agreement=Agreement.objects.get(grant=grant),
            reason="Résiliée.",
            clawback_amount=Decimal("0"),
            actor=case.admin,
        )
    elif action == "reopen":
        application_reopen(application=case.application, reason="Rouvert.", actor=case.admin)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fnt=st.tuples(st.booleans(), st.booleans()), first=st.tuples(amounts, amounts), sequence=steps)
def test_whatever_happens_the_tranches_add_up_to_what_is_committed(fnt, first, sequence):
    with transaction.atomic():
        call = CallFactory()
        admin = programme_admin()
        cases = []
        for index in (0, 1):
            application, reviewer = dossier(call, fnt=fnt[index])
            cases.append(Case(call, application, reviewer, admin))
            award_and_activate(cases[index], first[index])
        assert_committed_is_scheduled(call)
        for step in sequence:
            try:
                with transaction.atomic():
                    run(cases[step[1]], step)  # type: ignore[index]
            except (ValidationError, PermissionDenied):
                pass  # refused: the savepoint rolled back, and the invariant must still hold
            assert_committed_is_scheduled(call)
        transaction.set_rollback(True)
