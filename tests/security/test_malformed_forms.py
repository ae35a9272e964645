"""Malformed data never gives a 500.

Each POST endpoint of the portal is called by a user of the right role, on a real object, with:
letters where numbers are expected, 100 000-character strings, nothing at all, unknown ids
(999999), lists where one value is expected, NUL characters, and values that only look like
numbers or dates ("Infinity", "1e30", "2026-13-45"). Every answer must be below 500: a page with
a French error, a redirect (with its message), or a 4xx (404 for an unknown object). Unknown ids
in the address itself are tried too, and the workspace's filters on the GET side.

Each payload is posted inside a transaction rolled back afterwards, so that every payload meets
the objects in the state the endpoint needs (its form is on the page only then).

The 500s still found are listed in KNOWN_500 (and KNOWN_500_POSTGRES, for what only PostgreSQL
refuses), each with the payloads that cause it and the fix: those endpoints are reported as xfail,
any other 500 fails, and so does a known one that no longer happens (then remove it from the list).
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from applications.models import Application, Criterion, EligibilityCheck, Member, Opinion
from applications.services.labels import label_create
from applications.services.review import opinion_request
from fabriques.models import TiersLieu
from fabriques.services import ORGANISATION_FIELDS
from grants.models import Agreement, Grant, Tranche
from grants.services import application_award
from tests.factories import (
    PDF_BYTES,
    UserFactory,
    complete_application,
    in_review_application,
    occitanie_instructor,
    programme_admin,
)

pytestmark = pytest.mark.django_db

HUGE = "x" * 100_000
UNKNOWN = "999999"
LONG_EMAIL = "a" * 64 + "@" + ".".join(["b" * 63, "c" * 63, "d" * 63]) + ".fr"  # 259 characters, valid
NUMBER_LOOKALIKES = ["Infinity", "-inf", "NaN", "sNaN", "1e30", "1E+999999", "12,5,5", "٣٣", "-1", "0x10"]
DATE_LOOKALIKES = ["2026-13-45", "99999-01-01", "0000-00-00", "31/02/2026", "demain"]
ERROR_MARKERS = ("fr-error-text", "fr-alert--error", "portal-error-summary")
# The recap asked before an irreversible action (accounts.confirmation): a post that happens to be
# valid gets it, writes nothing, and is answered, not silently dropped.
RECAP_MARKER = "data-recap"
STRIP_NUL = "config.middleware.StripNullCharactersFromQueryMiddleware"


# --- the objects ----------------------------------------------------------------------------------


@dataclass
class Draft:
    """A draft dossier its applicant may edit, with its lead member and required documents."""

    application: Application
    applicant: User
    lead_member: Member
    document_ids: list[int]
    place_id: int


@dataclass
class Review:
    """A dossier in review, its Occitanie instructor, an admin and an outside opinion's token."""

    application: Application
    reviewer: User
    admin: User
    criterion_ids: list[int]
    check_ids: list[int]
    opinion_token: str
    opinion_id: int
    expert: User


@dataclass
class Awarded:
    """An awarded dossier, its active agreement, the beneficiary, the instructor and an admin."""

    application: Application
    grant: Grant
    agreement: Agreement
    beneficiary: User
    reviewer: User
    admin: User


@pytest.fixture
def draft() -> Draft:
    application = complete_application()
    census = TiersLieu.objects.create(
        name="La Quincaillerie", departement_id="32", source=TiersLieu.Source.CGET_2019
    )
    return Draft(
        application=application,
        applicant=application.created_by,
        lead_member=application.members.get(is_lead=True),
        document_ids=list(application.call.required_documents.values_list("pk", flat=True)),
        place_id=census.pk,
    )


@pytest.fixture
def review() -> Review:
    application, reviewer = in_review_application()
    occitanie_instructor()  # someone the admin may still assign: the assign form is shown
    opinion = opinion_request(
        application=application,
        email="prefecture@exemple.gouv.fr",
        organisation_name="Préfecture du Gers",
        question="Quel est votre avis sur ce projet ?",
        actor=reviewer,
    )
    return Review(
        application=application,
        reviewer=reviewer,
        admin=programme_admin(),
        criterion_ids=list(Criterion.objects.filter(call=application.call).values_list("pk", flat=True)),
        check_ids=list(EligibilityCheck.objects.filter(call=application.call).values_list("pk", flat=True)),
        opinion_token=opinion.token,
        opinion_id=opinion.pk,
        expert=opinion.expert,
    )


@pytest.fixture
def awarded() -> Awarded:
    application, reviewer = in_review_application()
    grant = application_award(application=application, amount=Decimal("150000"), actor=reviewer)
    Agreement.objects.filter(grant=grant).update(
        status=Agreement.Status.ACTIVE, signed_at=timezone.now(), commitment_number="2103987654"
    )
    return Awarded(
        application=application,
        grant=grant,
        agreement=Agreement.objects.get(grant=grant),
        beneficiary=application.created_by,
        reviewer=reviewer,
        admin=programme_admin(),
    )


