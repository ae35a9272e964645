"""The read API's test world: dossier D awarded in the Gers (applicant A, an Occitanie instructor),
its first tranche paid; applicant B's draft; an instructor of Île-de-France; an admin; an expert."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from accounts.models import Role, User
from api.services import api_token_create
from applications.models import Application
from fabriques.models import Region
from fabriques.services import instructor_scope_set
from grants.models import Grant, Tranche
from grants.services import application_award
from tests.factories import (
    UserFactory,
    complete_application,
    in_review_application,
    instructor,
    programme_admin,
)


@dataclass
class World:
    dossier: Application
    draft_b: Application
    grant: Grant
    paid: Tranche
    applicant_a: User
    applicant_b: User
    instructor_in: User
    instructor_out: User
    admin: User
    expert: User

    def client(self, user: User | None) -> Client:
        """A client calling with a fresh token of `user` (none for None)."""
        if user is None:
            return Client()
        secret = api_token_create(user=user, name="Test", days=30, actor=None).secret
        return Client(headers={"Authorization": f"Bearer {secret}"})


def build_world() -> World:
    dossier, reviewer = in_review_application()
    grant = application_award(application=dossier, amount=Decimal("150000"), actor=reviewer)
    dossier.refresh_from_db()
    # The first tranche paid (its payment recorded as the admins' page would).
    paid = Tranche.objects.get(grant=grant, year_index=1)
    Tranche.objects.filter(pk=paid.pk).update(
        status=Tranche.Status.PAID,
        requested_at=timezone.now(),
        validated_at=timezone.now(),
        paid_on=date(2026, 3, 2),
        payment_reference="VIR-2026-0001",
    )
    paid.refresh_from_db()
    instructor_out = instructor()
    instructor_scope_set(instructor=instructor_out, regions=[Region.objects.get(code="11")], actor=None)
    applicant_b = UserFactory(role=Role.APPLICANT)
    draft_b = complete_application(applicant_user=applicant_b)
    return World(
        dossier=dossier,
        draft_b=draft_b,
        grant=grant,
        paid=paid,
        applicant_a=dossier.created_by,
        applicant_b=applicant_b,
        instructor_in=reviewer,
        instructor_out=instructor_out,
        admin=programme_admin(),
        expert=UserFactory(role=Role.EXPERT),
    )
