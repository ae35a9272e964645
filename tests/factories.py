"""Factories shared by the test folders, with a trait per role."""

import time
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Role, User
from devtools.builders import CALL_FIGURES, LEAD_ORGANISATION, PDF_BYTES, add_required_documents, make_siret
from devtools.builders import complete_draft as complete_the_draft

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


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "fabriques.Organisation"

    name = factory.Sequence(lambda n: f"Association du tiers-lieu n° {n}")
    siret = factory.Sequence(make_siret)
    # The lead structure of the benchmarks' dossiers too (devtools.builders).
    legal_category_id = LEAD_ORGANISATION["legal_category_id"]
    address = LEAD_ORGANISATION["address"]
    postal_code = LEAD_ORGANISATION["postal_code"]
    commune_code = LEAD_ORGANISATION["commune_code"]
    commune_name = LEAD_ORGANISATION["commune_name"]
    departement_id = LEAD_ORGANISATION["departement_id"]
    year_created = LEAD_ORGANISATION["year_created"]
    headcount = LEAD_ORGANISATION["headcount"]


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
    # The programme's figures, those of the benchmarks' calls too (devtools.builders).
    envelope = CALL_FIGURES["envelope"]
    target_count = CALL_FIGURES["target_count"]
    min_award = CALL_FIGURES["min_award"]
    max_award = CALL_FIGURES["max_award"]
    max_per_year = CALL_FIGURES["max_per_year"]
    duration_years = CALL_FIGURES["duration_years"]
    fnt_bonus = CALL_FIGURES["fnt_bonus"]
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
        add_required_documents(self)


def pdf_variant(tag: str) -> bytes:
    """PDF_BYTES with a comment of its own before %%EOF: another file (another hash), still valid."""
    return PDF_BYTES.replace(b"startxref", f"% {tag}\nstartxref".encode())


PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def complete_application(applicant_user: User | None = None, call: object = None, **kwargs: object):  # type: ignore[no-untyped-def]
    """A draft that can be submitted: sections, consortium, place, budget and documents."""
    from applications.services import application_create

    user = applicant_user or applicant()
    call = call or CallFactory()
    lead = OrganisationFactory()
    member_of(lead, user, is_legal_representative=True)
    application = application_create(
        call=call, lead_organisation=lead, title="La fabrique du Gers", actor=user, **kwargs
    )
    return complete_the_draft(application, lead=lead, user=user, place_name="La Bobine")


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