def agreement_in(status: str) -> Callable[[Awarded], None]:
    """Put the agreement where the action is offered (its form is on the page only then)."""

    def prepare(awarded: Awarded) -> None:
        Agreement.objects.filter(pk=awarded.agreement.pk).update(
            status=status, signed_at=None if status == Agreement.Status.AWAITING_SIGNATURE else timezone.now()
        )

    return prepare


def first_tranche_in(status: str) -> Callable[[Awarded], None]:
    def prepare(awarded: Awarded) -> None:
        fields: dict[str, Any] = {"status": status, "requested_at": timezone.now()}
        if status == Tranche.Status.VALIDATED:
            fields["validated_at"] = timezone.now()
        Tranche.objects.filter(grant=awarded.grant, year_index=1).update(**fields)

    return prepare


# --- the endpoints --------------------------------------------------------------------------------


Payload = tuple[str, dict[str, Any]]  # a label (named in KNOWN_500) and the data posted


@dataclass
class Endpoint:
    """Where to post, as whom, which fields the form reads, and payloads of its own."""

    url: str
    user: User | None
    fields: list[str]
    extra: list[Payload | dict[str, Any]]


Builder = Callable[[pytest.FixtureRequest], Endpoint]


def _organisation_fields(prefix: str = "") -> list[str]:
    return [f"{prefix}{name}" for name in ORGANISATION_FIELDS]


def _numbers(*names: str, **others: str) -> list[Payload | dict[str, Any]]:
    """Each look-alike in every named field at once."""
    return [(f"number {value}", {**dict.fromkeys(names, value), **others}) for value in NUMBER_LOOKALIKES]


def _dates(*names: str, **others: str) -> list[Payload | dict[str, Any]]:
    return [(f"date {value}", {**dict.fromkeys(names, value), **others}) for value in DATE_LOOKALIKES]


def sign_up(request: pytest.FixtureRequest) -> Endpoint:
    fields = ["first_name", "last_name", "email", "password1", "password2"]
    return Endpoint(
        reverse("accounts:sign-up"),
        None,
        fields,
        [
            {"first_name": "A", "last_name": "B", "email": LONG_EMAIL, "password1": HUGE, "password2": HUGE},
            {"first_name": "A", "last_name": "B", "email": "x@exemple.fr", "password1": "p" * 5000},
        ],
    )


def login(request: pytest.FixtureRequest) -> Endpoint:
    return Endpoint(
        reverse("accounts:login"),
        None,
        ["username", "password"],
        [
            # A well-formed address longer than the 255 characters django-axes keeps.
            ("long e-mail", {"username": LONG_EMAIL, "password": "mauvais-mot-de-passe"}),
            {"username": "personne@exemple.fr", "password": HUGE},
            {"username": "personne@exemple.fr", "password": "x", "next": "https://ailleurs.example/"},
        ],
    )


def password_reset(request: pytest.FixtureRequest) -> Endpoint:
    return Endpoint(reverse("accounts:password-reset"), None, ["email"], [{"email": LONG_EMAIL}])


def password_reset_confirm(request: pytest.FixtureRequest) -> Endpoint:
    url = reverse("accounts:password-reset-confirm", args=["OTk5OTk5", "un-jeton-faux"])
    return Endpoint(url, None, ["new_password1", "new_password2"], [])


def organisation_create(request: pytest.FixtureRequest) -> Endpoint:
    draft: Draft = request.getfixturevalue("draft")
    return Endpoint(
        reverse("fabriques:organisation-create"),
        draft.applicant,
        [*_organisation_fields(), "job_title", "is_legal_representative"],
        [
            *_numbers("siret", "year_created", "headcount"),
            {"siret": "732 829 320 00074", "legal_category": "9220", "departement": "32", "name": "A"},
            {"siret": "١٢٣٤٥٦٧٨٩٠١٢٣٤", "website": "javascript:alert(1)", "departement": "ZZ"},
        ],
    )


def organisation_update(request: pytest.FixtureRequest) -> Endpoint:
    draft: Draft = request.getfixturevalue("draft")
    organisation = draft.lead_member.organisation
    return Endpoint(
        reverse("fabriques:organisation-detail", args=[organisation.pk]),
        draft.applicant,
        _organisation_fields(),
        _numbers("year_created", "headcount"),
    )


def dossier_create(request: pytest.FixtureRequest) -> Endpoint:
    draft: Draft = request.getfixturevalue("draft")
    return Endpoint(
        reverse("applications:dossier-create"),
        draft.applicant,
        ["call", "lead_organisation", "title", "kind", "previous_application"],
        [
            {
                "call": str(draft.application.call_id),
                "lead_organisation": str(draft.lead_member.organisation_id),
                "title": "Projet",
                "kind": "ft",
                "previous_application": "abc",
            }
        ],
    )


def _dossier(name: str, fields: list[str], extra: list[Payload | dict[str, Any]] | None = None) -> Builder:
    def build(request: pytest.FixtureRequest) -> Endpoint:
        draft: Draft = request.getfixturevalue("draft")
        url = reverse(f"applications:{name}", args=[draft.application.reference])
        return Endpoint(url, draft.applicant, fields, extra or [])

    build.__name__ = name
    return build


