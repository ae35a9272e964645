"""Data the benchmarks build for themselves, through the portal's services.

`complete_draft` follows tests/factories.py `complete_application` (copied rather than imported:
the harness does not depend on the test suite): a draft that passes the completeness check, with
its own applicant, lead structure, place, budget and supporting documents.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from stdnum import luhn

# One blank page with its cross-reference table: uploads must open with pypdf and have a page.
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


def make_siret(n: int) -> str:
    """A checksum-valid SIRET, distinct for each n below 10 000 000 (not a real establishment)."""
    siren = luhn_complete(f"8{n:07d}")
    return luhn_complete(f"{siren}{n % 10000:04d}")


def bench_call(slug: str, reference_prefix: str = "BEN") -> Any:
    """A call open now, with the figures of « Fabriques de territoires » and its documents."""
    from django.utils import timezone

    from applications.models import Call, RequiredDocument

    now = timezone.now()
    call = Call.objects.create(
        slug=slug,
        title=f"Appel de mesure {slug}",
        reference_prefix=reference_prefix,
        status="open",
        opens_at=now - timezone.timedelta(days=30),
        closes_at=now + timezone.timedelta(days=60),
        envelope=Decimal("54000000"),
        target_count=360,
        min_award=Decimal("75000"),
        max_award=Decimal("150000"),
        max_per_year=Decimal("50000"),
        duration_years=3,
        fnt_bonus=Decimal("100000"),
    )
    documents = [
        ("statuts", "Statuts", True, "", [], 1),
        ("rib", "RIB", True, "pdf,jpg,png", [], 2),
        ("soutiens", "Lettres de soutien", False, "", [], 3),
        ("cer", "Contrat d'engagement républicain", True, "", ["association"], 4),
        ("deliberation", "Délibération", True, "", ["local_authority"], 5),
    ]
    for code, label, mandatory, formats, families, position in documents:
        fields: dict[str, Any] = {"call": call, "code": code, "label": label, "mandatory": mandatory}
        fields["position"] = position
        if formats:
            fields["allowed_formats"] = formats
        if families:
            fields["families"] = families
        RequiredDocument.objects.create(**fields)
    return call


def applicant_user(email: str) -> Any:
    """An active, confirmed applicant (MD5 password hash: fast to create, accepted by the bench settings)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from accounts.models import Role, User

    user = User.objects.create(
        email=email,
        first_name="Camille",
        last_name="Martin",
        is_active=True,
        email_confirmed_at=timezone.now(),
        password=make_password("Un-mot-de-passe-de-mesure-2026", hasher="md5"),
    )
    user.groups.add(Group.objects.get(name=Role.APPLICANT.value))
    return user


def complete_draft(call: Any, index: int, email_domain: str = "mesure.fabriques.test") -> Any:
    """A draft dossier of its own applicant that can be submitted, as tests/factories.py builds it."""
    from applications.models import Application, BudgetYear
    from applications.services import application_create, attachment_add
    from fabriques.models import Organisation, OrganisationMembership, TiersLieu

    user = applicant_user(f"porteur{index}.{call.slug}@{email_domain}")
    lead = Organisation.objects.create(
        name=f"Association du tiers-lieu de mesure n° {index}",
        siret=make_siret(call.pk * 100_000 + index),
        legal_category_id="9220",
        address="1 place de la Mairie",
        postal_code="32000",
        commune_code="32013",
        commune_name="Auch",
        departement_id="32",
        year_created=2015,
        headcount=3,
    )
    OrganisationMembership.objects.create(organisation=lead, user=user, is_legal_representative=True)
    application = application_create(
        call=call, lead_organisation=lead, title=f"La fabrique de mesure n° {index}", actor=user
    )
    Application.objects.filter(pk=application.pk).update(
        summary="Un lieu ressource.",
        services="Coworking, fablab.",
        community_governance="Une SCIC.",
        partnerships="La commune, la CAE.",
        resource_role="Accompagne trois tiers-lieux.",
        digital_offer="Médiation numérique.",
        territorial_need="Zone rurale.",
        economic_model="Locations et formations.",
        jobs_fte=Decimal("2.5"),
    )
    place = TiersLieu.objects.create(name=f"La Bobine n° {index}", departement_id="32", organisation=lead)
    application.places.add(place)
    BudgetYear.objects.filter(application=application).update(
        requested=Decimal("50000"), other_funding=Decimal("30000"), total_cost=Decimal("90000")
    )
    for document in call.required_documents.all():
        if document.mandatory and document.applies_to(lead.legal_category.family):
            attachment_add(
                application=application,
                required_document=document,
                file=io.BytesIO(PDF_BYTES),
                filename=f"{document.code}.pdf",
                actor=user,
            )
    application.refresh_from_db()
    return application
