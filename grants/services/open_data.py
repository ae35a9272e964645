"""Publishing the open-data files of a call: a file is published only once its schema accepted it.

`open_data_publish` builds one file (grants.open_data_files) and validates it with frictionless:

- valid: the bytes are stored under a name of their own (the build's SHA-256 in it), then the
  call's `OpenDataFile` row is pointed at them, with an audit row ("open_data.published"); the
  previous file is deleted once that is committed. A download therefore always finds a whole
  file, the one the row names;
- refused: nothing is stored and the row is left as it was, so the public address keeps serving
  the previous valid file. The refusal is logged as an error (with the validator's first
  problems), audited ("open_data.refused") and e-mailed to the programme admins, once per call,
  file and day (the e-mail's key names them).
"""

import hashlib
import logging
from datetime import date, datetime

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import programme_admin_emails
from accounts.services import audit_record
from applications.models import Call
from core.formatting import format_date
from grants.models import OpenDataFile
from grants.open_data_files import Build, open_data_build
from notifications.models import OutgoingEmail
from notifications.services import email_queue

logger = logging.getLogger(__name__)

PUBLISHED_ACTION = "open_data.published"
REFUSED_ACTION = "open_data.refused"
PROBLEMS_SHOWN = 10


def stored_name(call: Call, kind: str, sha256: str) -> str:
    return f"donnees-ouvertes/{call.open_data_id}/{sha256[:16]}-{kind}"


def refusal_key(call: Call, kind: str, day: date) -> str:
    return f"open-data-refused:{call.pk}:{kind}:{day.isoformat()}"


@transaction.atomic
def open_data_file_record(
    *, call: Call, kind: str, name: str, build: Build, built_at: datetime, actor: User | None
) -> OpenDataFile:
    """Point the call's row for `kind` at the stored file `name`; the previous file is deleted
    after commit (unless it is the same file: an unchanged build keeps its name)."""
    sha256 = hashlib.sha256(build.content).hexdigest()
    current = OpenDataFile.objects.select_for_update().filter(call=call, kind=kind).first()
    previous = current.stored_name if current is not None else ""
    record = current or OpenDataFile(call=call, kind=kind)
    record.stored_name = name
    record.sha256 = sha256
    record.size = len(build.content)
    record.rows = build.rows
    record.built_at = built_at
    record.full_clean(validate_unique=False, validate_constraints=False)
    record.save()
    audit_record(
        actor=actor,
        action=PUBLISHED_ACTION,
        target=call,
        data={"file": kind, "rows": build.rows, "sha256": sha256, "size": len(build.content)},
    )
    if previous and previous != name:
        transaction.on_commit(lambda: default_storage.delete(previous))
    return record


@transaction.atomic
def open_data_refusal_record(
    *, call: Call, build: Build, day: date, actor: User | None
) -> OutgoingEmail | None:
    """Log, audit and e-mail a refused build; the published file is left as it was."""
    shown = build.problems[:PROBLEMS_SHOWN]
    logger.error(
        "Open-data file %s of call %s refused by its schema (%d problem(s)): %s",
        build.kind,
        call.slug,
        len(build.problems),
        shown,
    )
    audit_record(
        actor=actor,
        action=REFUSED_ACTION,
        target=call,
        data={"file": build.kind, "problems": len(build.problems), "first": [list(p) for p in shown]},
    )
    recipients = programme_admin_emails()
    if not recipients:
        return None
    lines = "".join(
        f"– {_('ligne')} {row or '–'}, {column or '–'} : {kind} {note}\n" for row, column, kind, note in shown
    )
    body = (
        _(
            "Bonjour,\n\n"
            "Le %(day)s, le fichier de données ouvertes « %(file)s » de l'appel « %(call)s » n'a pas "
            "été publié : son schéma le refuse (%(count)s problème(s)). Le fichier publié précédemment "
            "reste en ligne.\n\n"
        )
        % {"day": format_date(day), "file": build.kind, "call": call.title, "count": len(build.problems)}
        + lines
        + "\n"
        + _("La commande « manage.py publish_open_data --call %(slug)s » refait la publication.")
        % {"slug": call.slug}
        + "\n\n"
        + _("L'équipe Fabriques de territoires")
    )
    return email_queue(
        key=refusal_key(call, build.kind, day),
        to=recipients,
        subject=_("Données ouvertes de l'appel « %(call)s » non publiées : %(file)s")
        % {"call": call.title, "file": build.kind},
        body=body,
    )


def open_data_publish(*, call: Call, kind: str, actor: User | None, now: datetime | None = None) -> bool:
    """Build, validate and publish the file `kind` of `call`; False when its schema refused it."""
    now = now or timezone.now()
    build = open_data_build(call, kind, now=now)
    if build.problems:
        open_data_refusal_record(call=call, build=build, day=timezone.localdate(now), actor=actor)
        return False
    name = stored_name(call, kind, hashlib.sha256(build.content).hexdigest())
    if not default_storage.exists(name):
        # Stored before the row points at it: a download never finds a row without its file.
        name = default_storage.save(name, ContentFile(build.content))
    open_data_file_record(call=call, kind=kind, name=name, build=build, built_at=now, actor=actor)
    return True


def published_calls() -> list[Call]:
    """The calls whose open data is published: every call out of preparation."""
    return list(Call.objects.exclude(status=Call.Status.DRAFT).order_by("opens_at", "pk"))


def open_data_publish_all(*, actor: User | None, calls: list[Call] | None = None) -> dict[str, int]:
    """Every file of every published call (or of `calls`): how many were published, how many refused."""
    published = refused = 0
    for call in calls if calls is not None else published_calls():
        for kind in OpenDataFile.Kind.values:
            if open_data_publish(call=call, kind=kind, actor=actor):
                published += 1
            else:
                refused += 1
    return {"published": published, "refused": refused}
