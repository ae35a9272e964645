"""The files of a message, and the message written to the applicants of a list.

The files are checked by the service (applications.services.messaging, through core.uploads):
the form only hands them over, with a name too long to store refused next to the field.
"""

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from applications.services.messaging import (
    MESSAGE_FILE_EXTENSIONS,
    MESSAGE_FILE_MAX_MB,
    MESSAGE_FILES_MAX,
    FileUpload,
)
from core.uploads import UploadFileField


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MessageFilesField(UploadFileField):
    """Several files in one input (none is fine): a list of uploaded files."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_empty_file", True)  # the service names the empty file
        kwargs.setdefault("label", _("Pièces jointes (facultatif)"))
        kwargs.setdefault(
            "help_text",
            _("Au plus %(count)d fichiers de %(size)d Mo chacun. Formats acceptés : %(formats)s.")
            % {
                "count": MESSAGE_FILES_MAX,
                "size": MESSAGE_FILE_MAX_MB,
                "formats": ", ".join(extension.upper() for extension in MESSAGE_FILE_EXTENSIONS),
            },
        )
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[Any]]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def file_uploads(files: list[UploadedFile[Any]]) -> list[FileUpload]:
    return [FileUpload(file=upload, name=upload.name or "") for upload in files]


class BroadcastForm(forms.Form):
    """The message to the applicants of every dossier of the list (its filters travel in the URL)."""

    subject = forms.CharField(label=_("Objet"), max_length=200)
    body = forms.CharField(
        label=_("Votre message"),
        max_length=9000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Chaque dossier le reçoit dans sa messagerie ; ses porteurs sont prévenus par courriel."),
    )


class BroadcastConfirmForm(BroadcastForm):
    """The recap's form: the text again (hidden), its token, and the files, joined at this step so
    that nothing is stored before the confirmation."""

    token = forms.UUIDField(widget=forms.HiddenInput)
    fingerprint = forms.CharField(widget=forms.HiddenInput, max_length=64)
    attachments = MessageFilesField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subject"].widget = forms.HiddenInput()
        self.fields["body"].widget = forms.HiddenInput()