PROJECT_FIELDS = [
    "title",
    "kind",
    "summary",
    "services",
    "community_governance",
    "partnerships",
    "resource_role",
    "digital_offer",
    "territorial_need",
    "economic_model",
    "jobs_fte",
]
PLACE_FIELDS = [
    "lieu-name",
    "lieu-address",
    "lieu-postal_code",
    "lieu-commune_code",
    "lieu-commune_name",
    "lieu-departement",
    "lieu-zone",
    "lieu-qpv_code",
    "lieu-activities",
    "lieu-year_opened",
    "lieu-website",
]
BUDGET_INPUTS = [
    f"{field}_{year}" for year in (1, 2, 3) for field in ("requested", "other_funding", "total_cost")
]


def dossier_places(request: pytest.FixtureRequest) -> Endpoint:
    draft: Draft = request.getfixturevalue("draft")
    url = reverse("applications:dossier-places", args=[draft.application.reference])
    return Endpoint(
        url,
        draft.applicant,
        ["places", "action", "place", "territoire-departement", *PLACE_FIELDS],
        [
            ("territory abc", {"action": "territory", "territoire-departement": "abc"}),
            ("territory list", {"action": "territory", "territoire-departement": ["32", "75"]}),
            ("census place abc", {"action": "census", "place": "abc"}),
            {"action": "census", "place": UNKNOWN},
            ("census place list", {"action": "census", "place": ["1", "abc"]}),
            {"action": "census", "place": str(draft.place_id), "lieu-name": HUGE},
            {"action": "census"},
            {"action": "create", **dict.fromkeys(PLACE_FIELDS, "abc")},
            {"action": "create", "lieu-name": "Lieu", "lieu-departement": "32", "lieu-year_opened": "1e30"},
            {"places": ["abc", UNKNOWN]},
        ],
    )


def dossier_budget(request: pytest.FixtureRequest) -> Endpoint:
    return _dossier("dossier-budget", BUDGET_INPUTS, _numbers(*BUDGET_INPUTS))(request)


def dossier_access(request: pytest.FixtureRequest) -> Endpoint:
    return _dossier(
        "dossier-access",
        ["email", "permission", "revoke"],
        [
            ("revoke abc", {"revoke": "abc"}),
            {"revoke": UNKNOWN},
            ("revoke list", {"revoke": ["1", "abc"]}),
            {"email": LONG_EMAIL, "permission": "admin"},
        ],
    )(request)


def member_add(request: pytest.FixtureRequest) -> Endpoint:
    return _dossier(
        "member-add",
        ["siret", "role", "share_percent", *_organisation_fields()],
        [
            *_numbers("share_percent", "siret", "year_created", "headcount"),
            # A structure already known by its SIRET: only the share is malformed.
            {"siret": "ignored", "role": "Partenaire", "share_percent": "1e30"},
        ],
    )(request)


def member_update(request: pytest.FixtureRequest) -> Endpoint:
    draft: Draft = request.getfixturevalue("draft")
    member = draft.lead_member
    prefix = f"membre-{member.pk}-"
    url = reverse("applications:member-update", args=[draft.application.reference, member.pk])
    return Endpoint(
        url,
        draft.applicant,
        [f"{prefix}role", f"{prefix}share_percent"],
        _numbers(f"{prefix}share_percent"),
    )


def document_upload(request: pytest.FixtureRequest) -> Endpoint:
    draft: Draft = request.getfixturevalue("draft")
    document = draft.document_ids[0]
    prefix = f"doc-{document}-"
    url = reverse("applications:dossier-documents", args=[draft.application.reference])
    pdf = SimpleUploadedFile("statuts.pdf", PDF_BYTES, content_type="application/pdf")
    return Endpoint(
        url,
        draft.applicant,
        [f"{prefix}required_document", f"{prefix}file"],
        [
            {f"{prefix}required_document": UNKNOWN, f"{prefix}file": pdf},
            {f"{prefix}required_document": "abc", f"{prefix}file": pdf},
            {"doc-999999-required_document": str(document)},
            {"doc-abc-required_document": "abc"},
            {
                f"{prefix}required_document": str(document),
                f"{prefix}file": SimpleUploadedFile("../../etc/passwd.pdf", b"\x00" * 10, "application/pdf"),
            },
        ],
    )


def _review(
    name: str, fields: list[str], extra: list[Payload | dict[str, Any]] | None = None, admin: bool = False
) -> Builder:
    def build(request: pytest.FixtureRequest) -> Endpoint:
        review: Review = request.getfixturevalue("review")
        url = reverse(name, args=[review.application.reference])
        return Endpoint(url, review.admin if admin else review.reviewer, fields, extra or [])

    build.__name__ = name.replace(":", "_")
    return build


