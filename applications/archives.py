"""A dossier's files as one ZIP archive, for the staff who review it (core.archives streams it).

The archive holds every attachment, named after the document the call asked for and numbered in
the call's order (« 01 - Statuts.pdf »; a second file for the same document « 01 - Statuts (2).pdf »),
then the PDFs the portal issued for the dossier and already rendered: the receipts and the letters
of its decisions (its history), and what the layers above register (grants adds the agreement and
its amendments, as it adds its steps to the homes, without this app importing it).
"""

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import IO

from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile

from applications.models import Application, Attachment, RequiredDocument, StatusChange
from core.archives import Member, safe_name, unique_names
from notifications.models import Document, Status

# name -> the issued documents of a dossier that a layer above knows of (registered at start-up).
DocumentSource = Callable[[Application], QuerySet[Document]]
_DOCUMENT_SOURCES: dict[str, DocumentSource] = {}


def register_archive_documents(name: str, source: DocumentSource) -> None:
    _DOCUMENT_SOURCES[name] = source


def _opener(file: FieldFile) -> Callable[[], AbstractContextManager[IO[bytes]]]:
    def open_file() -> AbstractContextManager[IO[bytes]]:
        return file.open("rb")

    return open_file


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def archive_members(application: Application) -> list[Member]:
    """The archive's files, in order, with their unique names (a fixed number of queries)."""
    numbers = {
        pk: index
        for index, pk in enumerate(
            RequiredDocument.objects.filter(call_id=application.call_id)
            .order_by("position", "pk")
            .values_list("pk", flat=True),
            start=1,
        )
    }
    attachments = list(
        Attachment.objects.filter(application=application)
        .select_related("required_document")
        .order_by("required_document__position", "required_document_id", "uploaded_at", "pk")
    )
    issued: list[Document] = []
    document_ids: set[int] = set()
    sources: Iterable[QuerySet[Document]] = [
        Document.objects.filter(
            pk__in=StatusChange.objects.filter(application=application, document__isnull=False).values(
                "document_id"
            )
        ),
        *(source(application) for source in _DOCUMENT_SOURCES.values()),
    ]
    for documents in sources:
        for document in documents.filter(status=Status.DONE).exclude(file="").order_by("created_at", "pk"):
            if document.pk not in document_ids:
                document_ids.add(document.pk)
                issued.append(document)

    names = []
    files = []
    for attachment in attachments:
        number = numbers.get(attachment.required_document_id, 0)
        extension = _extension(attachment.original_name) or _extension(attachment.file.name or "")
        label = safe_name(attachment.required_document.label)
        names.append(
            safe_name(f"{number:02d} - {label}.{extension}" if extension else f"{number:02d} - {label}")
        )
        files.append((attachment.file, attachment.uploaded_at))
    for document in issued:
        names.append(safe_name(document.filename or f"{document.kind}.pdf"))
        files.append((document.file, document.rendered_at or document.created_at))
    return [
        Member(name=name, open=_opener(file), modified=modified)
        for name, (file, modified) in zip(unique_names(names), files, strict=True)
    ]


def archive_file_name(application: Application) -> str:
    return safe_name(f"{application.reference} - pieces.zip")
