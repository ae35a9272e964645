"""devtools.builders: the benchmarks' dossier and the factories' are built by the same code."""

import pytest
from stdnum.fr import siret

from applications.models import Application
from applications.services import application_submit
from devtools.builders import make_siret
from tests.factories import CallFactory, complete_application

pytestmark = pytest.mark.django_db


def _documents(call: object) -> list[tuple[str, bool, str, list[str]]]:
    return [
        (document.code, document.mandatory, document.allowed_formats, document.families)
        for document in call.required_documents.order_by("position")  # type: ignore[attr-defined]
    ]


def test_the_benchmarks_call_has_the_factories_figures_and_documents():
    from bench.data import bench_call

    bench = bench_call("mesure-builders")
    factory = CallFactory()
    figures = [
        "envelope",
        "target_count",
        "min_award",
        "max_award",
        "max_per_year",
        "duration_years",
        "fnt_bonus",
    ]
    assert [getattr(bench, name) for name in figures] == [getattr(factory, name) for name in figures]
    assert _documents(bench) == _documents(factory)
    assert [code for code, *_ in _documents(bench)] == ["statuts", "rib", "soutiens", "cer", "deliberation"]


def test_the_benchmarks_draft_is_submittable_like_the_factories_one():
    from bench.data import bench_call, complete_draft

    measured = complete_draft(bench_call("mesure-builders"), 7)
    tested = complete_application()
    for application in (measured, tested):
        application_submit(application=application, actor=application.created_by)
        application.refresh_from_db()
        assert application.status == Application.Status.SUBMITTED
        assert sorted(application.attachments.values_list("required_document__code", flat=True)) == [
            "cer",
            "rib",
            "statuts",
        ]
        assert application.budget_years.filter(requested=50000, total_cost=90000).count() == 3
    # Both valid, never the same: the benchmarks' SIRETs start with 8, the tests' with 9.
    sirets = [application.members.get(is_lead=True).organisation.siret for application in (measured, tested)]
    assert all(siret.is_valid(number) for number in sirets)
    assert [number[0] for number in sirets] == ["8", "9"]
    assert measured.places.get().name == "La Bobine n° 7" and tested.places.get().name == "La Bobine"


def test_a_siret_keeps_fourteen_valid_digits_whatever_the_number():
    for n in (0, 7, 9_999_999, 15_000_007, 123_456_789_012):
        number = make_siret(n, first_digit="8")
        assert len(number) == 14 and siret.is_valid(number), n