def _labels(name: str, fields: list[str], extra: list[Payload | dict[str, Any]] | None = None) -> Builder:
    """A call's labels (its admins' pages) or a dossier's (the instruction): the call has a label."""

    def build(request: pytest.FixtureRequest) -> Endpoint:
        review: Review = request.getfixturevalue("review")
        call = review.application.call
        label = label_create(call=call, name="Rural", colour="green-menthe", actor=review.admin)
        if name == "applications:review-labels":
            return Endpoint(reverse(name, args=[review.application.reference]), review.reviewer, fields, [])
        args = [call.slug] if name == "applications:label-list" else [call.slug, label.pk]
        return Endpoint(reverse(name, args=args), review.admin, fields, extra or [])

    build.__name__ = name.replace(":", "_")
    return build


def review_scores(request: pytest.FixtureRequest) -> Endpoint:
    review: Review = request.getfixturevalue("review")
    fields = ["action"]
    for pk in review.criterion_ids:
        fields += [f"scores-criterion_{pk}", f"scores-comment_{pk}"]
    values = [f"scores-criterion_{pk}" for pk in review.criterion_ids]
    return Endpoint(
        reverse("applications:review-scores", args=[review.application.reference]),
        review.reviewer,
        fields,
        [
            *_numbers(*values, action="submit"),
            {**dict.fromkeys(values, "99"), "action": "submit"},
            {"scores-criterion_999999": "3", "action": "submit"},
        ],
    )


def review_eligibility(request: pytest.FixtureRequest) -> Endpoint:
    review: Review = request.getfixturevalue("review")
    fields = []
    for pk in review.check_ids:
        fields += [f"eligibility-check_{pk}", f"eligibility-note_{pk}"]
    return Endpoint(
        reverse("applications:review-eligibility", args=[review.application.reference]),
        review.reviewer,
        fields,
        [
            {f"eligibility-check_{pk}": "peut-etre" for pk in review.check_ids},
            {"eligibility-check_999999": "yes"},
        ],
    )


DECIDE_FIELDS = ["decision", "amount", "yearly_1", "yearly_2", "yearly_3", "reasons", "reason"]


def review_decide(request: pytest.FixtureRequest) -> Endpoint:
    review: Review = request.getfixturevalue("review")
    return Endpoint(
        reverse("grants:review-decide", args=[review.application.reference]),
        review.reviewer,
        DECIDE_FIELDS,
        [
            *_numbers("amount", "yearly_1", "yearly_2", "yearly_3", decision="award"),
            (
                "yearly part 1e30",
                {
                    "decision": "award",
                    "amount": "150000",
                    "yearly_1": "1e30",
                    "yearly_2": "0",
                    "yearly_3": "0",
                },
            ),
            {"decision": "award", "amount": "99999999999999999999999"},
            {"decision": "refuse", "reasons": HUGE},
            {"decision": "close", "reason": HUGE},
            {"decision": ["award", "refuse"], "amount": ["1", "abc"]},
        ],
    )


def review_bulk(request: pytest.FixtureRequest) -> Endpoint:
    review: Review = request.getfixturevalue("review")
    return Endpoint(
        reverse("grants:review-bulk"),
        review.admin,
        ["references", "decision", "amount", "reasons"],
        [
            *_numbers("amount", decision="award", references=review.application.reference),
            {"references": "\n".join(["FDT-2026-99999"] * 500), "decision": "refuse", "reasons": "Motif"},
            {"references": ["abc", review.application.reference], "decision": "close"},
        ],
    )


def expert_answer(request: pytest.FixtureRequest) -> Endpoint:
    review: Review = request.getfixturevalue("review")
    return Endpoint(
        reverse("applications:expert-request", args=[review.opinion_id]),
        review.expert,
        ["answer-verdict", "answer-comment", "confirmer"],
        [{"answer-verdict": "favourable", "answer-comment": HUGE, "confirmer": "1"}],
    )


def _grant(
    name: str,
    fields: list[str],
    extra: list[Payload | dict[str, Any]] | None = None,
    who: str = "admin",
    prepare: Callable[[Awarded], None] | None = None,
) -> Builder:
    def build(request: pytest.FixtureRequest) -> Endpoint:
        awarded: Awarded = request.getfixturevalue("awarded")
        if prepare is not None:
            prepare(awarded)
        reference = awarded.application.reference
        args: list[Any] = [reference, 1] if "<year>" in name else [reference]
        url = reverse(name.replace("<year>", ""), args=args)
        return Endpoint(url, getattr(awarded, who), fields, extra or [])

    build.__name__ = name.replace(":", "_").replace("<year>", "")
    return build


def report_upload(request: pytest.FixtureRequest) -> Endpoint:
    awarded: Awarded = request.getfixturevalue("awarded")
    url = reverse("grants:report-upload", args=[awarded.application.reference, 1, "activity"])
    return Endpoint(
        url,
        awarded.beneficiary,
        ["rapport-1-activity-file"],
        [{"rapport-1-activity-file": SimpleUploadedFile("r.pdf", b"MZ\x90\x00" * 10, "application/pdf")}],
    )


