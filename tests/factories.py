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
