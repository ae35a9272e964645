"""notifications.pdf and the PDF templates: what goes into the file, and what the renderer may fetch.

No test here is marked django_db: rendering a PDF must not touch the database.
"""

import copy
import io
from pathlib import Path

import pypdf
import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.core.management import call_command

from notifications.pdf import ForbiddenResource, StaticFilesFetcher, render_pdf

SPECIMEN = "pdf/specimen.html"


def pdf_pages(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def pdf_text(pdf: bytes) -> str:
    return "\n".join(pdf_pages(pdf))


def specimen_context(**overrides: str) -> dict[str, str]:
    return {"reference": "CONTROLE-TEST-0042", "generated_at": "26/11/2026 10:15:00 CET", **overrides}


@pytest.fixture
def extra_templates(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """A folder searched before templates/, for templates written by a test."""
    folder = tmp_path / "templates"
    folder.mkdir()
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(folder), *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    return folder


@pytest.fixture
def extra_static(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """A static files folder of the test's own, searched before the project's."""
    folder = tmp_path / "static"
    folder.mkdir()
    settings.STATICFILES_DIRS = [str(folder), *settings.STATICFILES_DIRS]
    return folder


# --- The templates ------------------------------------------------------------------------------


def test_the_specimen_is_a_one_page_pdf_with_its_title_reference_date_and_page_footer():
    pages = pdf_pages(render_pdf(SPECIMEN, specimen_context()))

    assert len(pages) == 1
    text = pages[0]
    assert "Document de contrôle" in text
    assert "CONTROLE-TEST-0042" in text
    assert "26/11/2026 10:15:00 CET" in text
    assert "web → file d’attente → worker → WeasyPrint" in " ".join(text.split())
    assert "Page 1 sur 1" in text
    # The sender block of the base layout, with its default sender.
    assert "Fabriques de territoires" in text


def test_html_in_context_values_is_printed_as_text_not_interpreted():
    pdf = render_pdf(
        SPECIMEN,
        specimen_context(reference="<script>alert('x')</script><b>gras</b>", generated_at="<i>hier</i>"),
    )

    text = pdf_text(pdf)
    assert "<script>alert('x')</script><b>gras</b>" in text
    assert "<i>hier</i>" in text


def test_a_sender_given_in_the_context_replaces_the_default_sender_and_is_escaped():
    pdf = render_pdf(SPECIMEN, specimen_context(sender="Préfecture de la région <Occitanie>\nToulouse"))

    text = pdf_text(pdf)
    assert "Préfecture de la région <Occitanie>" in text
    assert "Toulouse" in text
    assert "Portail de l’appel à manifestation d’intérêt" not in text


def test_the_base_layout_numbers_every_page_out_of_the_total(extra_templates: Path):
    (extra_templates / "long.html").write_text(
        '{% extends "pdf/base.html" %}{% block title %}Long{% endblock %}{% block content %}'
        "{% for line in lines %}<p>{{ line }}</p>{% endfor %}{% endblock %}",
        encoding="utf-8",
    )

    pages = pdf_pages(render_pdf("long.html", {"lines": [f"Ligne {n}" for n in range(200)]}))

    total = len(pages)
    assert total >= 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} sur {total}" in text
    assert "Ligne 0" in pages[0] and "Ligne 199" in pages[-1]


def test_the_text_is_set_in_the_system_fonts_embedded_in_the_file():
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(SPECIMEN, specimen_context())))

    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts
    for name in fonts:
        assert "DejaVu" in name or "Liberation" in name, fonts


# --- What the renderer may fetch ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.invalid/logo.png",
        "https://example.invalid/style.css",
        "file:///etc/hostname",
        "ftp://example.invalid/logo.png",
        "data:text/css,p{color:red}",
        "/etc/hostname",
        # The path names a real static file: only the scheme makes these refused.
        "file:///static/admin/css/base.css",
        "http://example.invalid/static/admin/css/base.css",
        "admin/css/base.css",
    ],
)
def test_the_fetcher_refuses_anything_but_static_urls(url: str):
    with pytest.raises(ForbiddenResource):
        StaticFilesFetcher().fetch(url)


