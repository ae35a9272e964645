"""Demo data: the accounts of README.md, real places of the 2019 census, and dossiers in each state.

Everything here is idempotent: each object is looked up by a natural key before it is created, so
`python manage.py seed_demo` can run again on the same database. Demo structures carry checksum-valid
but fictitious SIRETs, and are marked `is_demo`.
"""

import csv
import io
from base64 import b32decode
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from stdnum import luhn

from accounts.models import Role, User
from accounts.services import user_set_role
from applications.models import Application, BudgetYear, Call, Label, Member
from applications.selectors import required_documents_for
from applications.services import (
    application_create,
    application_set_places,
    application_submit,
    application_update_sections,
    application_withdraw,
    attachment_add,
)
from applications.services.labels import application_labels_set, label_create
from applications.services.review import (
    assignment_attest_no_conflict,
    assignment_create,
    eligibility_record,
    scores_save,
)
from fabriques.importers import tiers_lieux_import
from fabriques.models import (
    Activity,
    Departement,
    LegalCategory,
    Organisation,
    OrganisationMembership,
    Region,
    TiersLieu,
)
from fabriques.services import instructor_scope_set
from grants.models import Agreement, Grant, Tranche
from grants.services.agreements import agreement_accept, agreement_activate
from grants.services.decisions import application_award, application_refuse
from grants.services.payments import tranche_pay, tranche_request, tranche_validate
from notifications.pdf import render_pdf

CALL_SLUG = "fabriques-de-territoires"
# The grantor's SIRET, public (annuaire des entreprises): the Agence nationale de la cohésion des
# territoires. The open data's `idAttribuant` requires it; `export_open_data` refuses without it.
ANCT_SIRET = "13002612300013"
CENSUS = Path(__file__).resolve().parent.parent / "fabriques" / "data" / "tiers-lieux-cget-2019.csv"

DEMO_ACCOUNTS: list[dict[str, Any]] = [
    {
        "email": "porteur@demo.fabriques-de-territoires.fr",
        "password": "Demo-porteur-2026",  # noqa: S105 (a demo password, listed in README.md)
        "first_name": "Claire",
        "last_name": "Darmaillacq",
        "job_title": "Directrice",
        "role": Role.APPLICANT,
    },
    {
        "email": "instructeur.occitanie@demo.fabriques-de-territoires.fr",
        "password": "Demo-instruction-2026",  # noqa: S105
        "first_name": "Julien",
        "last_name": "Castéra",
        "job_title": "Chargé de mission tiers-lieux, préfecture de région Occitanie",
        "role": Role.INSTRUCTOR,
        "regions": ["76"],
        # Instructors and admins give a TOTP code after their password: the demo accounts have an
        # authenticator with a published key (README.md), and `manage.py demo_code` prints the code.
        "totp_key": "DEMOINSTRUCTIONFABRIQUESTERRITOI",
    },
    {
        "email": "admin@demo.fabriques-de-territoires.fr",
        "password": "Demo-pilotage-2026",  # noqa: S105
        "first_name": "Nadia",
        "last_name": "Benali",
        "job_title": "Responsable du programme Fabriques de territoires",
        "role": Role.ADMIN,
        "superuser": True,
        "totp_key": "DEMOPILOTAGEFABRIQUESTERRITOIRES",
    },
]


def demo_siret(prefix8: str, nic4: str = "0001") -> str:
    """A fictitious but checksum-valid SIRET (Luhn keys on the SIREN and on the SIRET)."""
    siren = prefix8 + luhn.calc_check_digit(prefix8)
    base = siren + nic4
    return base + luhn.calc_check_digit(base)


def seed_accounts() -> dict[str, User]:
    users = {}
    for spec in DEMO_ACCOUNTS:
        user, _created = User.objects.update_or_create(
            email=spec["email"],
            defaults={
                "first_name": spec["first_name"],
                "last_name": spec["last_name"],
                "job_title": spec["job_title"],
                "is_active": True,
                "is_superuser": spec.get("superuser", False),
            },
        )
        if user.email_confirmed_at is None:
            user.email_confirmed_at = timezone.now()
        user.set_password(spec["password"])
        user.save()
        user_set_role(user=user, role=spec["role"], actor=None)
        if spec.get("regions"):
            instructor_scope_set(
                instructor=user, regions=Region.objects.filter(code__in=spec["regions"]), actor=None
            )
        if spec.get("totp_key"):
            demo_authenticator(user, spec["totp_key"])
        users[spec["role"].value] = user
    return users


DEMO_DEVICE_NAME = "Démonstration"


