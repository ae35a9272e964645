"""Every kind of legal document, rendered and read back: tagged PDF/UA, and the State's identity.

The contexts are built here by their TypedDicts (the shapes the services freeze in the document
rows), so that no test needs the database: what is checked is the template and the renderer.
Tagging: a structure tree, /MarkInfo /Marked true, /Lang fr, the <title> as /Title shown instead of
the file name (DisplayDocTitle), the PDF/UA identification in the XMP metadata. Identity: the
documents the State signs print the bloc-marque with the call's issuer and are set in Marianne;
the others (receipt, payment request) keep the system fonts and no bloc-marque.
"""

import io
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pypdf
import pytest
from pypdf.generic import BooleanObject

from applications.models.calls import Letterhead
from applications.services.submission import ReceiptContext
from grants.services.document_contexts import (
    AgreementContext,
    AmendmentContext,
    AwardLetterContext,
    ClosingLetterContext,
    PaymentRequestContext,
    RefusalLetterContext,
    TerminationContext,
)
from notifications.pdf import StaticFilesFetcher, render_pdf

NBSP = "\u00a0"  # core.formatting.NBSP, what format_money and format_percent put
GRANTOR = "Préfecture de la région Occitanie"


def letterhead() -> Letterhead:
    return {
        "grantor_name": GRANTOR,
        "grantor_siret": "313 131 313 00013",
        "grantor_represented": "représentée par",
        "grantor_designated": "ci-après désignée",
        "grantor_representative": "le préfet de la région Occitanie",
        "signatory_name": "Camille Durand",
        "signatory_title": "Pour le préfet de région et par délégation, la secrétaire générale",
        "signature_place": "Toulouse",
    }


AMOUNT = f"150{NBSP}000{NBSP}€"
RECALL: dict[str, Any] = {
    "number": "2026-0042",
    "agreement_date": "12 mars 2026",
    "call": "Fabriques de territoires 2026",
    "reference": "FAB-2026-00042",
    "title": "Tiers-lieu de la Fabrique à Sète",
    "beneficiary_name": "Association Les Œuvres Communes",
    "beneficiary_siret": "123 456 789 00012",
    "beneficiary_address": "1 rue de l’Église, 34200 Sète",
    "commitment_number": "2100123456",
}
LETTER: dict[str, Any] = {
    "reference": RECALL["reference"],
    "title": RECALL["title"],
    "call": RECALL["call"],
    "date": "5 décembre 2026",
    "lead_name": RECALL["beneficiary_name"],
    "lead_siret": RECALL["beneficiary_siret"],
    "lead_address": RECALL["beneficiary_address"],
}
TRANCHES = [{"year": 1, "amount": f"50{NBSP}000{NBSP}€"}, {"year": 2, "amount": f"100{NBSP}000{NBSP}€"}]


def award() -> AwardLetterContext:
    return {**letterhead(), **LETTER, "amount": AMOUNT, "bonus": "", "duration": 2, "tranches": TRANCHES}


def refusal() -> RefusalLetterContext:
    return {**letterhead(), **LETTER, "reasons": ["Projet hors du périmètre de l’appel."]}


def closing() -> ClosingLetterContext:
    return {
        **letterhead(),
        **LETTER,
        "reasons": ["Délai de compléments dépassé."],
        "corrections_due_on": "1 décembre 2026",
    }


def agreement() -> AgreementContext:
    return {
        **letterhead(),
        **{key: RECALL[key] for key in ("number", "call", "reference", "title")},
        "beneficiary_name": RECALL["beneficiary_name"],
        "beneficiary_siret": RECALL["beneficiary_siret"],
        "beneficiary_address": RECALL["beneficiary_address"],
        "beneficiary_category": "Association",
        "representative_name": "Dominique Martin",
        "representative_title": "Présidente",
        "partners": [
            {
                "name": "Coopérative Kanopé",
                "siret": "987 654 321 00034",
                "role": "Partenaire",
                "share": f"40{NBSP}%",
            }
        ],
        "date": "5 décembre 2026",
        "summary": "Un lieu ouvert à tous, où l’on répare et l’on apprend.",
        "kind": "Tiers-lieu",
        "duration": 2,
        "amount": AMOUNT,
        "bonus": "",
        "total": AMOUNT,
        "max_per_year": f"100{NBSP}000{NBSP}€",
        "tranches": TRANCHES,
        "payment_delay_days": 30,
    }


def amendment() -> AmendmentContext:
    return {
        **letterhead(),
        **RECALL,
        "amendment_number": 1,
        "date": "5 décembre 2026",
        "reason": ["Projet resserré."],
        "previous_amount": AMOUNT,
        "new_amount": f"120{NBSP}000{NBSP}€",
        "bonus": "",
        "duration": 2,
        "tranches": [{"year": 1, "previous": f"50{NBSP}000{NBSP}€", "amount": f"50{NBSP}000{NBSP}€"}],
        "representative_name": "Dominique Martin",
        "representative_title": "Présidente",
    }


