"""Factories shared by the test folders, with a trait per role."""

import time
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from stdnum import luhn

from accounts.models import Role, User

PASSWORD = "Un-mot-de-passe-solide-2026"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"personne{n}@exemple.fr")
    first_name = "Camille"
    last_name = factory.Sequence(lambda n: f"Martin{n}")
    is_active = True
    email_confirmed_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    class Params:
        unconfirmed = factory.Trait(is_active=False, email_confirmed_at=None)

    @factory.post_generation
    def role(self, create: bool, extracted: Role | None, **kwargs: object) -> None:
        if create and extracted is not None:
            self.groups.add(Group.objects.get(name=extracted.value))
            if extracted == Role.ADMIN:
                self.is_staff = True
        if create:
            self.save()


def applicant(**kwargs: object) -> User:
    return UserFactory(role=Role.APPLICANT, **kwargs)


def instructor(**kwargs: object) -> User:
    return UserFactory(role=Role.INSTRUCTOR, **kwargs)


def programme_admin(**kwargs: object) -> User:
    return UserFactory(role=Role.ADMIN, **kwargs)


def luhn_complete(prefix: str) -> str:
    """`prefix` followed by the Luhn check digit that makes it valid (SIREN and SIRET use it)."""
    return prefix + luhn.calc_check_digit(prefix)


def make_siret(n: int) -> str:
    """A checksum-valid SIRET, distinct for each n (not a real establishment)."""
    siren = luhn_complete(f"9{n:07d}")
    return luhn_complete(f"{siren}{n % 10000:04d}")


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "fabriques.Organisation"

    name = factory.Sequence(lambda n: f"Association du tiers-lieu n° {n}")
    siret = factory.Sequence(make_siret)
    legal_category_id = "9220"
    address = "1 place de la Mairie"
    postal_code = "32000"
    commune_code = "32013"
    commune_name = "Auch"
    departement_id = "32"
    year_created = 2015
    headcount = 3


def member_of(organisation: object, user: User, **kwargs: object) -> None:
    from fabriques.models import OrganisationMembership

    OrganisationMembership.objects.create(organisation=organisation, user=user, **kwargs)


class CallFactory(factory.django.DjangoModelFactory):
    """A call open now, with the figures of « Fabriques de territoires » and its documents."""

    class Meta:
        model = "applications.Call"
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"appel-{n}")
    title = factory.Sequence(lambda n: f"Appel de test {n}")
    reference_prefix = "TST"
    status = "open"
    opens_at = factory.LazyFunction(lambda: timezone.now() - timezone.timedelta(days=30))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=60))
    envelope = Decimal("54000000")
    target_count = 360
    min_award = Decimal("75000")
    max_award = Decimal("150000")
    max_per_year = Decimal("50000")
    duration_years = 3
    fnt_bonus = Decimal("100000")
    grantor_representative = "le directeur général"
    signature_place = "Paris"
    # Decisions and agreements are refused while the call has no signatory (letterhead_check).
    signatory_name = "Camille Durand"
    signatory_title = "Pour le ministre et par délégation, le directeur général"
    # The ANCT's (public): the open data requires the grantor's SIRET.
    grantor_siret = "13002612300013"

    @factory.post_generation
    def documents(self, create: bool, extracted: object, **kwargs: object) -> None:
        if not create or extracted is False:
            return
        from applications.models import RequiredDocument

        RequiredDocument.objects.create(
            call=self, code="statuts", label="Statuts", mandatory=True, position=1
        )
        RequiredDocument.objects.create(
            call=self, code="rib", label="RIB", mandatory=True, allowed_formats="pdf,jpg,png", position=2
        )
        RequiredDocument.objects.create(
            call=self, code="soutiens", label="Lettres de soutien", mandatory=False, position=3
        )
        RequiredDocument.objects.create(
            call=self,
            code="cer",
            label="Contrat d'engagement républicain",
            mandatory=True,
            families=["association"],
            position=4,
        )
        RequiredDocument.objects.create(
            call=self,
            code="deliberation",
            label="Délibération",
            mandatory=True,
            families=["local_authority"],
            position=5,
        )