def schedule_update(request: pytest.FixtureRequest) -> Endpoint:
    awarded: Awarded = request.getfixturevalue("awarded")
    parts = [f"echeancier-part_{year}" for year in (1, 2, 3)]
    dates = [f"echeancier-due_date_{year}" for year in (1, 2, 3)]
    valid_parts = dict.fromkeys(parts, "50000")
    return Endpoint(
        reverse("grants:tranche-schedule", args=[awarded.application.reference]),
        awarded.admin,
        parts + dates,
        [*_numbers(*parts), *_dates(*dates, **valid_parts)],
    )


def _agreement(
    name: str,
    fields: list[str],
    extra: list[Payload | dict[str, Any]] | None = None,
    who: str = "admin",
    prepare: Callable[[Awarded], None] | None = None,
) -> Builder:
    def build(request: pytest.FixtureRequest) -> Endpoint:
        awarded: Awarded = request.getfixturevalue("awarded")
        if prepare is not None:
            prepare(awarded)
        url = reverse(name, args=[awarded.agreement.number])
        return Endpoint(url, getattr(awarded, who), fields, extra or [])

    build.__name__ = name.replace(":", "_")
    return build


def _exports(name: str) -> Builder:
    def build(request: pytest.FixtureRequest) -> Endpoint:
        review: Review = request.getfixturevalue("review")
        return Endpoint(reverse(name, args=[review.application.call.slug]), review.admin, ["format"], [])

    build.__name__ = name.replace(":", "_")
    return build


ENDPOINTS: list[Builder] = [
    sign_up,
    login,
    password_reset,
    password_reset_confirm,
    organisation_create,
    organisation_update,
    dossier_create,
    _dossier("dossier-project", PROJECT_FIELDS, _numbers("jobs_fte")),
    dossier_places,
    dossier_budget,
    dossier_access,
    _dossier("dossier-withdraw", ["reason"]),
    _dossier("dossier-submit", []),
    _dossier("dossier-messages", ["body"]),
    member_add,
    member_update,
    document_upload,
    _review(
        "applications:review-assign", ["assign-instructor"], [{"assign-instructor": UNKNOWN}], admin=True
    ),
    _review("applications:review-conflict", ["conflict-conflict_note"]),
    _review("applications:review-attest", ["attestation-no_conflict"]),
    review_scores,
    review_eligibility,
    _review(
        "applications:review-opinion-request",
        [
            "opinion-organisation_name",
            "opinion-email",
            "opinion-question",
            "opinion-answer_kind",
            "opinion-due_on",
            "opinion-confidentiality",
            "confirmer",
        ],
    ),
    _review("applications:review-annotate", ["annotation-body"]),
    _review("applications:review-message", ["message-body"]),
    _review(
        "applications:review-corrections",
        ["corrections-points", "corrections-due_on"],
        _dates("corrections-due_on", **{"corrections-points": "Le RIB"}),
    ),
    _review(
        "applications:review-territory",
        ["departement", "reason", "confirm", "edit"],
        [
            {"departement": "31", "reason": "Erreur", "confirm": "1"},
            {"departement": "32", "reason": "Erreur", "confirm": "1"},
        ],
        admin=True,
    ),
    _labels("applications:review-labels", ["labels-labels"]),
    _labels("applications:label-list", ["name", "colour"], [{"name": "rural", "colour": "green-menthe"}]),
    _labels("applications:label-update", ["name", "colour"], [{"name": "Autre", "colour": "red-marianne"}]),
    _labels("applications:label-delete", ["confirmer"], [{"confirmer": "1"}]),
    review_decide,
    review_bulk,
    expert_answer,
    _grant("grants:tranche-request<year>", ["demande-1-iban"], who="beneficiary"),
    report_upload,
    _grant(
        "grants:tranche-validate<year>",
        [],
        who="reviewer",
        prepare=first_tranche_in(Tranche.Status.REQUESTED),
    ),
    _grant(
        "grants:tranche-pay<year>",
        ["versement-1-paid_on", "versement-1-payment_reference"],
        _dates("versement-1-paid_on", **{"versement-1-payment_reference": "VIR-1"}),
        prepare=first_tranche_in(Tranche.Status.VALIDATED),
    ),
    _grant("grants:tranche-cancel<year>", ["annulation-1-reason"]),
    schedule_update,
    _agreement(
        "grants:agreement-accept",
        ["confirm"],
        who="beneficiary",
        prepare=agreement_in(Agreement.Status.AWAITING_SIGNATURE),
    ),
    _agreement(
        "grants:agreement-signed-copy",
        ["file"],
        who="beneficiary",
        prepare=agreement_in(Agreement.Status.AWAITING_SIGNATURE),
    ),
    _agreement(
        "grants:agreement-activate", ["commitment_number"], prepare=agreement_in(Agreement.Status.SIGNED)
    ),
    _agreement("grants:agreement-complete", []),
    _agreement(
        "grants:agreement-terminate",
        ["reason", "clawback_amount"],
        [*_numbers("clawback_amount"), {"reason": "Motif", "clawback_amount": "999999999"}],
    ),
    _agreement(
        "grants:agreement-amend",
        ["amount", "reason", "yearly_1", "yearly_2", "yearly_3"],
        _numbers("amount", "yearly_1", "yearly_2", "yearly_3"),
    ),
    _exports("grants:export-xlsx-start"),
    _exports("grants:export-pdf-start"),
]

