"""Factories shared by the test folders, with a trait per role."""

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

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
    """Append the Luhn check digit that makes `prefix` + digit valid (SIREN and SIRET use it)."""
    for digit in "0123456789":
        candidate = prefix + digit
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


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