# The smallest well-formed PDF: one blank A4 page, a cross-reference table, nothing after %%EOF
# (uploads are opened with pypdf and must have a page; see applications/services/attachments.py).
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\nxref\n0 4\n0000000000 65535 f \n"
    b"0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \ntrailer<</Size 4/Root 1 0 R>>\n"
    b"startxref\n164\n%%EOF\n"
)


def pdf_variant(tag: str) -> bytes:
    """PDF_BYTES with a comment of its own before %%EOF: another file (another hash), still valid."""
    return PDF_BYTES.replace(b"startxref", f"% {tag}\nstartxref".encode())


PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def complete_application(applicant_user: User | None = None, call: object = None, **kwargs: object):  # type: ignore[no-untyped-def]
    """A draft that can be submitted: sections, consortium, place, budget and documents."""
    import io

    from applications.models import Application, BudgetYear
    from applications.services import application_create, attachment_add
    from fabriques.models import TiersLieu

    user = applicant_user or applicant()
    call = call or CallFactory()
    lead = OrganisationFactory()
    member_of(lead, user, is_legal_representative=True)
    application = application_create(
        call=call, lead_organisation=lead, title="La fabrique du Gers", actor=user, **kwargs
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
    place = TiersLieu.objects.create(name="La Bobine", departement_id="32", organisation=lead)
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


def submitted_application(**kwargs: object):  # type: ignore[no-untyped-def]
    """A complete dossier, submitted (in the Gers, département 32, région Occitanie)."""
    from applications.services import application_submit

    application = complete_application(**kwargs)
    application_submit(application=application, actor=application.created_by)
    application.refresh_from_db()
    return application


def occitanie_instructor(**kwargs: object) -> User:
    from fabriques.models import Region
    from fabriques.services import instructor_scope_set

    user = instructor(**kwargs)
    instructor_scope_set(instructor=user, regions=[Region.objects.get(code="76")], actor=None)
    return user


def grid(call: object) -> None:
    """A small grid on the call: two criteria (weights 3 and 1, scales 5 and 10) and one check."""
    from applications.models import Criterion, EligibilityCheck

    Criterion.objects.get_or_create(
        call=call, label="Gouvernance", defaults={"weight": 3, "scale_max": 5, "position": 1}
    )
    Criterion.objects.get_or_create(
        call=call, label="Modèle économique", defaults={"weight": 1, "scale_max": 10, "position": 2}
    )
    EligibilityCheck.objects.get_or_create(
        call=call, label="Lieu en zone rurale ou en QPV", defaults={"position": 1}
    )


def in_review_application(**kwargs: object):  # type: ignore[no-untyped-def]
    """A submitted dossier taken into review by an Occitanie instructor, eligibility confirmed.

    The instructor has attested having no conflict of interests, so may score at once.
    """
    from applications.services.review import (
        assignment_attest_no_conflict,
        assignment_create,
        eligibility_record,
    )

    application = submitted_application(**kwargs)
    grid(application.call)
    reviewer = occitanie_instructor()
    assignment = assignment_create(application=application, instructor=reviewer, actor=reviewer)
    assignment_attest_no_conflict(assignment=assignment, actor=reviewer)
    eligibility_record(
        application=application,
        answers={check.pk: (True, "") for check in application.call.eligibility_checks.all()},
        actor=reviewer,
    )
    application.refresh_from_db()
    return application, reviewer


def close_response(response: object) -> None:
    """Close a streamed response (its file) without closing the test's database connection.

    response.close() sends `request_finished`, whose handler closes the connection; Django's test
    client disconnects that handler only while a request runs.
    """
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    try:
        response.close()  # type: ignore[attr-defined]
    finally:
        request_finished.connect(close_old_connections)


def give_second_factor(client: Any, user: User) -> None:
    """Record in the client's session that `user` gave a code of a confirmed authenticator.

    Does nothing for a user who owes no second factor (an applicant without an authenticator).
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.two_factor import has_confirmed_device, two_factor_required

    if not (two_factor_required(user) or has_confirmed_device(user)):
        return
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Application de test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def totp_code(device: Any, *, offset: int = 0) -> str:
    """The code an authenticator application shows now for `device` (offset in 30 s steps)."""
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset * device.step
    return f"{totp.token():0{device.digits}d}"