# Endpoints that still answer some malformed data with a 500: the payloads that do, and why. Each
# is a bug to fix in the view or form named; the test fails as soon as one of these answers
# properly (remove it here then) and whenever any other payload gives a 500.
KNOWN_500: dict[str, tuple[str, set[str]]] = {}

# PostgreSQL refuses what SQLite stores: strings longer than their column, NUL characters.
KNOWN_500_POSTGRES: dict[str, tuple[str, set[str]]] = {}


def _known_500(name: str) -> tuple[str, set[str]]:
    reason, labels = KNOWN_500.get(name, ("", set()))
    if connection.vendor == "postgresql" and name in KNOWN_500_POSTGRES:
        more_reason, more_labels = KNOWN_500_POSTGRES[name]
        reason, labels = " ".join(filter(None, [reason, more_reason])), labels | more_labels
    return reason, labels


def _label(data: dict[str, Any]) -> str:
    return "specific " + ", ".join(f"{key}={str(value)[:15]!r}" for key, value in list(data.items())[:3])


def _payloads(endpoint: Endpoint) -> list[Payload]:
    fields = endpoint.fields
    payloads: list[Payload] = [
        ("missing fields", {}),
        ("letters", dict.fromkeys(fields, "abc")),
        ("huge strings", dict.fromkeys(fields, HUGE)),
        ("unknown ids", dict.fromkeys(fields, UNKNOWN)),
        ("lists", {name: ["1", "abc", UNKNOWN] for name in fields}),
        ("NUL characters", dict.fromkeys(fields, "a\x00b")),
        ("empty strings", dict.fromkeys(fields, "")),
        ("unknown fields", {"unknown": HUGE, "999999": "abc"}),
    ]
    payloads += [item if isinstance(item, tuple) else (_label(item), item) for item in endpoint.extra]
    # A browser always posts the CSRF token (the test client does not check it): with it, even
    # "missing fields" is a bound form, which must say what is missing.
    return [(label, {"csrfmiddlewaretoken": "jeton", **data}) for label, data in payloads]


def _describe(response: Any) -> str:
    return f"{response.status_code} {response.headers.get('Location', '')}".strip()


@dataclass
class Outcome:
    errors: dict[str, str]  # label -> what went wrong (a 500, or a traceback)
    silent: list[str]  # labels answered 200 with no error shown


def _check(client: Client, endpoint: Endpoint) -> Outcome:
    outcome = Outcome(errors={}, silent=[])
    for label, data in [*_payloads(endpoint), ("empty body", {})]:
        for upload in data.values():
            if isinstance(upload, SimpleUploadedFile):
                upload.seek(0)
        # Each payload meets the objects as they were: one that happens to be valid (a reason
        # "abc" cancels a tranche) must not change what the next one finds.
        with transaction.atomic():
            response = client.post(endpoint.url, data)
            transaction.set_rollback(True)
        content = response.content.decode(errors="replace")
        if response.status_code >= 500 or "Traceback" in content:
            outcome.errors[label] = _describe(response)
        elif (
            response.status_code == 200
            and data
            and not any(marker in content for marker in ERROR_MARKERS)
            and RECAP_MARKER not in content
        ):
            # (An empty body shows the form again, unbound, as a GET would: that is fine.)
            outcome.silent.append(label)
    return outcome


@pytest.mark.parametrize("build", ENDPOINTS, ids=[build.__name__ for build in ENDPOINTS])
def test_malformed_posts_never_give_a_500(
    client: Client, request: pytest.FixtureRequest, build: Builder
) -> None:
    client.raise_request_exception = False
    endpoint = build(request)
    if endpoint.user is not None:
        client.force_login(endpoint.user)
    outcome = _check(client, endpoint)
    assert not outcome.silent, f"{endpoint.url}: 200 without an error shown for {outcome.silent}"
    reason, known = _known_500(build.__name__)
    unexpected = {label: what for label, what in outcome.errors.items() if label not in known}
    assert not unexpected, f"{endpoint.url}: {unexpected}"
    fixed = known - set(outcome.errors)
    assert not fixed, f"{endpoint.url}: fixed, remove from KNOWN_500: {sorted(fixed)}"
    if known:
        pytest.xfail(f"known 500 on {sorted(known)}: {reason}")


# --- unknown objects in the address ---------------------------------------------------------------


