"""The published open data: the five files of a call at stable public addresses, each validated
against its vendored schema before it is served, refused (the previous file kept) when it breaks
it, rebuilt by the daily beat task, with the call's stable identifier and without natural persons
or agreements that are not in force.

The files served are checked here with frictionless directly (tests/grants/scdl.py), not with the
validator the portal runs before publishing.
"""

import csv
import io
import json
import logging
import uuid
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date

from accounts.models import AuditEvent
from applications.models import Call, Member
from fabriques.models import LegalCategory, Organisation
from grants import open_data_files
from grants.models import Agreement, Grant, OpenDataFile, Tranche
from grants.open_data_files import PAYMENTS_SCHEMA_PATH, SCHEME_SCHEMA_PATH, Table
from grants.services.open_data import open_data_publish, open_data_publish_all, refusal_key
from grants.tasks.open_data import open_data_publish_task
from notifications.models import OutgoingEmail
from tests.factories import CallFactory, OrganisationFactory, close_response, programme_admin
from tests.grants.scdl import schema_errors
from tests.grants.test_exports import award, pay, sign

pytestmark = pytest.mark.django_db

KINDS = OpenDataFile.Kind.values
URL_NAMES = {
    "subventions.csv": "grants:open-data-subsidies-csv",
    "subventions.json": "grants:open-data-subsidies-json",
    "versements.csv": "grants:open-data-payments-csv",
    "versements.json": "grants:open-data-payments-json",
    "dispositif-aide.json": "grants:open-data-scheme-json",
}
LICENCE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"


@pytest.fixture
def published_call() -> tuple[Call, dict[str, Grant]]:
    """Four laureates: a consortium (lead 60 %, partner 40 %, a natural person at 0 %) and a single
    structure, both signed and paid a first tranche; one whose agreement was terminated after a
    payment; one whose agreement awaits signature; and one whose lead is a natural person."""
    call = CallFactory(grantor_siret="13002603200016")
    grants = {
        "consortium": award(call),
        "single": award(call, kind="fnt"),
        "terminated": award(call),
        "unsigned": award(call),
        "person": award(call),
    }
    consortium = grants["consortium"].application
    Member.objects.filter(application=consortium, is_lead=True).update(share_percent=60)
    partner = OrganisationFactory(name="Coopérative des Tiers-Lieux")
    Member.objects.create(application=consortium, organisation=partner, role="Partenaire", share_percent=40)
    category, _created = LegalCategory.objects.get_or_create(
        code="1000", defaults={"label": "Entrepreneur individuel", "family": "company"}
    )
    person = OrganisationFactory(name="Dominique Personne-Physique", legal_category=category)
    Member.objects.create(application=consortium, organisation=person, role="Formatrice", share_percent=0)
    lead = grants["person"].application.members.get(is_lead=True)
    Organisation.objects.filter(pk=lead.organisation_id).update(
        name="Camille Entrepreneur-Individuel", legal_category=category
    )
    sign(grants["consortium"], "CONV-2026-001")
    sign(grants["single"], "CONV-2026-002")
    sign(grants["terminated"], "CONV-2026-003")
    sign(grants["unsigned"], "CONV-2026-004", signed=False)
    sign(grants["person"], "CONV-2026-005")
    for name in ("consortium", "single", "terminated", "person"):
        pay(grants[name], 1)
    Agreement.objects.filter(number="CONV-2026-003").update(status="terminated", terminated_at=timezone.now())
    return Call.objects.get(pk=call.pk), grants


def url(call: Call, kind: str) -> str:
    return reverse(URL_NAMES[kind], kwargs={"open_data_id": call.open_data_id})


def fetch(client: Any, address: str, **headers: str) -> Any:
    response = client.get(address, headers=headers)
    if response.streaming:
        response.body = b"".join(response.streaming_content)
        close_response(response)
    return response


def json_to_csv(data: list[dict[str, Any]], schema_path: Path, path: Path) -> Path:
    names = [field["name"] for field in json.loads(schema_path.read_text(encoding="utf-8"))["fields"]]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for record in data:
            assert list(record) == names  # every column, in the schema's order, nothing else
            writer.writerow(["" if record[name] is None else record[name] for name in names])
    return path


