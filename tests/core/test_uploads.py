"""core.uploads: the one pipeline every upload service calls, tested without any service."""

import io

import pytest
from django.core.exceptions import ValidationError

from core.uploads import CheckedUpload, UploadFileField, check_upload, sanitise_filename
from tests.factories import PDF_BYTES, PNG_BYTES

BAD_TYPE = "« %(name)s » refusé (formats : %(formats)s)"


def _check(content: bytes, name: str = "piece.pdf", **options: object) -> CheckedUpload:
    settings: dict[str, object] = {"max_size_mb": 1, "extensions": ("pdf", "png"), "bad_type": BAD_TYPE}
    settings.update(options)
    return check_upload(io.BytesIO(content), name, **settings)  # type: ignore[arg-type]


def test_a_pdf_passes_with_its_sanitised_name_content_and_type() -> None:
    upload = _check(PDF_BYTES, "../../dossier/mon rapport.pdf")
    assert (upload.name, upload.content, upload.mime) == ("mon_rapport.pdf", PDF_BYTES, "application/pdf")


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "vide.pdf", "Le fichier « vide.pdf » est vide."),
        (
            PDF_BYTES + b"%" + b"0" * (1024 * 1024),
            "gros.pdf",
            "dépasse la taille maximale de 1 Mo",
        ),
        (PNG_BYTES, "image.pdf", "« image.pdf » refusé (formats : PDF, PNG)"),
        (PDF_BYTES, "texte.txt", "« texte.txt » refusé (formats : PDF, PNG)"),
    ],
)
def test_a_refusal_names_the_file_under_the_callers_field(content: bytes, name: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _check(content, name, field="piece")
    assert list(refused.value.error_dict) == ["piece"]
    assert message in refused.value.message_dict["piece"][0]


def test_a_png_under_its_own_name_passes_when_the_caller_takes_images() -> None:
    assert _check(PNG_BYTES, "plan.png").mime == "image/png"
    with pytest.raises(ValidationError):
        _check(PNG_BYTES, "plan.png", extensions=("pdf",))


def test_a_long_name_keeps_its_extension() -> None:
    name = sanitise_filename("r" * 300 + ".pdf")
    assert len(name) == 150 and name.endswith(".pdf")


def test_the_form_field_refuses_a_name_too_long_in_french() -> None:
    field = UploadFileField()
    assert field.max_length == 200
    assert "dépasse %(max)d caractères" in str(field.error_messages["max_length"])