def demo_authenticator(user: User, base32_key: str) -> TOTPDevice:
    """The demo account's authenticator, with the key published in README.md (demo data only)."""
    TOTPDevice.objects.filter(user=user).exclude(name=DEMO_DEVICE_NAME).delete()
    device, _created = TOTPDevice.objects.update_or_create(
        user=user,
        name=DEMO_DEVICE_NAME,
        defaults={"key": b32decode(base32_key).hex(), "confirmed": True, "last_t": -1},
    )
    return device


def demo_codes() -> list[tuple[str, str]]:
    """(e-mail, current code) of each demo account's authenticator, for `manage.py demo_code`."""
    from django_otp.oath import TOTP

    codes = []
    for device in TOTPDevice.objects.filter(name=DEMO_DEVICE_NAME, confirmed=True).select_related("user"):
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        codes.append((device.user.email, f"{totp.token():0{device.digits}d}"))
    return sorted(codes)


def seed_places() -> int:
    with open(CENSUS, encoding="utf-8", newline="") as handle:
        report = tiers_lieux_import(rows=csv.DictReader(handle))
    return report.created


def _organisation(siret: str, **fields: Any) -> Organisation:
    organisation = Organisation.objects.filter(siret=siret).first()
    if organisation is None:
        organisation = Organisation(siret=siret, is_demo=True, **fields)
        organisation.full_clean()
        organisation.save()
    return organisation


def _applicant(email: str, first_name: str, last_name: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, first_name=first_name, last_name=last_name, email_confirmed_at=timezone.now()
        )
        user.set_unusable_password()
        user.save()
        user_set_role(user=user, role=Role.APPLICANT, actor=None)
    return user


def _member(organisation: Organisation, user: User, job_title: str) -> None:
    OrganisationMembership.objects.get_or_create(
        organisation=organisation,
        user=user,
        defaults={"job_title": job_title, "is_legal_representative": True},
    )


def _demo_pdf(title: str, organisation: Organisation) -> bytes:
    context = {
        "reference": f"{title} — {organisation.name}",
        "generated_at": timezone.localdate().isoformat(),
    }
    return render_pdf("pdf/specimen.html", context)


def _fill(
    application: Application,
    user: User,
    *,
    sections: dict[str, Any],
    places: list[TiersLieu],
    yearly: tuple[str, str, str],
    other_funding: str,
    total_cost: str,
    documents: bool = True,
) -> None:
    application_update_sections(application=application, actor=user, **sections)
    application_set_places(application=application, places=places, actor=user)
    BudgetYear.objects.filter(application=application).delete()
    BudgetYear.objects.bulk_create(
        [
            BudgetYear(
                application=application,
                year_index=index,
                requested=Decimal(amount),
                other_funding=Decimal(other_funding),
                total_cost=Decimal(total_cost),
            )
            for index, amount in enumerate(yearly, start=1)
        ]
    )
    if documents:
        lead = application.members.get(is_lead=True).organisation
        for document in required_documents_for(application):
            if document.mandatory and not application.attachments.filter(required_document=document).exists():
                attachment_add(
                    application=application,
                    required_document=document,
                    file=io.BytesIO(_demo_pdf(document.label, lead)),
                    filename=f"{document.code}.pdf",
                    actor=user,
                )


GERS_SECTIONS: dict[str, Any] = {
    "title": "Gers Développement et Kanopé : la fabrique de territoire du Gers",
    "kind": Application.Kind.FT,
    "summary": (
        "Pépinière d'entreprises d'Auch avec bureaux, salles de réunion et espace de coworking, un "
        "fablab créatif, « La Bobine », et une unité audiovisuelle, portée avec la coopérative "
        "d'activité et d'emploi Kanopé."
    ),
    "services": "Coworking, bureaux et salles de réunion ; fablab « La Bobine » ; studio audiovisuel ; "
    "accompagnement de créateurs d'entreprise.",
    "community_governance": "Un comité d'usagers réunit chaque trimestre les entrepreneurs hébergés, "
    "les membres du fablab et les salariés-entrepreneurs de Kanopé.",
    "partnerships": "Coopérative Kanopé (CAE), communauté d'agglomération Grand Auch Cœur de Gascogne, "
    "chambres consulaires du Gers.",
    "resource_role": "Professionnalisation des tiers-lieux émergents du Gers : formations, outils "
    "partagés, prêt de matériel du fablab.",
    "digital_offer": "Consultants pour la transition numérique des entreprises, inclusion numérique "
    "des publics, création d'un site internet commun.",
    "territorial_need": "Département rural sans fabrique de territoire, où les créateurs manquent de "
    "lieux d'accompagnement et d'équipements partagés.",
    "economic_model": "Loyers de la pépinière, adhésions au fablab, prestations audiovisuelles et de "
    "formation ; la subvention consolide les emplois le temps d'atteindre l'équilibre.",
    "jobs_fte": Decimal("4"),
}


