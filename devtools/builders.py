"""The rows that tests/factories.py and bench/data.py both build, written once.

A call with the figures and documents of « Fabriques de territoires », a lead structure in the
Gers, and the draft that passes the completeness check (sections, place, budget, supporting
documents). The test factories and the benchmarks' data must describe the same dossier: a change
of the completeness rules is then made here once, and the benchmarks keep measuring dossiers the
tests prove submittable. Import after Django is set up (the models are imported at module level).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from stdnum import luhn

from accounts.models import User
from applications.models import Application, BudgetYear, Call, RequiredDocument
from applications.services import attachment_add
from fabriques.models import Organisation, TiersLieu

# The smallest well-formed PDF: one blank A4 page, a cross-reference table, nothing after %%EOF
# (uploads are opened with pypdf and must have a page; see applications/services/attachments.py).
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\nxref\n0 4\n0000000000 65535 f \n"
    b"0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \ntrailer<</Size 4/Root 1 0 R>>\n"
    b"startxref\n164\n%%EOF\n"
)


def luhn_complete(prefix: str) -> str:
    """`prefix` followed by the Luhn check digit that makes it valid (SIREN and SIRET use it)."""
    return prefix + luhn.calc_check_digit(prefix)


def make_siret(n: int, *, first_digit: str = "9") -> str:
    """A checksum-valid SIRET, distinct for each n below 10 000 000 (not a real establishment).

    The tests' SIRETs start with 9, the benchmarks' with 8 (as the bulk data's): the two never meet.
    A larger n (a call's id times 100 000 on a long-lived PostgreSQL sequence) wraps round, so the
    number keeps its 14 digits.
    """
    siren = luhn_complete(f"{first_digit}{n % 10_000_000:07d}")
    return luhn_complete(f"{siren}{n % 10000:04d}")


# The programme's figures: 54 M€ for 360 laureates, 75 000 to 150 000 € over three years, at most
# 50 000 € a year, 100 000 € more for a « Fabrique numérique de territoire ».
CALL_FIGURES: dict[str, Any] = {
    "envelope": Decimal("54000000"),
    "target_count": 360,
    "min_award": Decimal("75000"),
    "max_award": Decimal("150000"),
    "max_per_year": Decimal("50000"),
    "duration_years": 3,
    "fnt_bonus": Decimal("100000"),
}

# (code, label, mandatory, allowed formats, legal families it applies to, position); an empty
# value keeps the model's default (every format, every family).
REQUIRED_DOCUMENTS: tuple[tuple[str, str, bool, str, list[str], int], ...] = (
    ("statuts", "Statuts", True, "", [], 1),
    ("rib", "RIB", True, "pdf,jpg,png", [], 2),
    ("soutiens", "Lettres de soutien", False, "", [], 3),
    ("cer", "Contrat d'engagement républicain", True, "", ["association"], 4),
    ("deliberation", "Délibération", True, "", ["local_authority"], 5),
)


def add_required_documents(call: Call) -> None:
    """The call's supporting documents: statutes, bank details, support letters, the CER for an
    association, the deliberation for a local authority."""
    for code, label, mandatory, formats, families, position in REQUIRED_DOCUMENTS:
        fields: dict[str, Any] = {"code": code, "label": label, "mandatory": mandatory, "position": position}
        if formats:
            fields["allowed_formats"] = formats
        if families:
            fields["families"] = families
        RequiredDocument.objects.create(call=call, **fields)


# An association of Auch (Gers, département 32, région Occitanie), besides its name and SIRET.
LEAD_ORGANISATION: dict[str, Any] = {
    "legal_category_id": "9220",
    "address": "1 place de la Mairie",
    "postal_code": "32000",
    "commune_code": "32013",
    "commune_name": "Auch",
    "departement_id": "32",
    "year_created": 2015,
    "headcount": 3,
}

# Every section the completeness check asks for.
DRAFT_SECTIONS: dict[str, Any] = {
    "summary": "Un lieu ressource.",
    "services": "Coworking, fablab.",
    "community_governance": "Une SCIC.",
    "partnerships": "La commune, la CAE.",
    "resource_role": "Accompagne trois tiers-lieux.",
    "digital_offer": "Médiation numérique.",
    "territorial_need": "Zone rurale.",
    "economic_model": "Locations et formations.",
    "jobs_fte": Decimal("2.5"),
}

# Each budget year: 50 000 € asked (the yearly ceiling), 30 000 € from others, 90 000 € in all.
DRAFT_BUDGET_YEAR: dict[str, Decimal] = {
    "requested": Decimal("50000"),
    "other_funding": Decimal("30000"),
    "total_cost": Decimal("90000"),
}


def complete_draft(
    application: Application, *, lead: Organisation, user: User, place_name: str
) -> Application:
    """Fill a new draft of `lead` until it passes the completeness check: its sections, a place in
    the Gers, its budget years and the call's mandatory documents for the lead's legal family."""
    Application.objects.filter(pk=application.pk).update(**DRAFT_SECTIONS)
    place = TiersLieu.objects.create(name=place_name, departement_id="32", organisation=lead)
    application.places.add(place)
    BudgetYear.objects.filter(application=application).update(**DRAFT_BUDGET_YEAR)
    family = lead.legal_category.family
    for document in application.call.required_documents.all():
        if document.mandatory and document.applies_to(family):
            attachment_add(
                application=application,
                required_document=document,
                file=io.BytesIO(PDF_BYTES),
                filename=f"{document.code}.pdf",
                actor=user,
            )
    application.refresh_from_db()
    return application
