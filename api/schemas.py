"""The read API's schemas: what each endpoint answers, typed, and so described in its OpenAPI.

Amounts are strings of euros with two decimals ("150000.00"), never numbers: a JSON number is a
float to most clients, and a float cannot hold every amount in cents. Dates are ISO 8601.
"""

from datetime import date, datetime

from ninja import Schema
from pydantic import Field

AMOUNT = Field(pattern=r"^-?\d+\.\d{2}$", examples=["150000.00"])


class Error(Schema):
    detail: str
    errors: list[dict[str, object]] | None = None


class CallOut(Schema):
    slug: str
    title: str
    status: str
    opens_at: datetime
    closes_at: datetime
    envelope: str = AMOUNT
    committed: str = AMOUNT
    paid: str = AMOUNT
    remaining: str = AMOUNT
    laureates: int
    target: int


class LeadOut(Schema):
    name: str | None
    siret: str | None


class DossierOut(Schema):
    reference: str
    call: str
    wave: int | None
    status: str
    status_label: str
    kind: str
    title: str
    departement: str | None
    lead: LeadOut
    created_at: datetime
    submitted_at: datetime | None
    updated_at: datetime


class GrantOut(Schema):
    id: int
    dossier: str
    call: str
    amount: str = AMOUNT
    bonus: str = AMOUNT
    committed: str = AMOUNT
    status: str
    awarded_at: datetime
    agreement: str | None


class TrancheOut(Schema):
    id: int
    grant: int
    dossier: str
    call: str
    year: int
    amount: str = AMOUNT
    status: str
    due_date: date | None
    requested_at: datetime | None
    validated_at: datetime | None
    paid_on: date | None


class PaymentOut(Schema):
    tranche: int
    dossier: str
    call: str
    agreement: str | None
    beneficiary_siret: str | None
    paid_on: date
    amount: str = AMOUNT
    reference: str


class LaureateOut(Schema):
    id: int
    call: str
    name: str
    departement: str | None
    kind: str
    amount: str = AMOUNT


class CallPage(Schema):
    items: list[CallOut]
    next_cursor: str | None


class DossierPage(Schema):
    items: list[DossierOut]
    next_cursor: str | None


class GrantPage(Schema):
    items: list[GrantOut]
    next_cursor: str | None


class TranchePage(Schema):
    items: list[TrancheOut]
    next_cursor: str | None


class PaymentPage(Schema):
    items: list[PaymentOut]
    next_cursor: str | None


class LaureatePage(Schema):
    items: list[LaureateOut]
    next_cursor: str | None
