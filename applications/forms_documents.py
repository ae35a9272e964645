"""The upload form of a supporting document: one per required document, each with its prefix."""

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applications.models import RequiredDocument
from core.uploads import UploadFileField


def document_prefix(document_id: int | str) -> str:
    """The prefix of a document's form: its fields and error links never clash with another's."""
    return f"doc-{document_id}"


def accepted_formats_hint(document: RequiredDocument) -> str:
    return gettext("Formats acceptés : %(formats)s. Taille maximale : %(size)d Mo.") % {
        "formats": ", ".join(ext.upper() for ext in document.extensions),
        "size": document.max_size_mb,
    }


class DocumentUploadForm(forms.Form):
    """A file for one required document. Size and real type are checked by attachment_add."""

    required_document = forms.ModelChoiceField(
        queryset=RequiredDocument.objects.none(),
        widget=forms.HiddenInput,
        error_messages={
            "required": _("Indiquez la pièce à laquelle ce fichier correspond."),
            "invalid_choice": _("Cette pièce n'est pas demandée par l'appel de ce dossier."),
        },
    )
    # Empty files reach the service, whose message names the file.
    file = UploadFileField(
        label=_("Fichier"),
        allow_empty_file=True,
        widget=forms.FileInput,
        error_messages={"required": _("Choisissez un fichier à déposer.")},
    )

    def __init__(
        self,
        *args: Any,
        documents: Iterable[RequiredDocument],
        document: RequiredDocument | None = None,
        **kwargs: Any,
    ) -> None:
        """`documents`: those the dossier may receive; `document`: the one this form is shown for."""
        if document is not None:
            kwargs.setdefault("prefix", document_prefix(document.pk))
            kwargs.setdefault("initial", {"required_document": document.pk})
        super().__init__(*args, **kwargs)
        self.documents = list(documents)
        self.document = document
        choice = cast(forms.ModelChoiceField[RequiredDocument], self.fields["required_document"])
        choice.queryset = RequiredDocument.objects.filter(pk__in=[doc.pk for doc in self.documents])
        if document is not None:
            upload = self.fields["file"]
            upload.label = gettext("Ajouter un fichier pour « %(label)s »") % {"label": document.label}
            upload.help_text = accepted_formats_hint(document)
            upload.widget.attrs["accept"] = ",".join(f".{ext}" for ext in document.extensions)
            # An optional document's field carries no « * »: the form is only there to add a
            # file, and posting it empty still gets « Choisissez un fichier » (clean_file).
            upload.required = document.mandatory
            if isinstance(self.auto_id, str) and "%s" in self.auto_id:
                # The template pack prints the hint with this id (Django's default would be "_helptext").
                upload.widget.attrs["aria-describedby"] = f"{self.auto_id % self.add_prefix('file')}-aide"

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if not upload:
            raise forms.ValidationError(self.fields["file"].error_messages["required"], code="required")
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chosen = cleaned.get("required_document")
        if chosen is not None and self.document is not None and chosen.pk != self.document.pk:
            self.add_error(
                "required_document", self.fields["required_document"].error_messages["invalid_choice"]
            )
        return cleaned