def seed_gers(call: Call, claire: User) -> Application:
    """The real example of the programme: Gers Développement with the cooperative Kanopé, 150 000 €."""
    gers = _organisation(
        demo_siret("90320100", "0001"),
        name="Gers Développement",
        legal_category=LegalCategory.objects.get(code="5710"),
        address="Rue Dessoles",
        postal_code="32000",
        commune_code="32013",
        commune_name="Auch",
        departement=Departement.objects.get(code="32"),
        year_created=2010,
        headcount=4,
    )
    kanope = _organisation(
        demo_siret("90320200", "0001"),
        name="Kanopé",
        legal_category=LegalCategory.objects.get(code="5710"),
        cooperative_kind="cae",
        address="Avenue de la Marne",
        postal_code="32000",
        commune_code="32013",
        commune_name="Auch",
        departement=Departement.objects.get(code="32"),
        year_created=2012,
        headcount=6,
    )
    _member(gers, claire, "Directrice")
    existing = Application.objects.filter(call=call, title=GERS_SECTIONS["title"]).first()
    if existing is not None:
        return existing
    bobine, _created = TiersLieu.objects.get_or_create(
        name="La Bobine",
        organisation=gers,
        defaults={
            "address": "Rue Dessoles",
            "postal_code": "32000",
            "commune_code": "32013",
            "commune_name": "Auch",
            "departement": Departement.objects.get(code="32"),
            "zone": "rural",
            "year_opened": 2016,
        },
    )
    bobine.activities.set(
        Activity.objects.filter(code__in=["coworking", "fablab", "audiovisual", "incubator"])
    )
    application = application_create(
        call=call,
        lead_organisation=gers,
        title=GERS_SECTIONS["title"],
        kind=Application.Kind.FT,
        actor=claire,
    )
    Member.objects.create(
        application=application,
        organisation=kanope,
        role="Coopérative d'activité et d'emploi : accompagnement des porteurs de projet et des consultants",
        share_percent=Decimal("40"),
    )
    Member.objects.filter(application=application, is_lead=True).update(share_percent=Decimal("60"))
    _fill(
        application,
        claire,
        sections=GERS_SECTIONS,
        places=[bobine],
        yearly=("50000", "50000", "50000"),
        other_funding="45000",
        total_cost="120000",
    )
    application_submit(application=application, actor=claire)
    application.refresh_from_db()
    return application


OTHER_DOSSIERS: list[dict[str, Any]] = [
    {
        "siret": ("90365100", "0001"),
        "organisation": "Association La Câblerie",
        "category": "9220",
        "commune": ("65440", "Tarbes", "65000", "65"),
        "census": "1069",
        "title": "La Câblerie, tiers-lieu ressource de Bigorre",
        "owner": ("cablerie@demo.fabriques-de-territoires.fr", "Lucie", "Abadie"),
        "yearly": ("40000", "35000", "30000"),
        "state": "submitted",
    },
    {
        "siret": ("90381200", "0001"),
        "organisation": "Granilia Coopérative",
        "category": "5710",
        "commune": ("81099", "Gaillac", "81600", "81"),
        "census": "496",
        "title": "La Grappe, fabrique numérique du Gaillacois",
        "owner": ("grappe@demo.fabriques-de-territoires.fr", "Hugo", "Carrère"),
        "yearly": ("50000", "45000", "40000"),
        "state": "submitted",
        "kind": Application.Kind.FNT,
    },
    {
        "siret": ("90309300", "0001"),
        "organisation": "Comètes Innovation",
        "category": "9220",
        "commune": ("09160", "Lézat-sur-Lèze", "09210", "09"),
        "census": "659",
        "title": "Comètes, tiers-lieu rural de la vallée de la Lèze",
        "owner": ("cometes@demo.fabriques-de-territoires.fr", "Inès", "Roumagnac"),
        "yearly": ("25000", "25000", "25000"),
        "state": "draft",
    },
    {
        "siret": ("90331400", "0003"),
        "organisation": "La Serre, coopérative toulousaine",
        "category": "5710",
        "commune": ("31555", "Toulouse", "31000", "31"),
        "census": "14",
        "title": "La Serre, lieu ressource des tiers-lieux toulousains",
        "owner": ("laserre@demo.fabriques-de-territoires.fr", "Marc", "Estrade"),
        "yearly": ("30000", "30000", "30000"),
        "state": "withdrawn",
    },
]


