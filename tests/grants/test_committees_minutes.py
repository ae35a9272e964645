"""The minutes (procès-verbal) of a session, end to end with tasks run in process: the decisions
applied → a document row → rendered by the document task → read back with pypdf: the attendance,
the list adopted, the refusals, the postponed dossiers, the totals; a tagged PDF/UA with the
State's identity, like the decision letters. The decision letters follow through the outbox too."""

import io
import re
from decimal import Decimal

import pypdf
import pytest
from pypdf.generic import BooleanObject

from applications.models import Application
from grants.models import CommitteeItem, CommitteeSession
from grants.services.committees import (
    committee_agenda_build,
    committee_apply,
    committee_attendance_set,
    committee_convene,
    committee_decision_record,
    committee_members_set,
    committee_open,
)
from notifications.models import Document, OutgoingEmail, Status
from tests.factories import CallFactory, occitanie_instructor, programme_admin
from tests.grants.committees import a_session, scored_dossiers

pytestmark = pytest.mark.django_db

D = CommitteeItem.Decision


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_minutes_print_the_attendance_the_list_adopted_the_refusals_the_postponed_and_the_totals(
    django_capture_on_commit_callbacks, task_queues
):
    admin = programme_admin(first_name="Claire", last_name="Dupont")
    guest = occitanie_instructor(first_name="Yann", last_name="Le Goff")
    call = CallFactory(
        envelope=Decimal("1000000"), grantor_name="Agence nationale de la cohésion des territoires"
    )
    awarded, refused, postponed = scored_dossiers(call, ["91.5", "75", "62"])
    session = a_session(admin, call, title="Comité de sélection du 12 mars")
    committee_members_set(session=session, users=[admin, guest], actor=admin)
    committee_agenda_build(session=session, actor=admin)
    committee_convene(session=session, actor=admin)
    members = {member.user_id: member.pk for member in session.members.all()}
    committee_attendance_set(
        session=session, attendance={members[admin.pk]: "present", members[guest.pk]: "excused"}, actor=admin
    )
    committee_open(session=session, actor=admin)
    items = {item.application_id: item for item in CommitteeItem.objects.filter(session=session)}
    committee_decision_record(item=items[awarded.pk], decision=D.AWARD, amount=Decimal("120000"), actor=admin)
    committee_decision_record(
        item=items[refused.pk], decision=D.REFUSE, reasons="Modèle économique fragile.", actor=admin
    )
    committee_decision_record(
        item=items[postponed.pk], decision=D.POSTPONE, reasons="Compléments attendus.", actor=admin
    )

    with django_capture_on_commit_callbacks(execute=True):
        results = committee_apply(session=session, actor=admin)
    task_queues.drain()
    assert all(result.done for result in results)

    session = CommitteeSession.objects.get(pk=session.pk)
    minutes = Document.objects.get(pk=session.minutes_id)
    assert minutes.status == Status.DONE, minutes.last_error
    with minutes.file.open("rb") as handle:
        pdf = handle.read()
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = flat("\n".join(page.extract_text() for page in reader.pages))
    for expected in (
        "RÉPUBLIQUE FRANÇAISE",
        "Agence nationale de la cohésion des territoires",
        "Procès-verbal du comité de sélection",
        call.title,
        "Comité de sélection du 12 mars",
        "ANCT, 20 avenue de Ségur, Paris",
        "Claire Dupont Administrateur du programme Présent",
        "Yann Le Goff Instructeur invité Excusé",
        "1 membre présent.",
        f"1 {awarded.reference} – {awarded.title}",
        "91,5 120 000 €",
        "Année 1 : 40 000 €",
        f"{refused.reference} – {refused.title}",
        "Modèle économique fragile.",
        f"{postponed.reference} – {postponed.title}",
        "Compléments attendus.",
        "Dossiers examinés 3",
        "Subventions attribuées 1",
        "Total engagé sur l’enveloppe 120 000 €",
        "Reste à engager avant la séance 1 000 000 €",
        "Reste à engager après la séance 880 000 €",
        call.signatory_name,
    ):
        assert expected in text, expected
    # Tagged PDF/UA-1, its title shown, with the State's identity (the bloc-marque, in Marianne).
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog
    assert catalog["/MarkInfo"]["/Marked"] == BooleanObject(True)
    assert catalog["/Lang"] == "fr"
    assert reader.metadata is not None
    assert reader.metadata.title == "Procès-verbal – Comité de sélection du 12 mars"
    assert text.startswith("RÉPUBLIQUE FRANÇAISE Liberté Égalité Fraternité")
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert all("Marianne" in name for name in fonts), fonts
    assert re.search(r"pdfuaid:part[^0-9]*1", catalog["/Metadata"].get_object().get_data().decode())

    # The decisions' letters went through the outbox as any decision's.
    assert Application.objects.get(pk=awarded.pk).status == "awarded"
    letters = OutgoingEmail.objects.filter(key__startswith=f"application:{awarded.pk}:award-letter-email:")
    assert [email.status for email in letters] == [Status.DONE]
    assert (
        OutgoingEmail.objects.filter(
            key__startswith=f"application:{refused.pk}:refusal-letter-email:"
        ).count()
        == 1
    )
    # A postponed dossier stays in review: no letter (its receipt of submission is its only e-mail).
    assert not OutgoingEmail.objects.filter(
        key__startswith=f"application:{postponed.pk}:", key__contains="letter"
    ).exists()
    assert Application.objects.get(pk=postponed.pk).status == "in_review"
