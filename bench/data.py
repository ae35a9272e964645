"""Data the benchmarks build for themselves, through the portal's services.

`complete_draft` builds the dossier of tests/factories.py `complete_application` with the same
builders (devtools/builders.py; the harness does not depend on the test suite): a draft that
passes the completeness check, with its own applicant, lead structure, place, budget and
supporting documents. Import after Django is set up.
"""

from __future__ import annotations

from typing import Any

from devtools import builders


def bench_call(slug: str, reference_prefix: str = "BEN") -> Any:
    """A call open now, with the figures of « Fabriques de territoires » and its documents."""
    from django.utils import timezone

    from applications.models import Call

    now = timezone.now()
    call = Call.objects.create(
        slug=slug,
        title=f"Appel de mesure {slug}",
        reference_prefix=reference_prefix,
        status="open",
        opens_at=now - timezone.timedelta(days=30),
        closes_at=now + timezone.timedelta(days=60),
        **builders.CALL_FIGURES,
    )
    builders.add_required_documents(call)
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
    from applications.services import application_create
    from fabriques.models import Organisation, OrganisationMembership

    user = applicant_user(f"porteur{index}.{call.slug}@{email_domain}")
    lead = Organisation.objects.create(
        name=f"Association du tiers-lieu de mesure n° {index}",
        siret=builders.make_siret(call.pk * 100_000 + index, first_digit="8"),
        **builders.LEAD_ORGANISATION,
    )
    OrganisationMembership.objects.create(organisation=lead, user=user, is_legal_representative=True)
    application = application_create(
        call=call, lead_organisation=lead, title=f"La fabrique de mesure n° {index}", actor=user
    )
    return builders.complete_draft(application, lead=lead, user=user, place_name=f"La Bobine n° {index}")