def _unknown_urls(draft: Draft, awarded: Awarded) -> list[tuple[User, str]]:
    reference = draft.application.reference
    granted = awarded.application.reference
    number = awarded.agreement.number
    return [
        (draft.applicant, reverse("applications:dossier-project", args=["FDT-9999-99999"])),
        (draft.applicant, reverse("applications:member-update", args=[reference, 999999])),
        (draft.applicant, reverse("applications:member-remove", args=[reference, 999999])),
        (draft.applicant, reverse("applications:attachment-remove", args=[reference, 999999])),
        (draft.applicant, reverse("fabriques:organisation-detail", args=[999999])),
        (awarded.beneficiary, reverse("grants:tranche-request", args=[granted, 999999])),
        (awarded.beneficiary, reverse("grants:report-upload", args=[granted, 1, "inconnu"])),
        (awarded.beneficiary, reverse("grants:agreement-accept", args=["CONV-9999-99999"])),
        (awarded.reviewer, reverse("applications:review-scores", args=["FDT-9999-99999"])),
        (awarded.reviewer, reverse("grants:tranche-validate", args=[granted, 999999])),
        (awarded.admin, reverse("grants:tranche-pay", args=[granted, 999999])),
        (awarded.admin, reverse("grants:tranche-cancel", args=[granted, 999999])),
        (awarded.admin, reverse("grants:report-review", args=[granted, 999999])),
        (awarded.admin, reverse("grants:agreement-terminate", args=["CONV-9999-99999"])),
        (awarded.admin, reverse("grants:agreement-amend", args=[number.replace("-", "-9", 1)])),
        (awarded.admin, reverse("grants:export-xlsx-start", args=["appel-inconnu"])),
        (awarded.admin, reverse("grants:export-pdf-start", args=["appel-inconnu"])),
        (awarded.admin, reverse("grants:review-decide", args=["FDT-9999-99999"])),
        (awarded.admin, reverse("applications:label-list", args=["appel-inconnu"])),
        (awarded.admin, reverse("applications:label-update", args=[awarded.application.call.slug, 999999])),
        (awarded.admin, reverse("applications:label-delete", args=[awarded.application.call.slug, 999999])),
        (awarded.reviewer, reverse("applications:review-labels", args=["FDT-9999-99999"])),
    ]


def test_unknown_objects_in_the_address_are_404s(client: Client, draft: Draft, awarded: Awarded) -> None:
    client.raise_request_exception = False
    for user, url in _unknown_urls(draft, awarded):
        client.force_login(user)
        response = client.post(url, {"x": "abc"})
        assert response.status_code == 404, (url, _describe(response))


def test_a_report_for_a_year_the_grant_does_not_have_is_refused(client: Client, awarded: Awarded) -> None:
    client.raise_request_exception = False
    client.force_login(awarded.beneficiary)
    url = reverse("grants:report-upload", args=[awarded.application.reference, 999999, "activity"])
    pdf = SimpleUploadedFile("rapport.pdf", PDF_BYTES, content_type="application/pdf")
    response = client.post(url, {"rapport-999999-activity-file": pdf}, follow=True)
    assert response.status_code < 500
    assert any(marker in response.content.decode() for marker in ERROR_MARKERS)


WORKSPACE_PARAMETERS = [
    "q",
    "departement",
    "zone",
    "kind",
    "call",
    "wave",
    "status",
    "score_min",
    "score_max",
    "sort",
    "per_page",
    "page",
    "tab",
    "labels",
]
QUERY_VALUES = ["abc", HUGE[:5000], UNKNOWN, "a\x00b", "-1", "1e30", "Infinity", "NaN", "0", "' OR 1=1 --"]


def test_malformed_filter_parameters_never_give_a_500(client: Client, review: Review) -> None:
    # The GET side of the same rule: the instructors' workspace and its filters.
    client.raise_request_exception = False
    client.force_login(review.reviewer)
    label_create(call=review.application.call, name="Rural", colour="green-menthe", actor=review.admin)
    workspace = reverse("applications:instructor-home")
    for value in QUERY_VALUES:
        response = client.get(workspace, dict.fromkeys(WORKSPACE_PARAMETERS, value))
        assert response.status_code == 200, (value[:20], response.status_code)
        lists = {name: [value, "abc", UNKNOWN] for name in WORKSPACE_PARAMETERS}
        assert client.get(workspace, lists).status_code == 200, value[:20]


def test_the_census_search_never_gives_a_500(client: Client, draft: Draft) -> None:
    client.raise_request_exception = False
    client.force_login(draft.applicant)
    places = reverse("applications:dossier-places", args=[draft.application.reference])
    failing = {value for value in QUERY_VALUES if client.get(places, {"q": value}).status_code != 200}
    assert not failing, [value[:20] for value in failing]


@override_settings(MIDDLEWARE=[name for name in settings.MIDDLEWARE if name != STRIP_NUL])
def test_a_census_search_that_cannot_be_searched_says_why(client: Client, draft: Draft) -> None:
    # A NUL character (which PostgreSQL cannot compare) or an over-long search: no search, a message.
    # The view's own check, without the middleware that strips NUL from every query string.
    client.force_login(draft.applicant)
    places = reverse("applications:dossier-places", args=[draft.application.reference])
    for value, message in [
        ("Quincail\x00lerie", "La recherche contient un caractère non autorisé."),
        ("x" * 201, "La recherche est trop longue : 200 caractères au plus."),
    ]:
        response = client.get(places, {"q": value})
        assert response.status_code == 200
        assert message in response.content.decode()
    found = client.get(places, {"q": "  quincaillerie "})
    assert "La Quincaillerie" in found.content.decode()