def seed_other_dossiers(call: Call) -> list[Application]:
    applications = []
    for spec in OTHER_DOSSIERS:
        existing = Application.objects.filter(call=call, title=spec["title"]).first()
        if existing is not None:
            applications.append(existing)
            continue
        commune_code, commune_name, postal_code, departement = spec["commune"]
        organisation = _organisation(
            demo_siret(*spec["siret"]),
            name=spec["organisation"],
            legal_category=LegalCategory.objects.get(code=spec["category"]),
            address="Adresse de démonstration",
            postal_code=postal_code,
            commune_code=commune_code,
            commune_name=commune_name,
            departement=Departement.objects.get(code=departement),
            year_created=2015,
            headcount=3,
        )
        owner = _applicant(*spec["owner"])
        _member(organisation, owner, "Présidente" if spec["category"] == "9220" else "Gérant")
        place = TiersLieu.objects.get(source=TiersLieu.Source.CGET_2019, source_id=spec["census"])
        application = application_create(
            call=call,
            lead_organisation=organisation,
            title=spec["title"],
            kind=spec.get("kind", Application.Kind.FT),
            actor=owner,
        )
        where = f"{place.name} ({place.commune_name or commune_name})"
        sections = {
            "summary": f"{where} : un tiers-lieu qui veut devenir le lieu ressource de son territoire.",
            "services": "Espace de travail partagé, ateliers, permanences d'accompagnement.",
            "community_governance": "Une association d'usagers et un conseil des partenaires.",
            "partnerships": "La commune, l'intercommunalité, les associations locales.",
            "resource_role": "Accueil et accompagnement des porteurs de tiers-lieux du département.",
            "digital_offer": "Médiation numérique et accès aux équipements.",
            "territorial_need": "Peu de lieux d'accompagnement dans ce bassin de vie.",
            "economic_model": "Adhésions, locations d'espaces, prestations de formation.",
            "jobs_fte": Decimal("2"),
        }
        complete = spec["state"] != "draft"
        _fill(
            application,
            owner,
            sections=sections if complete else {"summary": sections["summary"]},
            places=[place],
            yearly=spec["yearly"],
            other_funding="20000",
            total_cost="80000",
            documents=complete,
        )
        if complete:
            application_submit(application=application, actor=owner)
        if spec["state"] == "withdrawn":
            application_withdraw(
                application=application, actor=owner, reason="Projet reporté à l'an prochain."
            )
        application.refresh_from_db()
        applications.append(application)
    return applications


def _review(application: Application, reviewer: User, marks: list[int]) -> None:
    """Assign the demo instructor, confirm eligibility and hand in scores (idempotent)."""
    assignment = application.assignments.filter(instructor=reviewer).first()
    if assignment is None:
        assignment = assignment_create(application=application, instructor=reviewer, actor=reviewer)
    if not application.eligibility_answers.exists():
        eligibility_record(
            application=application,
            answers={check.pk: (True, "") for check in application.call.eligibility_checks.all()},
            actor=reviewer,
        )
    if assignment.scores_submitted_at is None:
        assignment_attest_no_conflict(assignment=assignment, actor=reviewer)
        criteria = list(application.call.criteria.order_by("position"))
        values = {
            criterion.pk: (min(mark, criterion.scale_max), "Appréciation de démonstration.")
            for criterion, mark in zip(criteria, marks * len(criteria), strict=False)
        }
        scores_save(assignment=assignment, values=values, submit=True, actor=reviewer)


def seed_decisions(gers: Application, others: list[Application], reviewer: User) -> None:
    """Gers Développement and Kanopé awarded 150 000 €; one dossier refused, one left in review."""
    if gers.status == Application.Status.SUBMITTED:
        _review(gers, reviewer, [5, 4, 5, 4])
        application_award(application=gers, amount=Decimal("150000"), actor=reviewer)
    by_title = {application.title: application for application in others}
    cablerie = by_title.get(OTHER_DOSSIERS[0]["title"])
    if cablerie is not None and cablerie.status == Application.Status.SUBMITTED:
        _review(cablerie, reviewer, [3, 4, 3])
    grappe = by_title.get(OTHER_DOSSIERS[1]["title"])
    if grappe is not None and grappe.status == Application.Status.SUBMITTED:
        _review(grappe, reviewer, [2, 1, 2])
        application_refuse(
            application=grappe,
            reasons=(
                "Le modèle économique ne montre pas comment le lieu couvrira ses charges après trois ans.\n"
                "Le rôle de lieu ressource pour les autres tiers-lieux du Tarn reste à construire."
            ),
            actor=reviewer,
        )