def test_the_fetcher_refuses_a_static_name_that_is_not_a_static_file():
    with pytest.raises(ForbiddenResource):
        StaticFilesFetcher().fetch("static:///static/css/does-not-exist-anywhere.css")


@pytest.mark.parametrize("url", ["static:///../../../../etc/hostname", "static:///static/../../etc/hostname"])
def test_the_fetcher_refuses_to_leave_the_static_folders(url: str):
    with pytest.raises((ForbiddenResource, SuspiciousFileOperation)):
        StaticFilesFetcher().fetch(url)


def test_the_fetcher_serves_the_bytes_of_a_real_static_file():
    expected = Path(finders.find("admin/css/base.css")).read_bytes()

    for url in ("static:///static/admin/css/base.css", "static:///admin/css/base.css"):
        response = StaticFilesFetcher().fetch(url)
        assert response.read() == expected
        assert response.headers["Content-Type"] == "text/css"


def test_a_static_stylesheet_is_served_to_the_renderer_and_applied(extra_templates: Path, extra_static: Path):
    (extra_static / "pdf-test").mkdir()
    (extra_static / "pdf-test" / "marker.css").write_text(
        'h1::after { content: " STYLE-STATIQUE-APPLIQUE"; }', encoding="utf-8"
    )
    (extra_templates / "styled.html").write_text(
        '<html><head><link rel="stylesheet" href="static:///static/pdf-test/marker.css"></head>'
        "<body><h1>Titre</h1></body></html>",
        encoding="utf-8",
    )

    assert "Titre STYLE-STATIQUE-APPLIQUE" in pdf_text(render_pdf("styled.html", {}))


def test_a_stylesheet_referenced_with_the_static_tag_is_applied(extra_templates: Path, extra_static: Path):
    (extra_static / "pdf-test").mkdir()
    (extra_static / "pdf-test" / "marker.css").write_text(
        'h1::after { content: " STYLE-STATIQUE-APPLIQUE"; }', encoding="utf-8"
    )
    (extra_templates / "styled.html").write_text(
        '{% load static %}<html><head><link rel="stylesheet" href="{% static "pdf-test/marker.css" %}">'
        "</head><body><h1>Titre</h1></body></html>",
        encoding="utf-8",
    )

    assert "Titre STYLE-STATIQUE-APPLIQUE" in pdf_text(render_pdf("styled.html", {}))


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="http://example.invalid/logo.png">',
        '<img src="file:///etc/hostname">',
        '<link rel="stylesheet" href="https://example.invalid/style.css">',
        '<style>@import url("file:///etc/hostname");</style>',
        "<style>@font-face { font-family: X; src: url(http://example.invalid/x.woff); } p { font-family: X; }"
        "</style><p>x</p>",
    ],
)
def test_a_template_asking_for_a_remote_or_local_file_stops_the_rendering(extra_templates: Path, markup: str):
    (extra_templates / "remote.html").write_text(f"<html><body>{markup}</body></html>", encoding="utf-8")

    with pytest.raises(ForbiddenResource):
        render_pdf("remote.html", {})


def test_render_pdf_reports_a_refused_resource_as_forbidden_resource(extra_templates: Path):
    (extra_templates / "remote.html").write_text(
        '<html><body><img src="http://example.invalid/logo.png"></body></html>', encoding="utf-8"
    )

    with pytest.raises(ForbiddenResource):
        render_pdf("remote.html", {})


# --- The operators' command ---------------------------------------------------------------------


def test_render_specimen_writes_the_specimen_where_asked_and_says_where_and_how_big(tmp_path: Path):
    output = tmp_path / "controle.pdf"
    out = io.StringIO()

    call_command("render_specimen", "--output", str(output), stdout=out)

    pdf = output.read_bytes()
    text = pdf_text(pdf)
    assert "Document de contrôle" in text
    assert "CONTROLE-" in text
    assert str(output) in out.getvalue()
    assert f"{len(pdf)} octets" in out.getvalue()