def termination() -> TerminationContext:
    return {
        **letterhead(),
        **RECALL,
        "date": "5 décembre 2026",
        "reason": ["Activité arrêtée."],
        "paid": f"50{NBSP}000{NBSP}€",
        "released": f"50{NBSP}000{NBSP}€",
        "clawback": f"0{NBSP}€",
        "cancelled": [{"year": 2, "amount": f"100{NBSP}000{NBSP}€"}],
    }


def payment_request() -> PaymentRequestContext:
    return {
        **letterhead(),
        **{key: RECALL[key] for key in ("reference", "title", "call")},
        "date": "5 décembre 2026",
        "beneficiary_name": RECALL["beneficiary_name"],
        "beneficiary_siret": RECALL["beneficiary_siret"],
        "beneficiary_address": RECALL["beneficiary_address"],
        "iban": "FR76 3000 6000 0112 3456 7890 189",
        "year": 1,
        "years": 2,
        "amount": f"50{NBSP}000{NBSP}€",
        "grant_amount": AMOUNT,
        "paid_before": f"0{NBSP}€",
        "agreement_number": RECALL["number"],
        "commitment_number": RECALL["commitment_number"],
        "pay_by": "4 janvier 2027",
        "requested_by": "Dominique Martin",
        "requested_by_email": "dominique@example.org",
    }


def receipt() -> ReceiptContext:
    return {
        **letterhead(),
        **{key: RECALL[key] for key in ("reference", "title", "call")},
        "kind": "Tiers-lieu",
        "wave": "",
        "submitted_at": "5 décembre 2026 à 10 h 15",
        "date": "5 décembre 2026",
        "resubmission": False,
        "submitted_by": "Dominique Martin",
        "members": [
            {
                "name": RECALL["beneficiary_name"],
                "siret": RECALL["beneficiary_siret"],
                "role": "Porteur",
                "lead": True,
                "share": f"60{NBSP}%",
            }
        ],
        "budget": [{"year": 1, "requested": AMOUNT, "other_funding": f"0{NBSP}€", "total_cost": AMOUNT}],
        "totals": {"requested": AMOUNT, "other_funding": f"0{NBSP}€", "total_cost": AMOUNT},
        "documents": [{"label": "Statuts", "name": "statuts.pdf", "size": 1024, "sha256": "ab" * 32}],
    }


