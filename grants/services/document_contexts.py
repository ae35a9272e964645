"""The contexts of the grants' legal documents, as their templates read them.

Each is frozen as JSON in its document row (notifications.Document.context) and printed by one
template of templates/pdf/. Typed (TypedDict), so that mypy refuses a context that lacks a key its
template prints, or carries one it does not: the IBAN, for one, is only in the payment request's.
Every amount is already formatted the French way (a string); years and counts are integers.
"""

from typing import TypedDict

from applications.models.calls import Letterhead


class ScheduleRow(TypedDict):
    """A year of the schedule: the tranche's year (1, 2, 3...) and its amount."""

    year: int
    amount: str


class AmendedScheduleRow(TypedDict):
    year: int
    previous: str
    amount: str


class Partner(TypedDict):
    name: str
    siret: str
    role: str
    share: str


class DecisionLetterContext(Letterhead):
    """What every decision letter prints (templates/pdf/decision_*.html)."""

    reference: str
    title: str
    call: str
    date: str
    lead_name: str
    lead_siret: str
    lead_address: str


class AwardLetterContext(DecisionLetterContext):
    """templates/pdf/decision_award.html"""

    amount: str
    bonus: str
    duration: int
    tranches: list[ScheduleRow]


class RefusalLetterContext(DecisionLetterContext):
    """templates/pdf/decision_refusal.html"""

    reasons: list[str]


class ClosingLetterContext(DecisionLetterContext):
    """templates/pdf/decision_closed.html"""

    reasons: list[str]
    # The due date of the corrections left unanswered, when the closing follows them ("" otherwise).
    corrections_due_on: str


class Parties(Letterhead):
    """Who signs an agreement: the grantor (from the call) and the lead structure, with its partners."""

    beneficiary_name: str
    beneficiary_siret: str
    beneficiary_address: str
    beneficiary_category: str
    representative_name: str
    representative_title: str
    partners: list[Partner]


class AgreementContext(Parties):
    """templates/pdf/agreement.html"""

    number: str
    date: str
    call: str
    reference: str
    title: str
    summary: str
    kind: str
    duration: int
    amount: str
    bonus: str
    total: str
    max_per_year: str
    tranches: list[ScheduleRow]
    payment_delay_days: int


class AgreementRecall(Letterhead):
    """What the termination and the amendments repeat of their agreement."""

    number: str
    agreement_date: str
    call: str
    reference: str
    title: str
    beneficiary_name: str
    beneficiary_siret: str
    beneficiary_address: str
    commitment_number: str


class TerminationContext(AgreementRecall):
    """templates/pdf/agreement_termination.html"""

    date: str
    reason: list[str]
    paid: str
    released: str
    clawback: str
    cancelled: list[ScheduleRow]


class AmendmentContext(AgreementRecall):
    """templates/pdf/amendment.html"""

    amendment_number: int
    date: str
    reason: list[str]
    previous_amount: str
    new_amount: str
    bonus: str
    duration: int
    tranches: list[AmendedScheduleRow]
    representative_name: str
    representative_title: str


class PaymentRequestContext(Letterhead):
    """templates/pdf/payment_request.html: the one document that prints the IBAN."""

    reference: str
    title: str
    call: str
    date: str
    beneficiary_name: str
    beneficiary_siret: str
    beneficiary_address: str
    iban: str
    year: int
    years: int
    amount: str
    grant_amount: str
    paid_before: str
    agreement_number: str
    commitment_number: str
    pay_by: str
    requested_by: str
    requested_by_email: str
