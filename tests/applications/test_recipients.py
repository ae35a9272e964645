"""Who hears about a dossier: one rule per side (applications.selectors.dossier_recipients)."""

import pytest

from applications.models import Access, Assignment, Message
from applications.selectors import dossier_recipients
from applications.services.review import assignment_create, message_post
from notifications.models import OutgoingEmail
from tests.factories import (
    OrganisationFactory,
    applicant,
    in_review_application,
    instructor,
    member_of,
    occitanie_instructor,
    submitted_application,
)

pytestmark = pytest.mark.django_db
APPLICANT, INSTRUCTION = Message.Side.APPLICANT, Message.Side.INSTRUCTION


def test_the_applicant_side_is_the_author_and_the_lead_structures_active_members() -> None:
    application = submitted_application()
    lead = application.members.get(is_lead=True).organisation
    colleague, gone = applicant(email="collegue@tiers-lieu.fr"), applicant(email="parti@tiers-lieu.fr")
    member_of(lead, colleague)
    member_of(lead, gone)
    gone.is_active = False
    gone.save()
    # A partner structure's staff and an invited person are not the lead: they hear of nothing.
    partner = OrganisationFactory()
    member_of(partner, applicant(email="partenaire@autre.fr"))
    application.members.create(organisation=partner, is_lead=False, role="Partenaire", share_percent=0)
    guest = applicant(email="invite@autre.fr")
    Access.objects.create(
        application=application,
        email=guest.email,
        user=guest,
        token="jeton",
        invited_by=application.created_by,
    )
    assert dossier_recipients(application, side=APPLICANT) == sorted(
        {application.created_by.email, "collegue@tiers-lieu.fr"}
    )


def test_the_instruction_side_is_the_assigned_instructors_without_a_conflict() -> None:
    application, reviewer = in_review_application()
    conflicted = occitanie_instructor(email="conflit@anct.gouv.fr")
    assignment_create(application=application, instructor=conflicted, actor=conflicted)
    Assignment.objects.filter(instructor=conflicted).update(conflict_of_interest=True)
    idle = occitanie_instructor(email="ancien@anct.gouv.fr")
    assignment_create(application=application, instructor=idle, actor=idle)
    idle.is_active = False
    idle.save()
    assert dossier_recipients(application, side=INSTRUCTION) == [reviewer.email]


def test_before_any_assignment_the_instructors_covering_the_departement_hear_of_it() -> None:
    application = submitted_application()
    covering = occitanie_instructor(email="occitanie@anct.gouv.fr")
    instructor(email="sans-territoire@anct.gouv.fr")
    assert dossier_recipients(application, side=INSTRUCTION) == [covering.email]
    # So a question asked before the assignment reaches someone.
    message_post(application=application, body="Une question ?", actor=application.created_by)
    email = OutgoingEmail.objects.get(key__startswith="notification:message:")
    assert email.to == [covering.email]


def test_an_unknown_side_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        dossier_recipients(submitted_application(), side="public")