DEMO_LABELS = (
    ("Territoire sans fabrique", "green-menthe"),
    ("À présenter en comité", "pink-tuile"),
    ("Partenariats à vérifier", "yellow-moutarde"),
)


def seed_labels(
    call: Call, gers: Application, others: list[Application], reviewer: User, admin: User
) -> None:
    """The call's demo labels (programme admin), two on the Gers dossier, one on La Câblerie."""
    existing = {label.name: label for label in Label.objects.filter(call=call)}
    for name, colour in DEMO_LABELS:
        if name not in existing:
            existing[name] = label_create(call=call, name=name, colour=colour, actor=admin)
    if not gers.label_links.exists():
        application_labels_set(
            application=gers,
            labels=[existing[DEMO_LABELS[0][0]], existing[DEMO_LABELS[1][0]]],
            actor=reviewer,
        )
    cablerie = next((one for one in others if one.title == OTHER_DOSSIERS[0]["title"]), None)
    if (
        cablerie is not None
        and cablerie.status != Application.Status.DRAFT
        and not cablerie.label_links.exists()
    ):
        application_labels_set(application=cablerie, labels=[existing[DEMO_LABELS[2][0]]], actor=reviewer)


DEMO_IBAN = "FR7630006000011234567890189"  # the banks' published example: checksum-valid, no account


def seed_grant_life(gers: Application, claire: User, reviewer: User, admin: User) -> None:
    """The Gers agreement signed by its legal representative and the first tranche of 50 000 € paid."""
    grant = Grant.objects.filter(application=gers, status=Grant.Status.ACTIVE).first()
    if grant is None:
        return
    agreement = grant.agreement
    if agreement.status == Agreement.Status.AWAITING_SIGNATURE:
        agreement = agreement_accept(agreement=agreement, actor=claire)
    if agreement.status == Agreement.Status.SIGNED:
        agreement_activate(agreement=agreement, commitment_number="2100123456", actor=admin)
    first = grant.tranches.get(year_index=1)
    if first.status == Tranche.Status.SCHEDULED:
        first = tranche_request(tranche=first, iban=DEMO_IBAN, actor=claire)
    if first.status == Tranche.Status.REQUESTED:
        first = tranche_validate(tranche=first, actor=reviewer)
    if first.status == Tranche.Status.VALIDATED:
        tranche_pay(
            tranche=first, paid_on=timezone.localdate(), payment_reference="DEMO-VIR-2026-0001", actor=admin
        )


def seed_call_signature(call: Call) -> None:
    """Who signs the demo call's letters and agreements, and where (settings of the call; the
    name is a demo one: the programme sets the real signatory in the admin)."""
    call.signature_place = call.signature_place or "Paris"
    call.grantor_representative = call.grantor_representative or "le directeur général"
    call.signatory_name = call.signatory_name or "Camille Durand"
    call.signatory_title = call.signatory_title or (
        "Pour le ministre et par délégation, le directeur général de l'Agence nationale de la cohésion "
        "des territoires"
    )
    call.full_clean()
    call.save(
        update_fields=["signature_place", "grantor_representative", "signatory_name", "signatory_title"]
    )


def seed_grantor(call: Call) -> None:
    """The demo call names its grantor by SIRET, as a real call must before publishing open data."""
    if not call.grantor_siret:
        call.grantor_siret = ANCT_SIRET
        call.full_clean()
        call.save(update_fields=["grantor_siret"])


def seed_all() -> dict[str, Any]:
    users = seed_accounts()
    created_places = seed_places()
    call = Call.objects.get(slug=CALL_SLUG)
    seed_call_signature(call)
    seed_grantor(call)
    gers = seed_gers(call, users[Role.APPLICANT.value])
    others = seed_other_dossiers(call)
    seed_decisions(gers, others, users[Role.INSTRUCTOR.value])
    seed_grant_life(gers, users[Role.APPLICANT.value], users[Role.INSTRUCTOR.value], users[Role.ADMIN.value])
    seed_labels(call, gers, others, users[Role.INSTRUCTOR.value], users[Role.ADMIN.value])
    gers.refresh_from_db()
    for application in others:
        application.refresh_from_db()
    return {"users": users, "places_created": created_places, "gers": gers, "others": others}