def records(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


# --- the files --------------------------------------------------------------------------------


def test_every_file_validates_against_its_schema_and_is_served_at_its_address(
    client, published_call, tmp_path: Path
):
    call, _grants = published_call
    assert open_data_publish_all(actor=None, calls=[call]) == {"published": 5, "refused": 0}
    bodies = {}
    for kind in KINDS:
        response = fetch(client, url(call, kind))
        assert response.status_code == 200, kind
        assert response["Link"].startswith(f'<{LICENCE}>; rel="license"')
        assert "Licence Ouverte" in response["Link"]
        assert response["ETag"] == f'"{OpenDataFile.objects.get(call=call, kind=kind).sha256}"'
        built = OpenDataFile.objects.get(call=call, kind=kind).built_at
        assert response["Last-Modified"] == http_date(int(built.timestamp()))
        bodies[kind] = response.body
    assert bodies["subventions.csv"].startswith("\ufeff".encode())
    assert fetch(client, url(call, "subventions.csv"))["Content-Type"] == "text/csv; charset=utf-8"
    assert fetch(client, url(call, "versements.json"))["Content-Type"] == "application/json"

    (tmp_path / "subventions.csv").write_bytes(bodies["subventions.csv"])
    assert schema_errors(tmp_path / "subventions.csv") == []
    (tmp_path / "versements.csv").write_bytes(bodies["versements.csv"])
    assert schema_errors(tmp_path / "versements.csv", PAYMENTS_SCHEMA_PATH) == []
    for kind, schema in (
        ("subventions.json", open_data_files.SCHEMA_PATH),
        ("versements.json", PAYMENTS_SCHEMA_PATH),
        ("dispositif-aide.json", SCHEME_SCHEMA_PATH),
    ):
        document = json.loads(bodies[kind])
        assert document["licence"]["url"] == LICENCE and document["licence"]["identifiant"] == "etalab-2.0"
        assert document["dispositifAide"] == str(call.open_data_id)
        built = OpenDataFile.objects.get(call=call, kind=kind).built_at
        assert document["date"] == built.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert schema_errors(json_to_csv(document["data"], schema, tmp_path / f"{kind}.csv"), schema) == []

    payments_schema = json.loads(bodies["versements.json"])["schema"]
    assert payments_schema == {
        "nom": "versements-fabriques-de-territoires",
        "version": "1.0.0",
        "url": settings.SITE_URL + reverse("grants:open-data-payments-schema"),
    }
    assert json.loads(bodies["dispositif-aide.json"])["schema"]["version"] == "v0.2.0"

    # The JSON holds the CSV's rows, cell for cell (an empty cell as null).
    as_json = json.loads(bodies["subventions.json"])["data"]
    as_csv = records(bodies["subventions.csv"])
    assert [{k: v or None for k, v in row.items()} for row in as_csv] == as_json


def test_the_files_carry_the_calls_identifier_and_only_agreements_in_force_or_completed(
    client, published_call
):
    call, grants = published_call
    Agreement.objects.filter(number="CONV-2026-002").update(status="completed")
    open_data_publish_all(actor=None, calls=[call])
    subsidies = records(fetch(client, url(call, "subventions.csv")).body)
    assert [(row["referenceDecision"], row["pourcentageSubvention"]) for row in subsidies] == [
        ("CONV-2026-001", "0.60"),
        ("CONV-2026-001", "0.40"),
        ("CONV-2026-002", "1.00"),
    ]
    assert {row["dispositifAide"] for row in subsidies} == {str(call.open_data_id)}

    payments = records(fetch(client, url(call, "versements.csv")).body)
    tranche = Tranche.objects.get(grant=grants["consortium"], year_index=1)
    lead = grants["consortium"].application.members.get(is_lead=True).organisation
    assert payments[0] == {
        "dispositifAide": str(call.open_data_id),
        "referenceDecision": "CONV-2026-001",
        "idAttribuant": "13002603200016",
        "nomBeneficiaire": lead.name,
        "idBeneficiaire": lead.siret,
        "annee": "1",
        "dateVersement": tranche.paid_on.isoformat(),
        "montant": format(tranche.amount.quantize(Decimal("0.01")), "f"),
    }
    # Terminated (CONV-2026-003), unsigned (004) and a natural person's (005): none of them.
    assert [row["referenceDecision"] for row in payments] == ["CONV-2026-001", "CONV-2026-002"]

    scheme = json.loads(fetch(client, url(call, "dispositif-aide.json")).body)["data"]
    assert len(scheme) == 1 and scheme[0]["id"] == str(call.open_data_id)
    assert scheme[0]["titre"] == call.title
    assert scheme[0]["cibles"] == "associations|professionnels|secteur public"
    assert json.loads(scheme[0]["porteurs"]) == [
        {"nom": call.grantor_name, "roles": ["financeur", "instructeur"], "siren": "130026032"}
    ]

    every = b"".join(fetch(client, url(call, kind)).body for kind in KINDS).decode("utf-8")
    assert "Personne-Physique" not in every and "Entrepreneur-Individuel" not in every
    assert "@" not in every  # no e-mail address
    for grant in grants.values():
        creator = grant.application.created_by
        assert creator.last_name not in every


def test_the_identifier_is_drawn_once_and_the_addresses_outlive_a_new_slug_and_title(client, published_call):
    call, _grants = published_call
    identifier = call.open_data_id
    assert isinstance(identifier, uuid.UUID)
    assert CallFactory().open_data_id != identifier  # one per call
    assert not Call._meta.get_field("open_data_id").editable  # in no form, the admin's included
    open_data_publish_all(actor=None, calls=[call])
    before = {kind: url(call, kind) for kind in KINDS}
    assert before["subventions.csv"] == f"/donnees-ouvertes/{identifier}/subventions.csv"

    call.slug, call.title = "appel-renomme", "Appel renommé"
    call.save()
    call.refresh_from_db()
    assert call.open_data_id == identifier
    open_data_publish_all(actor=None, calls=[call])
    assert {kind: url(call, kind) for kind in KINDS} == before
    body = fetch(client, before["subventions.json"]).body
    assert "Appel renommé" in body.decode("utf-8")


def test_a_second_request_gets_a_304_while_the_file_has_not_changed(client, published_call):
    call, _grants = published_call
    open_data_publish_all(actor=None, calls=[call])
    first = fetch(client, url(call, "versements.csv"))
    again = client.get(url(call, "versements.csv"), headers={"if-none-match": first["ETag"]})
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    since = client.get(url(call, "versements.csv"), headers={"if-modified-since": first["Last-Modified"]})
    assert since.status_code == 304


def test_a_file_not_published_yet_or_of_a_call_in_preparation_is_a_404(client, published_call):
    call, _grants = published_call
    assert client.get(url(call, "subventions.csv")).status_code == 404
    open_data_publish_all(actor=None, calls=[call])
    Call.objects.filter(pk=call.pk).update(status=Call.Status.DRAFT)
    assert client.get(url(call, "subventions.csv")).status_code == 404
    assert client.get(f"/donnees-ouvertes/{uuid.uuid4()}/subventions.csv").status_code == 404


# --- refusals ---------------------------------------------------------------------------------


def test_a_build_its_schema_refuses_is_not_published_and_the_previous_file_stays(
    client, published_call, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    call, _grants = published_call
    programme_admin()
    with django_capture_on_commit_callbacks(execute=True):
        assert open_data_publish(call=call, kind="versements.csv", actor=None)
    record = OpenDataFile.objects.get(call=call, kind="versements.csv")
    served = fetch(client, url(call, "versements.csv")).body

    def broken(call: Call) -> Table:
        header = tuple(f["name"] for f in json.loads(PAYMENTS_SCHEMA_PATH.read_text())["fields"])
        row = [str(call.open_data_id), "CONV-X", "13002603200016", "X", "41816609600051", 1, "hier", "dix"]
        return Table(header, [row])

    monkeypatch.setitem(open_data_files.TABLES, "versements.csv", lambda call, now: broken(call))
    with caplog.at_level(logging.ERROR, logger="grants.services.open_data"):
        with django_capture_on_commit_callbacks(execute=True):
            assert not open_data_publish(call=call, kind="versements.csv", actor=None)
    assert "versements.csv" in caplog.text and "refused" in caplog.text

    assert OpenDataFile.objects.get(call=call, kind="versements.csv").sha256 == record.sha256
    assert default_storage.exists(record.stored_name)
    assert fetch(client, url(call, "versements.csv")).body == served  # the previous file, whole
    refusal = AuditEvent.objects.get(action="open_data.refused")
    assert refusal.data["file"] == "versements.csv" and refusal.data["problems"] == 2
    assert {tuple(p)[1:3] for p in refusal.data["first"]} == {
        ("dateVersement", "type-error"),
        ("montant", "type-error"),
    }
    email = OutgoingEmail.objects.get(key=refusal_key(call, "versements.csv", timezone.localdate()))
    assert "n'a pas été publié" in email.body and "reste en ligne" in email.body
    assert "versements.csv" in email.subject


def test_a_bad_beneficiary_siret_or_a_missing_grantor_siret_is_refused_too(client, published_call):
    call, grants = published_call
    open_data_publish_all(actor=None, calls=[call])
    published = {r.kind: r.sha256 for r in OpenDataFile.objects.filter(call=call)}
    lead = grants["single"].application.members.get(is_lead=True).organisation
    Organisation.objects.filter(pk=lead.pk).update(siret="12345678901234")  # a wrong check digit
    assert not open_data_publish(call=call, kind="versements.json", actor=None)
    assert not open_data_publish(call=call, kind="subventions.csv", actor=None)
    Call.objects.filter(pk=call.pk).update(grantor_siret="")
    call.refresh_from_db()
    assert open_data_publish_all(actor=None, calls=[call]) == {
        "published": 1,
        "refused": 4,
    }  # the scheme still goes
    assert {r.kind: r.sha256 for r in OpenDataFile.objects.filter(call=call)} | {
        "dispositif-aide.json": published["dispositif-aide.json"]
    } == published
    refusals = AuditEvent.objects.filter(action="open_data.refused", data__file="subventions.csv")
    assert [event.data["first"][0][2] for event in refusals.order_by("pk")] == [
        "french-siret-value",  # the beneficiary's SIRET, by the check its schema names
        "open-data-error",  # no grantor's SIRET: refused before a row is written
    ]
    with pytest.raises(CommandError, match="4 refusé"):
        call_command("publish_open_data", "--call", call.slug)


# --- the beat task ----------------------------------------------------------------------------


def test_the_daily_beat_task_rebuilds_the_files_with_the_new_payments(
    client, published_call, django_capture_on_commit_callbacks
):
    entry = settings.CELERY_BEAT_SCHEDULE["open-data-publish"]
    assert entry["task"] == open_data_publish_task.name == "grants.tasks.open_data_publish_task"
    assert isinstance(entry["schedule"], crontab) and entry["schedule"].hour == {5}
    call, grants = published_call
    Call.objects.update(grantor_siret="13002603200016")  # the seeded call's too: nothing refused
    files = 5 * Call.objects.exclude(status=Call.Status.DRAFT).count()
    with django_capture_on_commit_callbacks(execute=True):
        assert open_data_publish_task.apply().get() == {"published": files, "refused": 0}
    first = OpenDataFile.objects.get(call=call, kind="versements.csv")
    old = fetch(client, url(call, "versements.csv"))
    assert len(records(old.body)) == 2

    pay(grants["consortium"], 2)
    OpenDataFile.objects.filter(pk=first.pk).update(built_at=first.built_at - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        open_data_publish_task.apply().get()
    new = fetch(client, url(call, "versements.csv"), **{"if-none-match": old["ETag"]})
    assert new.status_code == 200 and new["ETag"] != old["ETag"]
    assert [row["annee"] for row in records(new.body) if row["referenceDecision"] == "CONV-2026-001"] == [
        "1",
        "2",
    ]
    latest = OpenDataFile.objects.get(call=call, kind="versements.csv")
    assert latest.built_at > first.built_at
    assert not default_storage.exists(first.stored_name)  # the replaced file, deleted after commit
    published = AuditEvent.objects.filter(action="open_data.published", target_id=str(call.pk))
    assert published.filter(data__file="versements.csv").count() == 2


def test_publish_open_data_command_publishes_a_calls_files(published_call):
    call, _grants = published_call
    other = CallFactory()
    call_command("publish_open_data", "--call", call.slug)
    assert set(OpenDataFile.objects.filter(call=call).values_list("kind", flat=True)) == set(KINDS)
    assert not OpenDataFile.objects.filter(call=other).exists()


# --- the public page --------------------------------------------------------------------------


def test_the_public_page_lists_the_files_with_their_date_and_licence(
    client, published_call, django_assert_max_num_queries
):
    call, _grants = published_call
    CallFactory(title="Appel sans fichier")
    open_data_publish_all(actor=None, calls=[call])
    with django_assert_max_num_queries(6):
        response = client.get(reverse("grants:open-data"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Licence Ouverte / Open Licence version 2.0" in html and LICENCE in html
    for kind in KINDS:
        assert f'href="{url(call, kind)}"' in html
    record = OpenDataFile.objects.get(call=call, kind="subventions.csv")
    assert f'datetime="{record.built_at.astimezone(timezone.get_current_timezone()).isoformat()}"' in html
    assert str(call.open_data_id) in html
    assert "Appel sans fichier" in html and "Aucun fichier publié pour le moment." in html
    summary = client.get(reverse("grants:public-summary", args=[call.slug])).content.decode()
    assert f'href="{reverse("grants:open-data")}#appel-{call.open_data_id}"' in summary
    schema = client.get(reverse("grants:open-data-payments-schema"))
    assert json.loads(b"".join(schema.streaming_content))["name"] == "versements-fabriques-de-territoires"
    close_response(schema)
