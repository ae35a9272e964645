"""What the portal holds about one person, as a zip: data.json and the files they uploaded.

Built in the request: a person's rows are a few hundred at most, and their files are bounded by
the uploads' limits (core.uploads), written to a temporary file on disk rather than held in
memory. Only what is theirs: the account, the dossiers they created or were given access to, the
messages they wrote, the files they uploaded, their notifications, preferences and the actions the
audit log records as theirs. Other people's names never enter it (instructors' messages, the
authors of decisions), nor the instruction's internal notes and scores.
"""

import json
import tempfile
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q

from accounts.models import AuditEvent, User
from accounts.services import audit_record
from applications.models import Application, Attachment, Message, MessageFile
from notifications.models import Notification, NotificationPreference

DOSSIER_FIELDS = (
    "reference",
    "title",
    "status",
    "kind",
    "summary",
    "services",
    "community_governance",
    "partnerships",
    "resource_role",
    "digital_offer",
    "territorial_need",
    "economic_model",
    "jobs_fte",
    "created_at",
    "submitted_at",
)


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date | Decimal):
        return value.isoformat() if not isinstance(value, Decimal) else str(value)
    raise TypeError(type(value).__name__)


def personal_data_collect(*, user: User) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The person's data as JSON-safe rows, and their files as (stored name, name in the zip)."""
    dossiers = (
        Application.objects.filter(Q(created_by=user) | Q(accesses__user=user))
        .distinct()
        .order_by("reference")
    )
    attachments = Attachment.objects.filter(uploaded_by=user).select_related("application").order_by("pk")
    message_files = MessageFile.objects.filter(uploaded_by=user).order_by("pk")
    files: list[tuple[str, str]] = []
    data: dict[str, Any] = {
        "compte": {
            "adresse_email": user.email,
            "prenom": user.first_name,
            "nom": user.last_name,
            "telephone": user.phone,
            "fonction": user.job_title,
            "inscrit_le": user.date_joined,
            "adresse_confirmee_le": user.email_confirmed_at,
            "derniere_connexion": user.last_login,
            "actif": user.is_active,
            "roles": sorted(user.groups.values_list("name", flat=True)),
        },
        "dossiers": [{name: getattr(dossier, name) for name in DOSSIER_FIELDS} for dossier in dossiers],
        "messages_ecrits": [
            {"dossier": message.application.reference, "envoye_le": message.created_at, "texte": message.body}
            for message in Message.objects.filter(author=user).select_related("application").order_by("pk")
        ],
        "pieces_deposees": [],
        "pieces_jointes_de_messages": [],
        "notifications": [
            {"titre": row.title, "texte": row.text, "creee_le": row.created_at, "lue_le": row.read_at}
            for row in Notification.objects.filter(recipient=user).order_by("pk")
        ],
        "preferences_de_notification": list(
            NotificationPreference.objects.filter(user=user).values(*_preference_fields())
        ),
        "journal_de_vos_actions": [
            {"date": row.occurred_at, "action": row.action, "objet": row.target_type}
            for row in AuditEvent.objects.filter(actor=user).order_by("pk")
        ],
    }
    for attachment in attachments:
        in_zip = f"fichiers/{attachment.application.reference}/{attachment.pk}-{attachment.original_name}"
        data["pieces_deposees"].append(
            {
                "dossier": attachment.application.reference,
                "fichier": in_zip,
                "deposee_le": attachment.uploaded_at,
            }
        )
        files.append((str(attachment.file.name), in_zip))
    for message_file in message_files:
        in_zip = f"fichiers/messages/{message_file.pk}-{message_file.original_name}"
        data["pieces_jointes_de_messages"].append({"fichier": in_zip, "deposee_le": message_file.uploaded_at})
        files.append((str(message_file.file.name), in_zip))
    return data, files


def _preference_fields() -> list[str]:
    return [
        field.name
        for field in NotificationPreference._meta.concrete_fields
        if field.name not in {"id", "user"}
    ]


@transaction.atomic
def personal_data_export(*, user: User, actor: User) -> IO[bytes]:
    """The zip of what the portal holds about `user`, in a temporary file; the request is audited."""
    data, files = personal_data_collect(user=user)
    handle = tempfile.TemporaryFile(suffix=".zip")  # noqa: SIM115 (the response streams and closes it)
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "donnees.json", json.dumps(data, default=_json_default, ensure_ascii=False, indent=2)
        )
        for stored, in_zip in files:
            try:
                with default_storage.open(stored, "rb") as source, archive.open(in_zip, "w") as target:
                    while chunk := source.read(1024 * 1024):
                        target.write(chunk)
            except FileNotFoundError:
                # A file deleted by the retention rules, between the query and the copy.
                continue
    handle.seek(0)
    audit_record(actor=actor, action="personal_data.export", target=user, data={"files": len(files)})
    return handle