@pytest.mark.parametrize("action", ["pay", "accept"])
def test_an_action_posted_in_the_wrong_state_says_why(client: Client, awarded: Awarded, action: str) -> None:
    client.raise_request_exception = False
    if action == "pay":  # the first tranche is only scheduled
        client.force_login(awarded.admin)
        url = reverse("grants:tranche-pay", args=[awarded.application.reference, 1])
    else:  # the agreement is already active
        client.force_login(awarded.beneficiary)
        url = reverse("grants:agreement-accept", args=[awarded.agreement.number])
    response = client.post(url, {"csrfmiddlewaretoken": "jeton"}, follow=True)
    assert response.status_code == 200
    content = response.content.decode()
    assert any(marker in content for marker in ERROR_MARKERS)
    expected = {
        # The page no longer offers the form: the reason is the state, not the empty fields.
        "pay": "Cette action n&#x27;est pas possible : la tranche de l&#x27;année 1 est « Programmée ».",
        "accept": f"La convention {awarded.agreement.number} est « En cours » : "
        "elle ne peut plus être acceptée.",
    }[action]
    assert expected in content


def _with_strip_nul() -> list[str]:
    """The project's middleware, with the one that strips NUL from query strings."""
    if STRIP_NUL in settings.MIDDLEWARE:
        return list(settings.MIDDLEWARE)
    common = settings.MIDDLEWARE.index("django.middleware.common.CommonMiddleware")
    return [*settings.MIDDLEWARE[: common + 1], STRIP_NUL, *settings.MIDDLEWARE[common + 1 :]]


@pytest.mark.ignore_template_errors  # Django's own admin templates use optional variables
def test_nul_characters_in_the_admin_lists_filters_never_give_a_500(client: Client) -> None:
    # Every list filter of every admin list (ours, the audit log's, django-axes'), and the search,
    # with a NUL character: on PostgreSQL the raw value in a query is a ValueError, a 500.
    client.raise_request_exception = False
    superuser: User = UserFactory(is_staff=True, is_superuser=True)  # type: ignore[assignment]
    client.force_login(superuser)
    failing = []
    with override_settings(MIDDLEWARE=_with_strip_nul()):
        for model, model_admin in admin.site._registry.items():
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            names = [item for item in model_admin.list_filter if isinstance(item, str)]
            queries = [{"q": "a\x00b"}, *({name: "a\x00b"} for name in names)]
            queries += [{f"{name}__exact": "a\x00b"} for name in names]
            for query in queries:
                response = client.get(url, query)
                # 200, or the admin's own answer to a value its filter cannot read (302 to ?e=1).
                if response.status_code not in (200, 302):
                    failing.append((url, query, response.status_code))
    assert not failing, failing


def test_the_query_string_reaches_the_views_without_nul(rf: Any) -> None:
    from django.http import HttpResponse

    from config.middleware import StripNullCharactersFromQueryMiddleware

    seen: dict[str, list[str]] = {}

    def view(request: Any) -> HttpResponse:
        seen.update(request.GET.lists())
        return HttpResponse()

    middleware = StripNullCharactersFromQueryMiddleware(view)
    middleware(rf.get("/", {"q": "Quincail\x00lerie", "sta\x00tus": ["a\x00", "b"], "page": "2"}))
    assert seen == {"q": ["Quincaillerie"], "status": ["a", "b"], "page": ["2"]}
    untouched = rf.get("/", {"q": "café"})
    middleware(untouched)
    assert untouched.GET["q"] == "café"


def test_posting_to_a_page_that_only_shows_is_refused_politely(client: Client, draft: Draft) -> None:
    client.raise_request_exception = False
    client.force_login(draft.applicant)
    url = reverse("applications:dossier-consortium", args=[draft.application.reference])
    response = client.post(url, {"x": HUGE})
    assert response.status_code == 405


def test_an_oversized_request_body_is_refused_without_a_500(client: Client, draft: Draft) -> None:
    # DATA_UPLOAD_MAX_MEMORY_SIZE (5 MB) for fields: Django answers 400, never 500.
    client.raise_request_exception = False
    client.force_login(draft.applicant)
    url = reverse("applications:dossier-project", args=[draft.application.reference])
    response = client.post(url, {"summary": "x" * (6 * 1024 * 1024)})
    assert response.status_code == 400


def test_the_objects_are_in_the_states_the_endpoints_need(
    draft: Draft, review: Review, awarded: Awarded
) -> None:
    # Guards the fixtures: a malformed post on an object in the wrong state would prove little.
    assert draft.application.status == Application.Status.DRAFT
    assert review.application.status == Application.Status.IN_REVIEW
    assert review.criterion_ids and review.check_ids
    assert awarded.agreement.status == Agreement.Status.ACTIVE
    assert Opinion.objects.filter(token=review.opinion_token, given_at__isnull=True).exists()