# kind: (template, context, title, signed by the State)
DOCUMENTS: dict[str, tuple[str, Callable[[], Any], str, bool]] = {
    "award": ("pdf/decision_award.html", award, "Décision d’attribution – dossier FAB-2026-00042", True),
    "refusal": ("pdf/decision_refusal.html", refusal, "Décision de refus – dossier FAB-2026-00042", True),
    "closing": ("pdf/decision_closed.html", closing, "Classement sans suite – dossier FAB-2026-00042", True),
    "agreement": ("pdf/agreement.html", agreement, "Convention n° 2026-0042", True),
    "amendment": ("pdf/amendment.html", amendment, "Avenant n° 1 à la convention n° 2026-0042", True),
    "termination": (
        "pdf/agreement_termination.html",
        termination,
        "Résiliation de la convention n° 2026-0042",
        True,
    ),
    "payment_request": (
        "pdf/payment_request.html",
        payment_request,
        "Demande de versement – dossier FAB-2026-00042, année 1",
        False,
    ),
    "receipt": ("pdf/receipt.html", receipt, "Accusé de réception FAB-2026-00042", False),
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    """Each kind rendered once for the module (rendering is the slow part)."""
    return {
        kind: render_pdf(template, build()) for kind, (template, build, _title, _state) in DOCUMENTS.items()
    }


def fonts_of(reader: pypdf.PdfReader) -> set[str]:
    return {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }


@pytest.mark.parametrize("kind", DOCUMENTS)
def test_every_document_is_a_tagged_pdf_ua_with_its_language_and_title(rendered: dict[str, bytes], kind: str):
    reader = pypdf.PdfReader(io.BytesIO(rendered[kind]))
    catalog = reader.trailer["/Root"]
    title = DOCUMENTS[kind][2]

    assert "/StructTreeRoot" in catalog
    assert catalog["/StructTreeRoot"].get_object()["/K"]  # a tree with content, not an empty root
    assert catalog["/MarkInfo"]["/Marked"] == BooleanObject(True)
    assert catalog["/Lang"] == "fr"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"] == BooleanObject(True)
    assert reader.metadata is not None and reader.metadata.title == title
    # PDF/UA-1: the XMP metadata names the standard and repeats the title.
    xmp = catalog["/Metadata"].get_object().get_data().decode()
    assert "pdfuaid:part" in xmp and re.search(r"pdfuaid:part[^0-9]*1", xmp)
    assert title in xmp
    # Every page's content is marked and linked to the structure tree.
    for page in reader.pages:
        assert "/StructParents" in page


@pytest.mark.parametrize("kind", DOCUMENTS)
def test_the_documents_the_state_signs_carry_the_bloc_marque_and_marianne(
    rendered: dict[str, bytes], kind: str
):
    state = DOCUMENTS[kind][3]
    reader = pypdf.PdfReader(io.BytesIO(rendered[kind]))
    # Layout spaces folded, no-break spaces kept (str.split() would fold them too).
    text = re.sub(r"[ \n\t]+", " ", reader.pages[0].extract_text())
    fonts = fonts_of(reader)

    assert GRANTOR in text
    if kind == "award":
        assert f"d’un montant total de {AMOUNT} sur une durée de 2 ans" in text  # no-break spaces kept
    if state:
        assert text.startswith("RÉPUBLIQUE FRANÇAISE Liberté Égalité Fraternité"), text[:120]
        assert text.index("FRANÇAISE") < text.index(GRANTOR)
        assert {name.split("+")[-1] for name in fonts} >= {"Marianne", "Marianne-Bold"}, fonts
        assert all("Marianne" in name for name in fonts), fonts  # no character left to a fallback
    else:
        assert "RÉPUBLIQUE" not in text
        assert not any("Marianne" in name for name in fonts), fonts
        assert all("DejaVu" in name or "Liberation" in name for name in fonts), fonts


def pypdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def pdftotext_text(pdf: bytes) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("needs poppler-utils' pdftotext (the pypdf reading runs everywhere)")
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


@pytest.mark.parametrize("extract", [pypdf_text, pdftotext_text], ids=["pypdf", "pdftotext"])
@pytest.mark.parametrize("kind", ["award", "agreement", "amendment", "termination", "refusal", "closing"])
def test_text_set_in_marianne_extracts_with_its_accents_ligatures_and_amounts(
    rendered: dict[str, bytes], kind: str, extract: Callable[[bytes], str]
):
    """Marianne kerns and swaps glyphs in context (calt): copy and search must still see the text.

    (It has no « fi » ligature today; the check guards against a face or a setting that adds one.)
    """
    # pdftotext prints no-break spaces as spaces (pypdf keeps them: see the test above).
    flat = re.sub(r"[ \n\u00a0]+", " ", extract(rendered[kind]))

    assert "RÉPUBLIQUE" in flat and "FRANÇAISE" in flat
    assert GRANTOR in flat
    assert "Association Les Œuvres Communes" in flat
    assert "1 rue de l’Église, 34200 Sète" in flat
    assert "ﬁ" not in flat and "ﬀ" not in flat and "ﬂ" not in flat  # ligatures read back as letters
    if kind in ("award", "agreement"):
        assert "Sur demande du bénéficiaire" in flat
    if kind == "award":
        assert "150 000 €" in flat
        assert "fonctionnement d’un montant total de" in flat
        assert "subvention" in flat and "attribuée" in flat
    if kind == "agreement":
        assert "40 %" in flat
        assert "Convention d’attribution d’une subvention de fonctionnement" in flat
    if kind == "refusal":
        assert "Projet hors du périmètre de l’appel." in flat
    if kind == "closing":
        assert "à déposer avant le 1 décembre 2026. Ils ne l’ont pas été dans ce délai." in flat
        assert "Délai de compléments dépassé." in flat


def test_the_fonts_and_the_stylesheet_are_loaded_once_not_at_each_rendering(monkeypatch: pytest.MonkeyPatch):
    """The Marianne faces are fetched and decoded on the first rendering of the process only."""
    render_pdf("pdf/decision_award.html", award())  # the process's first rendering, if not done yet
    fetched: list[str] = []
    original = StaticFilesFetcher.fetch

    def counting_fetch(self: StaticFilesFetcher, url: str, headers: Any = None) -> Any:
        fetched.append(url)
        return original(self, url, headers)

    monkeypatch.setattr(StaticFilesFetcher, "fetch", counting_fetch)

    pdf = render_pdf("pdf/decision_award.html", award())

    assert fetched == []
    fonts = fonts_of(pypdf.PdfReader(io.BytesIO(pdf)))
    assert {name.split("+")[-1] for name in fonts} >= {"Marianne", "Marianne-Bold"}, fonts


def test_the_fetcher_serves_the_marianne_faces_of_django_dsfr():
    response = StaticFilesFetcher().fetch("static:///static/dsfr/dist/fonts/Marianne-Regular.woff2")

    assert response.read()[:4] == b"wOF2"
