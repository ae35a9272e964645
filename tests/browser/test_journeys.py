"""The portal's main journeys, in Chromium: an applicant, an Occitanie instructor, a programme admin.

Every action named in a journey goes through the browser (forms typed and submitted, links and
buttons clicked, files downloaded); only the starting state of journeys 2 and 3 and the keyboard
test is built through the services, and the database is read to check what the pages claim.
Each step leaves a screenshot under tests/browser/screenshots/<test>/ and an axe-core audit;
the serious and critical violations of all the visited pages are asserted at the end of each test.
"""

import re
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core import mail
from playwright.sync_api import expect

from core.formatting import format_money, parse_money
from tests.factories import (
    PASSWORD,
    PDF_BYTES,
    CallFactory,
    applicant,
    grid,
    in_review_application,
    make_siret,
    occitanie_instructor,
    programme_admin,
    submitted_application,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

APPLICANT_PASSWORD = "Tiers-lieu-du-Gers-2026"
INSTRUCTOR_PASSWORD = "Instruction-Occitanie-2026"
ADMIN_PASSWORD = "Pilotage-du-programme-2026"


# --- helpers -------------------------------------------------------------------------------------


def spaced_siret(siret: str) -> str:
    """« 900 000 018 42424 »: as people copy it from an extract of the register."""
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"


def log_in(page, email: str, password: str, journey=None) -> None:  # type: ignore[no-untyped-def]
    """Through the login form, as a person would, and the second step for instructors and admins."""
    page.goto("/compte/connexion/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Se connecter", exact=True).click()
    if "/compte/double-authentification/" in page.url:
        second_step(page, email, journey)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def authenticator_code(base32_key: str, *, after_step: int = -1) -> str:
    """What an authenticator application holding the key shows (a step later than `after_step`)."""
    import time
    from base64 import b32decode

    from django_otp.oath import TOTP

    totp = TOTP(b32decode(base32_key))
    totp.time = max(time.time(), (after_step + 1) * totp.step)
    return f"{totp.token():06d}"


def second_step(page, email: str, journey=None) -> None:  # type: ignore[no-untyped-def]
    """Enrol an authenticator from the key the page shows, or give the code of the enrolled one."""
    from base64 import b32encode

    from django_otp.plugins.otp_totp.models import TOTPDevice

    if page.locator("[data-otp-key]").count():
        # First login: the key is typed into the authenticator from the page, as text.
        key = page.locator("[data-otp-key]").inner_text().replace(" ", "")
        if journey is not None:
            journey.step(page, "double authentification activation")
        page.get_by_label("Code de vérification").fill(authenticator_code(key))
        with page.expect_navigation():
            page.get_by_role("button", name="Activer").click()
        expect(page.get_by_role("heading", name="Vos codes de secours")).to_be_visible()
        expect(page.locator("[data-backup-codes] li")).to_have_count(10)
        if journey is not None:
            journey.step(page, "double authentification codes de secours")
        with page.expect_navigation():
            page.get_by_role("link", name="J'ai noté mes codes, continuer").click()
        return
    device = TOTPDevice.objects.get(user__email=email, confirmed=True)
    key = b32encode(device.bin_key).decode()
    if journey is not None:
        journey.step(page, "double authentification code")
    page.get_by_label("Code de vérification").fill(authenticator_code(key, after_step=device.last_t))
    with page.expect_navigation():
        page.get_by_role("button", name="Vérifier").click()


def submit(page, button_name: str | re.Pattern[str], **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Click a submit button and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=button_name, **kwargs).click()


def download(page, locator, folder: Path) -> Path:  # type: ignore[no-untyped-def]
    with page.expect_download() as info:
        locator.click()
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def sidemenu(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Follow a section of the dossier's side menu."""
    with page.expect_navigation():
        page.locator("#menu-dossier-liste").get_by_role(
            "link", name=re.compile(rf"^{re.escape(name)}")
        ).click()


def success_message(page, text: str) -> None:  # type: ignore[no-untyped-def]
    expect(page.locator(".fr-alert--success").filter(has_text=text).first).to_be_visible()


def tick(page, control) -> None:  # type: ignore[no-untyped-def]
    """Tick a DSFR checkbox or radio button by clicking its label, which is drawn over the input."""
    control_id = control.get_attribute("id")
    page.locator(f"label[for='{control_id}']").click()
    expect(control).to_be_checked()


def stat_after(page, label: str) -> Decimal:  # type: ignore[no-untyped-def]
    """The figure printed under a label of the envelope's headline (« Engagé » → 150 000 €)."""
    figure = page.locator(
        f"xpath=//p[normalize-space()='{label}']/following-sibling::p[contains(@class, 'portal-stat')]"
    )
    return parse_money(figure.first.inner_text())


@pytest.fixture
def pdf_files(tmp_path: Path) -> dict[str, Path]:
    """Small real PDFs, one per document the tests upload."""
    files = {}
    for name in ("statuts", "rib", "contrat-engagement-republicain"):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(PDF_BYTES)
        files[name] = path
    return files


# --- journey 1: from sign-up to the receipt ----------------------------------------------------


def test_applicant_signs_up_builds_and_submits_a_dossier(new_page, journey, pdf_files, tmp_path, task_queues):  # type: ignore[no-untyped-def]
    from applications.models import Application
    from fabriques.models import Organisation

    call = CallFactory(title="Fabriques de territoires 2026")
    grid(call)
    lead_siret, partner_siret = make_siret(4242), make_siret(4343)
    email = "claire.dupont@exemple.fr"
    page = new_page()

    # Sign up.
    page.goto("/")
    journey.step(page, "accueil")
    with page.expect_navigation():
        page.get_by_role("link", name="Créer un compte").first.click()
    journey.step(page, "inscription")
    page.locator("#id_first_name").fill("Claire")
    page.locator("#id_last_name").fill("Dupont")
    page.locator("#id_email").fill(email)
    page.locator("#id_password1").fill(APPLICANT_PASSWORD)
    page.locator("#id_password2").fill(APPLICANT_PASSWORD)
    submit(page, "Créer mon compte")
    expect(page.get_by_role("heading", name="Vérifiez votre messagerie")).to_be_visible()
    journey.step(page, "inscription envoyee")

    # Confirm the address with the link of the e-mail (locmem backend), once the workers sent it.
    task_queues.drain()
    confirmations = [
        message for message in mail.outbox if email in message.to and "Confirmez" in message.subject
    ]
    assert len(confirmations) == 1, [message.subject for message in mail.outbox]
    link = re.search(r"https?://\S+/compte/confirmer/\S+/\S+/", confirmations[0].body)
    assert link, confirmations[0].body
    page.goto(link.group(0))
    assert page.url.endswith("/compte/connexion/")
    success_message(page, "Votre adresse e-mail est confirmée")
    journey.step(page, "adresse confirmee")

    # Log in: the applicant's home.
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(APPLICANT_PASSWORD)
    submit(page, "Se connecter", exact=True)
    expect(page.get_by_role("heading", name="Mon espace porteur")).to_be_visible()
    journey.step(page, "espace porteur")

    # The lead structure, its SIRET typed with spaces; the applicant is its legal representative.
    with page.expect_navigation():
        page.get_by_role("link", name="Enregistrer une structure").click()
    journey.step(page, "structure formulaire")
    page.locator("#id_name").fill("Association La Bobine")
    page.locator("#id_siret").fill(spaced_siret(lead_siret))
    page.locator("#id_legal_category").select_option("9220")
    page.locator("#id_address").fill("12 rue Gambetta")
    page.locator("#id_postal_code").fill("32000")
    page.locator("#id_commune_code").fill("32013")
    page.locator("#id_commune_name").fill("Auch")
    page.locator("#id_departement").select_option("32")
    page.locator("#id_year_created").fill("2016")
    page.locator("#id_headcount").fill("4")
    page.locator("#id_job_title").fill("Présidente")
    tick(page, page.get_by_label("Je suis le représentant légal de la structure"))
    submit(page, "Enregistrer la structure")
    success_message(page, "La structure « Association La Bobine » est enregistrée.")
    expect(page.locator(".portal-facts")).to_contain_text(spaced_siret(lead_siret))
    journey.step(page, "structure enregistree")
    lead = Organisation.objects.get(siret=lead_siret)
    assert lead.memberships.get().is_legal_representative

    # A dossier for the open call.
    with page.expect_navigation():
        page.get_by_role("navigation", name="Menu principal").get_by_role(
            "link", name="Mon espace porteur"
        ).click()
    with page.expect_navigation():
        page.get_by_role("link", name="Créer un dossier").click()
    journey.step(page, "dossier nouveau")
    page.locator("#id_call").select_option(label=call.title)
    page.locator("#id_lead_organisation").select_option(label="Association La Bobine")
    page.locator("#id_title").fill("La Bobine, fabrique du Gers")
    submit(page, "Créer le brouillon")
    application = Application.objects.get(title="La Bobine, fabrique du Gers")
    success_message(page, f"Le dossier {application.reference} est créé.")
    journey.step(page, "dossier cree projet")

    # The consortium: a partner added with htmx (no page load), then the shares rebalanced.
    sidemenu(page, "Le consortium")
    journey.step(page, "consortium")
    consortium_url = page.url
    page.evaluate("window.__sameDocument = true")
    form = page.locator("form[hx-post$='/consortium/ajouter/']")
    form.locator("#id_siret").fill(spaced_siret(partner_siret))
    form.locator("#id_role").fill("Atelier de fabrication numérique")
    form.locator("#id_share_percent").fill("30")
    form.locator("#id_name").fill("Coopérative Kanopé")
    form.locator("#id_legal_category").select_option("9220")
    form.locator("#id_address").fill("3 place de la Libération")
    form.locator("#id_postal_code").fill("32000")
    form.locator("#id_commune_code").fill("32013")
    form.locator("#id_commune_name").fill("Auch")
    form.locator("#id_departement").select_option("32")
    form.locator("#id_year_created").fill("2012")
    form.locator("#id_headcount").fill("7")
    with page.expect_response(lambda response: response.url.endswith("/consortium/ajouter/")) as added:
        form.get_by_role("button", name="Ajouter le partenaire").click()
    assert added.value.request.headers.get("hx-request") == "true"
    members = page.locator("#consortium-membres table")
    expect(page.locator("#consortium-membres")).to_contain_text(
        "La structure « Coopérative Kanopé » a rejoint le consortium."
    )
    expect(members).to_contain_text("Coopérative Kanopé")
    # The lead keeps what remains (70 % after a 30 % partner), never a silent 130 %.
    expect(members.locator("tfoot")).to_contain_text("100 %")
    expect(members.locator("tfoot")).not_to_contain_text("130 %")
    assert page.url == consortium_url
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    journey.step(page, "consortium partenaire ajoute")

    lead_row = members.locator("tbody tr").filter(has_text="Association La Bobine")
    lead_row.get_by_label("Part (%)").fill("70")
    with page.expect_response(lambda response: "/modifier/" in response.url):
        lead_row.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#consortium-membres")).to_contain_text(
        "La part de « Association La Bobine » est enregistrée."
    )
    expect(members.locator("tfoot")).to_contain_text("100 %")
    expect(page.locator("#consortium-membres")).not_to_contain_text("elles doivent totaliser 100 %")
    assert page.url == consortium_url
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    # The side menu is swapped out of band: the section is now complete.
    expect(
        page.locator("#menu-dossier-liste").get_by_role("link", name=re.compile("^Le consortium"))
    ).to_contain_text("complet")
    journey.step(page, "consortium parts equilibrees")

    # The project's sections.
    sidemenu(page, "Le projet")
    page.locator("#id_summary").fill(
        "Un tiers-lieu rural qui accompagne les habitants et les associations du Gers."
    )
    page.locator("#id_services").fill(
        "Coworking, fablab, atelier de réparation, permanences France services."
    )
    page.locator("#id_community_governance").fill(
        "Une association collégiale ; un comité d'usagers se réunit chaque mois."
    )
    page.locator("#id_partnerships").fill(
        "La commune d'Auch, la communauté d'agglomération, la coopérative Kanopé."
    )
    page.locator("#id_resource_role").fill("Accompagne trois tiers-lieux naissants du département.")
    page.locator("#id_digital_offer").fill("Médiation numérique, ateliers de programmation pour les jeunes.")
    page.locator("#id_territorial_need").fill(
        "Zone rurale peu dotée en services ; pas d'espace de travail partagé à 30 km."
    )
    page.locator("#id_economic_model").fill("Locations d'espaces, formations, prestations et subventions.")
    page.locator("#id_jobs_fte").fill("2,5")
    journey.step(page, "projet rempli")
    submit(page, "Enregistrer", exact=True)
    success_message(page, "Le projet est enregistré.")
    journey.step(page, "projet enregistre")

    # The place: not in the census, described here.
    sidemenu(page, "Les tiers-lieux")
    journey.step(page, "lieux")
    page.locator("#id_lieu-name").fill("La Bobine")
    page.locator("#id_lieu-address").fill("12 rue Gambetta")
    page.locator("#id_lieu-postal_code").fill("32000")
    page.locator("#id_lieu-commune_code").fill("32013")
    page.locator("#id_lieu-commune_name").fill("Auch")
    page.locator("#id_lieu-departement").select_option("32")
    page.locator("#id_lieu-zone").select_option("rural")
    page.locator("#id_lieu-year_opened").fill("2017")
    submit(page, "Ajouter ce lieu")
    success_message(page, "Le lieu « La Bobine » est ajouté au dossier.")
    journey.step(page, "lieu ajoute")

    # The budget, typed the French way.
    sidemenu(page, "Le budget")
    for year in (1, 2, 3):
        page.locator(f"#id_requested_{year}").fill("50 000")
        page.locator(f"#id_other_funding_{year}").fill("30 000")
        page.locator(f"#id_total_cost_{year}").fill("90 000")
    journey.step(page, "budget rempli")
    submit(page, "Enregistrer le budget")
    success_message(page, "Le budget est enregistré.")
    expect(page.locator("table").last).to_contain_text(format_money(Decimal("150000")))
    journey.step(page, "budget enregistre")

    # The required documents (an association: statutes, bank details, republican commitment).
    sidemenu(page, "Les pièces justificatives")
    journey.step(page, "pieces")
    for label, name in (
        ("Statuts", "statuts"),
        ("RIB", "rib"),
        ("Contrat d'engagement républicain", "contrat-engagement-republicain"),
    ):
        section = page.locator("section").filter(
            has=page.get_by_role("heading", name=re.compile(f"^{re.escape(label)}"))
        )
        section.locator("input[type=file]").set_input_files(pdf_files[name])
        with page.expect_navigation():
            section.get_by_role("button", name=re.compile("^Déposer le fichier")).click()
        success_message(page, f"Le fichier « {name}.pdf » a été ajouté à la pièce « {label} ».")
    journey.step(page, "pieces deposees")

    # Every section complete: submit, then download the receipt.
    sidemenu(page, "Vue d'ensemble")
    expect(page.get_by_role("heading", name="5 sections complètes sur 5")).to_be_visible()
    journey.step(page, "avant le depot")
    submit(page, "Déposer le dossier")
    # The recap first: what is asked, who gets the receipt, what cannot be undone. Nothing is done yet.
    expect(page.get_by_role("heading", name=f"Confirmer le dépôt – {application.reference}")).to_be_visible()
    recap = page.locator("[data-recap]")
    expect(recap).to_contain_text(format_money(Decimal("150000")))
    expect(recap).to_contain_text(f"L'accusé de réception (PDF) sera envoyé par courriel à : {email}")
    expect(recap).to_contain_text("ne peut plus être modifié")
    journey.step(page, "depot recapitulatif")
    application.refresh_from_db()
    assert application.status == Application.Status.DRAFT
    submit(page, "Confirmer le dépôt du dossier")
    success_message(page, f"Votre dossier {application.reference} est déposé.")
    journey.step(page, "dossier depose")
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert application.departement_id == "32"

    # The workers render the receipt and send it; the page, shown again, links it.
    task_queues.drain()
    page.reload()
    receipt = download(
        page, page.get_by_role("link", name=re.compile(r"^accuse-reception-.*\.pdf$")), tmp_path
    )
    assert receipt.name == f"accuse-reception-{application.reference}-1.pdf"
    assert receipt.read_bytes().startswith(b"%PDF")
    assert any(application.reference in message.subject for message in mail.outbox)

    journey.assert_accessible()


# --- journey 2: instruction, corrections, award, agreement --------------------------------------


def test_instructor_reviews_asks_corrections_and_awards_then_applicant_accepts(
    new_page, journey, tmp_path, task_queues
):  # type: ignore[no-untyped-def]
    from applications.models import Application, Assignment, Criterion
    from grants.models import Agreement

    # The starting state, through the services: a submitted dossier of the Gers (Occitanie) whose
    # applicant is the lead structure's legal representative, a call with a grid, an instructor.
    call = CallFactory(title="Fabriques de territoires 2026")
    grid(call)
    owner = applicant(first_name="Claire", last_name="Dupont", email="claire.dupont@exemple.fr")
    application = submitted_application(applicant_user=owner, call=call)
    assert (
        application.members.get(is_lead=True).organisation.memberships.get(user=owner).is_legal_representative
    )
    reviewer = occitanie_instructor(
        first_name="Paul", last_name="Martin", email="paul.martin@occitanie.gouv.fr"
    )
    reviewer.set_password(INSTRUCTOR_PASSWORD)
    reviewer.save(update_fields=["password"])
    reference = application.reference

    # The instructor opens the dossier from the workspace.
    desk = new_page()
    log_in(desk, reviewer.email, INSTRUCTOR_PASSWORD, journey)
    assert desk.url.endswith("/instruction/")
    expect(desk.get_by_role("link", name="À instruire (1)")).to_be_visible()
    journey.step(desk, "instructeur espace instruction")
    with desk.expect_navigation():
        desk.get_by_role("link", name=reference).click()
    expect(desk.get_by_role("heading", name="La fabrique du Gers", level=1)).to_be_visible()
    journey.step(desk, "instructeur dossier depose")

    # Assigned to themself: the dossier enters review.
    submit(desk, "Me l'affecter")
    success_message(desk, "Le dossier vous est affecté.")
    expect(desk.locator("#affectations")).to_contain_text("Paul Martin")
    journey.step(desk, "instructeur dossier affecte")

    # Eligibility confirmed.
    eligibility = desk.locator("#eligibilite")
    tick(desk, eligibility.get_by_label("Oui, vérifiée"))
    eligibility.get_by_label("Observation (facultatif)").fill(
        "Commune classée en zone rurale (grille communale INSEE)."
    )
    submit(desk, "Enregistrer l'éligibilité")
    success_message(desk, "La vérification de l'éligibilité est enregistrée.")
    expect(eligibility).to_contain_text("Vérifiée")
    journey.step(desk, "instructeur eligibilite")

    # No scoring before the attestation of no conflict of interests.
    scores = desk.locator("#notation")
    expect(scores.get_by_role("button", name="Remettre ma notation")).to_have_count(0)
    tick(desk, scores.get_by_label("Je n'ai pas de conflit d'intérêts avec ce dossier"))
    journey.step(desk, "instructeur attestation")
    submit(desk, "Attester et ouvrir la notation")
    success_message(desk, "Votre attestation d'absence de conflit d'intérêts est enregistrée")
    assignment = Assignment.objects.get(application=application, instructor=reviewer)
    assert assignment.no_conflict_attested_by == reviewer and assignment.no_conflict_attested_at

    # Every criterion scored with a comment, then handed in through its recap.
    for criterion, value in (("Gouvernance", "4"), ("Modèle économique", "7")):
        scores.get_by_label(f"Note de « {criterion} »").select_option(value)
        scores.get_by_label(f"Commentaire sur « {criterion} »").fill(f"{criterion} : solide, à suivre.")
    journey.step(desk, "instructeur notation remplie")
    submit(desk, "Remettre ma notation")
    recap = desk.locator("[data-recap]")
    expect(recap).to_contain_text("77,5 sur 100")
    expect(recap).to_contain_text("Une notation remise ne se modifie plus")
    journey.step(desk, "instructeur notation recapitulatif")
    assignment.refresh_from_db()
    assert assignment.scores_submitted_at is None
    submit(desk, "Confirmer la remise de ma notation")
    success_message(desk, "Votre notation est remise.")
    # (4/5 × 3 + 7/10 × 1) / 4 = 77,5 sur 100.
    expect(scores).to_contain_text("Ma notation – 77,5 sur 100")
    journey.step(desk, "instructeur notation remise")
    assert Criterion.objects.filter(call=call).count() == 2

    # Corrections asked: the dossier goes back to the applicant.
    desk.locator("#decision").get_by_label("Points à corriger ou à compléter").fill(
        "Préciser le résumé du projet : publics visés et horaires d'ouverture."
    )
    submit(desk, "Demander les compléments")
    success_message(desk, "Les compléments sont demandés au porteur")
    journey.step(desk, "instructeur complements demandes")
    application.refresh_from_db()
    assert application.status == Application.Status.CORRECTIONS

    # The applicant answers: one field edited, the dossier submitted again.
    home = new_page()
    log_in(home, owner.email, PASSWORD)
    journey.step(home, "porteur espace")
    with home.expect_navigation():
        home.get_by_role("link", name=re.compile(f"^{reference}")).click()
    expect(home.locator(".fr-badge").filter(has_text="Compléments demandés").first).to_be_visible()
    journey.step(home, "porteur dossier complements demandes")
    sidemenu(home, "Messages")
    expect(home.locator("#contenu")).to_contain_text("Préciser le résumé du projet")
    journey.step(home, "porteur messages")
    sidemenu(home, "Le projet")
    summary = "Un lieu ressource ouvert du mardi au samedi, pour les habitants, les associations et les indépendants."
    home.locator("#id_summary").fill(summary)
    submit(home, "Enregistrer", exact=True)
    success_message(home, "Le projet est enregistré.")
    journey.step(home, "porteur projet corrige")
    sidemenu(home, "Vue d'ensemble")
    submit(home, "Déposer le dossier")
    expect(home.locator("[data-recap]")).to_contain_text("Le dossier retourne à ses instructeurs")
    journey.step(home, "porteur redepot recapitulatif")
    submit(home, "Confirmer le dépôt du dossier")
    success_message(home, f"Votre dossier {reference} est déposé.")
    journey.step(home, "porteur dossier redepose")
    application.refresh_from_db()
    assert application.summary == summary
    assert application.status == Application.Status.IN_REVIEW

    # The instructor awards it.
    desk.reload()
    expect(desk.locator(".fr-badge").filter(has_text="En instruction").first).to_be_visible()
    amount = desk.locator("#decision").get_by_label("Montant attribué (en euros)")
    amount.fill("150 000")
    journey.step(desk, "instructeur attribution")
    submit(desk, "Attribuer la subvention")
    # The recap: the amount in full, its split by year, who receives the letter; nothing done yet.
    recap = desk.locator("[data-recap]")
    expect(
        recap.locator("xpath=.//dt[normalize-space()='Montant attribué']/following-sibling::dd[1]")
    ).to_have_text(format_money(Decimal("150000")))
    split = recap.locator("table")
    expect(split.locator("tbody tr")).to_have_count(3)
    expect(split).to_contain_text(format_money(Decimal("50000")))
    lead = application.members.get(is_lead=True).organisation.name
    expect(recap).to_contain_text(
        f"Le représentant légal de {lead} (Claire Dupont) recevra la lettre de décision par courriel."
    )
    journey.step(desk, "instructeur attribution recapitulatif")
    application.refresh_from_db()
    assert application.status == Application.Status.IN_REVIEW
    submit(desk, re.compile(r"^Confirmer l'attribution"))
    success_message(
        desk,
        f"Le dossier {reference} est lauréat : subvention de {format_money(Decimal('150000'))} attribuée.",
    )
    journey.step(desk, "instructeur laureat")
    application.refresh_from_db()
    assert application.status == Application.Status.AWARDED

    # The applicant downloads the award letter (rendered by the workers) from the dossier's page...
    task_queues.drain()
    sidemenu(home, "Vue d'ensemble")
    expect(home.locator(".fr-badge").filter(has_text="Lauréat").first).to_be_visible()
    journey.step(home, "porteur dossier laureat")
    letter = download(home, home.get_by_role("link", name=re.compile(r"^decision-.*\.pdf$")), tmp_path)
    assert letter.name.startswith(f"decision-{reference}-")
    assert letter.read_bytes().startswith(b"%PDF")

    # ...and, as the lead structure's legal representative, accepts the agreement.
    with home.expect_navigation():
        home.get_by_role("link", name="Suivre ma subvention").click()
    journey.step(home, "porteur subvention")
    agreement = Agreement.objects.get(grant__application=application)
    # No page of the dossier links to its agreement: the list of agreements is reached by its address.
    home.goto("/conventions/")
    journey.step(home, "porteur conventions")
    with home.expect_navigation():
        home.get_by_role("link", name=agreement.number).click()
    expect(home.get_by_role("heading", level=1)).to_contain_text("En attente de signature")
    journey.step(home, "porteur convention")
    tick(home, home.get_by_label("J'ai lu la convention et je l'accepte"))
    submit(home, "Accepter la convention")
    success_message(home, f"Vous avez accepté la convention {agreement.number} au nom de la structure.")
    expect(home.get_by_role("heading", level=1)).to_contain_text("Signée")
    journey.step(home, "porteur convention acceptee")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.SIGNED
    assert agreement.accepted_by == owner

    journey.assert_accessible()


# --- journey 3: the envelope's dashboard and the budget workbook --------------------------------


def test_admin_sees_the_envelope_move_and_downloads_the_workbook(new_page, journey, tmp_path, task_queues):  # type: ignore[no-untyped-def]
    call = CallFactory(title="Fabriques de territoires 2026", slug="fabriques-2026")
    application, reviewer = in_review_application(call=call)
    admin = programme_admin(first_name="Agnès", last_name="Morel", email="agnes.morel@anct.gouv.fr")
    admin.set_password(ADMIN_PASSWORD)
    admin.save(update_fields=["password"])

    # The admin opens the envelope's dashboard: nothing committed yet.
    desk = new_page()
    log_in(desk, admin.email, ADMIN_PASSWORD, journey)
    expect(desk.get_by_role("heading", name="Pilotage du programme")).to_be_visible()
    journey.step(desk, "admin pilotage")
    with desk.expect_navigation():
        # One block per call (the migrations create the programme's own call too): this call's link.
        desk.get_by_role("link", name="Tableau de bord de l'enveloppe").and_(
            desk.locator(f"[href*='/appels/{call.slug}/']")
        ).click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Tableau de bord de l'enveloppe")
    journey.step(desk, "admin tableau de bord avant")
    before = stat_after(desk, "Engagé")
    remaining_before = stat_after(desk, "Restant à engager")
    assert before == Decimal("0")
    assert remaining_before == Decimal("54000000")

    # Meanwhile the dossier's instructor awards it.
    review = new_page()
    log_in(review, reviewer.email, PASSWORD)
    with review.expect_navigation():
        review.get_by_role("link", name=re.compile(r"^En instruction")).click()
    with review.expect_navigation():
        review.get_by_role("link", name=application.reference).click()
    review.locator("#decision").get_by_label("Montant attribué (en euros)").fill("150 000")
    journey.step(review, "instructeur attribution")
    submit(review, "Attribuer la subvention")
    expect(review.locator("[data-recap]")).to_contain_text("Répartition par année")
    journey.step(review, "instructeur attribution recapitulatif")
    submit(review, re.compile(r"^Confirmer l'attribution"))
    success_message(review, f"Le dossier {application.reference} est lauréat")
    journey.step(review, "instructeur laureat")

    # The committed amount has moved by the award.
    desk.reload()
    journey.step(desk, "admin tableau de bord apres")
    after = stat_after(desk, "Engagé")
    assert after - before == Decimal("150000")
    assert remaining_before - stat_after(desk, "Restant à engager") == Decimal("150000")
    expect(
        desk.locator("xpath=//p[normalize-space()='Fabriques lauréates / objectif']/following-sibling::p[1]")
    ).to_have_text("1 / 360")

    # The budget workbook, built in the background: wait for its link, download, open it.
    with desk.expect_navigation():
        desk.get_by_role("navigation", name="Menu principal").get_by_role(
            "link", name="Pilotage du programme"
        ).click()
    with desk.expect_navigation():
        desk.get_by_role("link", name="Rapports budgétaires").first.click()
    journey.step(desk, "admin exports")
    section = desk.locator("section").filter(
        has=desk.get_by_role("heading", name=re.compile(re.escape(call.title)))
    )
    with desk.expect_navigation():
        section.get_by_role("button", name="Produire le classeur (XLSX)").click()
    # The reports worker builds it; the page, polling, then shows its link.
    task_queues.drain()
    link = desk.get_by_role("link", name="Télécharger le fichier")
    expect(link).to_be_visible(timeout=30_000)
    journey.step(desk, "admin classeur pret")
    workbook_path = download(desk, link, tmp_path)
    assert workbook_path.suffix == ".xlsx"
    workbook = openpyxl.load_workbook(workbook_path, read_only=True)
    assert workbook.sheetnames == ["Synthèse", "Régions", "Années", "Subventions", "Tranches"]
    grants = [row for row in workbook["Subventions"].iter_rows(values_only=True)]
    assert any(application.reference in row for row in grants[1:]), grants
    summary = {row[0]: row[1] for row in workbook["Synthèse"].iter_rows(values_only=True) if row}
    assert summary["Appel"] == call.title
    assert Decimal(str(summary["Engagé"])) == Decimal("150000"), summary
    workbook.close()

    # The beneficiary accepts the agreement (through the service); the admin activates it in the
    # browser, through its recap.
    from grants.models import Agreement, Tranche
    from grants.services.agreements import agreement_accept
    from grants.services.payments import tranche_request, tranche_validate
    from notifications.models import OutgoingEmail

    agreement = Agreement.objects.get(grant__application=application)
    agreement_accept(agreement=agreement, actor=application.created_by)
    desk.goto(f"/conventions/{agreement.number}/")
    desk.get_by_label("Numéro d'engagement juridique").fill("2100123456")
    submit(desk, "Rendre la convention exécutoire")
    recap = desk.locator("[data-recap]")
    expect(recap).to_contain_text("2100123456")
    expect(recap).to_contain_text("Période d'exécution")
    expect(recap.locator("table tbody tr")).to_have_count(3)
    # Who is told, as the activation then does (an e-mail row to the legal representative).
    expect(recap).to_contain_text(application.created_by.email)
    journey.step(desk, "admin activation recapitulatif")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.SIGNED
    submit(desk, "Confirmer l'activation de la convention")
    success_message(desk, f"La convention {agreement.number} est en cours d'exécution.")
    agreement.refresh_from_db()
    assert agreement.status == Agreement.Status.ACTIVE and agreement.commitment_number == "2100123456"
    assert OutgoingEmail.objects.get(key=f"agreement:{agreement.pk}:activation-email").to == [
        application.created_by.email
    ]

    # The first tranche asked and validated (through the services), then paid through its recap.
    first = Tranche.objects.get(grant__application=application, year_index=1)
    tranche_request(tranche=first, iban="FR76 3000 6000 0112 3456 7890 189", actor=application.created_by)
    tranche_validate(tranche=first, actor=reviewer)
    desk.goto(f"/instruction/dossiers/{application.reference}/versements/")
    actions = desk.locator("#actions-1")
    actions.get_by_label("Référence du paiement").fill("VIR-2026-0001")
    submit(desk, "Enregistrer le versement")
    recap = desk.locator("[data-recap]")
    expect(recap).to_contain_text(format_money(first.amount))
    expect(recap).to_contain_text("VIR-2026-0001")
    expect(recap).to_contain_text("Un versement enregistré ne s'annule pas")
    expect(recap).to_contain_text(application.created_by.email)
    journey.step(desk, "admin versement recapitulatif")
    first.refresh_from_db()
    assert first.status == Tranche.Status.VALIDATED
    submit(desk, re.compile(r"^Confirmer le versement"))
    success_message(desk, "Le versement de la tranche de l'année 1 est enregistré.")
    first.refresh_from_db()
    assert first.status == Tranche.Status.PAID and first.payment_reference == "VIR-2026-0001"
    assert "VIR-2026-0001" in OutgoingEmail.objects.get(key=f"tranche:{first.pk}:paid-email").body

    journey.assert_accessible()


# --- the keyboard alone ------------------------------------------------------------------------


def test_project_form_filled_and_submitted_with_the_keyboard_alone(new_page, journey):  # type: ignore[no-untyped-def]
    from applications.models import Application
    from applications.services import application_create
    from tests.factories import OrganisationFactory, member_of

    owner = applicant(email="claire.dupont@exemple.fr")
    lead = OrganisationFactory(name="Association La Bobine")
    member_of(lead, owner, is_legal_representative=True)
    application = application_create(
        call=CallFactory(), lead_organisation=lead, title="Brouillon", actor=owner
    )

    page = new_page()
    log_in(page, owner.email, PASSWORD)
    page.goto(f"/mon-espace/dossiers/{application.reference}/projet/")
    journey.step(page, "projet vide")

    def focused() -> str:
        return page.evaluate("document.activeElement ? document.activeElement.id : ''")

    def tab_to(element_id: str, limit: int = 60) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if focused() == element_id:
                return
        pytest.fail(f"#{element_id} is never reached with Tab (last focus: #{focused()})")

    # From the skip link to the main content, then field by field.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Contenu")).to_be_focused()
    page.keyboard.press("Enter")
    tab_to("id_title")
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("La Bobine, fabrique du Gers")
    page.keyboard.press("Tab")
    assert focused() == "id_kind_0"  # the radio group: its checked button takes the focus
    page.keyboard.press("ArrowDown")  # the other kind: fabrique numérique de territoire
    answers = {
        "id_summary": "Un tiers-lieu rural.",
        "id_services": "Coworking, fablab.",
        "id_community_governance": "Une association collégiale.",
        "id_partnerships": "La commune d'Auch.",
        "id_resource_role": "Accompagne trois tiers-lieux.",
        "id_digital_offer": "Médiation numérique.",
        "id_territorial_need": "Zone rurale.",
        "id_economic_model": "Locations et formations.",
        "id_jobs_fte": "2,5",
    }
    for element_id, text in answers.items():
        page.keyboard.press("Tab")
        assert focused() == element_id, f"expected #{element_id}, the focus is on #{focused()}"
        page.keyboard.type(text)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Enregistrer", exact=True)).to_be_focused()
    journey.step(page, "projet rempli au clavier", audit=False)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    success_message(page, "Le projet est enregistré.")
    journey.step(page, "projet enregistre")

    application.refresh_from_db()
    assert application.title == "La Bobine, fabrique du Gers"
    assert application.kind == Application.Kind.FNT
    assert application.summary == "Un tiers-lieu rural."
    assert application.economic_model == "Locations et formations."
    assert application.jobs_fte == Decimal("2.5")
    expect(page.locator("#id_summary")).to_have_value("Un tiers-lieu rural.")

    journey.assert_accessible()


# --- the instruction page: short, the scoring and the decision one click away ------------------

# A long dossier as instructors meet them: each of the nine texts of the project about 900
# characters (the demo's are shorter), three partners, a thread and private notes.
LONG_TEXT = (
    "Le lieu accueille chaque semaine des habitants, des associations et des indépendants du "
    "territoire : ateliers de réparation, permanences numériques, formations et temps de rencontre. "
) * 5


def _long_dossier():  # type: ignore[no-untyped-def]
    from applications.models import Application, Member
    from applications.selectors import PROJECT_TEXTS
    from applications.services.review import annotation_add, message_post
    from tests.factories import OrganisationFactory

    application, reviewer = in_review_application()
    Application.objects.filter(pk=application.pk).update(**dict.fromkeys(PROJECT_TEXTS, LONG_TEXT))
    for n in range(3):
        Member.objects.create(
            application=application,
            organisation=OrganisationFactory(name=f"Partenaire {n + 1}"),
            role="Animation d'ateliers et accueil des publics",
            share_percent=Decimal("0"),
        )
    for n in range(3):
        annotation_add(application=application, body=f"Note {n + 1} : {LONG_TEXT[:300]}", actor=reviewer)
        message_post(application=application, body=f"Question {n + 1} : {LONG_TEXT[:300]}", actor=reviewer)
    return application, reviewer


HEIGHT_BEFORE_FOLDS = 9596


def page_height(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("document.documentElement.scrollHeight"))


def test_the_instruction_page_is_short_and_scoring_and_decision_are_one_click_away(new_page, journey):  # type: ignore[no-untyped-def]
    application, reviewer = _long_dossier()
    desk = new_page()
    log_in(desk, reviewer.email, PASSWORD)
    desk.goto(f"/instruction/dossiers/{application.reference}/")
    journey.step(desk, "instruction dossier long")
    height = page_height(desk)
    print(f"instruction page height: {height} px")  # noqa: T201 (reported in docs/architecture.md)
    # The same dossier measured 9 596 px before the folds (1 280 px wide). What stays unfolded
    # (header, eligibility, assignments, the scoring form, the decision forms) no longer grows
    # with the dossier's texts: the page must stay under half of that.
    assert height < HEIGHT_BEFORE_FOLDS // 2, height

    # « Décider » in the sticky bar: one click, and the award's amount field is on screen.
    desk.get_by_role("navigation", name="Actions sur le dossier").get_by_role("link", name="Décider").click()
    expect(desk.locator("#decision").get_by_label("Montant attribué (en euros)")).to_be_in_viewport()
    journey.step(desk, "instruction decider en un clic")
    # « Noter »: the scoring form (the attestation was given), one click.
    desk.get_by_role("navigation", name="Actions sur le dossier").get_by_role("link", name="Noter").click()
    expect(desk.locator("#notation").get_by_role("button", name="Remettre ma notation")).to_be_in_viewport()
    # A section of the folded dossier, from the side menu: its fold opens.
    budget = desk.locator("#budget")
    expect(budget).to_be_hidden()
    desk.locator("#menu-instruction").get_by_role("link", name="Le budget").click()
    expect(budget).to_be_visible()
    expect(budget).to_be_in_viewport()
    # The fold also opens with a click on its summary, without any script.
    desk.locator("#volet-messages > summary").click()
    expect(desk.locator("#messages")).to_contain_text("Question 1")
    journey.step(desk, "instruction dossier deplie")
    journey.assert_accessible()
