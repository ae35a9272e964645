"""The beneficiary's yearly reports: the activity report and the compte rendu financier.

Each year of the agreement asks for both; the tranche of year n + 1 is requested only once those
of year n are accepted (grants.services.payments). A report is a PDF, checked by its content
(libmagic), not its name; one report per year and kind is live (submitted or accepted), and a
submitted one not yet examined may be replaced. The instructors of the territory (or an admin)
accept it or send it back with a note, and the beneficiary is told by e-mail.

The report's states move through the report machine's funnel (`grants.workflow.report_transition`):
each review is logged (`ReportStatusChange`) and audited there. Filing creates the report in its
first state, « déposé », and a replacement deletes a report that has not moved yet: neither is a
move.
"""

import hashlib
import uuid
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from applications.models import Message
from applications.selectors import dossier_recipients
from applications.services.review import ensure_no_conflict, ensure_reviewer
from core.uploads import check_upload
from grants.models import Grant, Report, ReportKind
from grants.services.payments import ensure_beneficiary, grant_years
from grants.workflow import ensure_report_can_move, report_transition
from notifications.services import email_queue

REPORT_MAX_SIZE_MB = 20


def _kind_label(kind: str) -> str:
    return str(ReportKind(kind).label)


def _read_pdf(file: IO[bytes], filename: str) -> tuple[str, bytes]:
    """The report's sanitised name and content, once checked to be a PDF within the size limit."""
    upload = check_upload(
        file,
        filename,
        max_size_mb=REPORT_MAX_SIZE_MB,
        extensions=("pdf",),
        bad_type=_(
            "Le fichier « %(name)s » n'est pas un PDF : un rapport se dépose au format PDF "
            "(son contenu a été vérifié, pas seulement son nom)."
        ),
    )
    return upload.name, upload.content


@transaction.atomic
def report_upload(
    *, grant: Grant, year_index: int, kind: str, file: IO[bytes], filename: str, actor: User
) -> Report:
    """A member of the lead structure files the report of a year (PDF, 20 Mo at most)."""
    grant = Grant.objects.select_for_update().select_related("application", "call").get(pk=grant.pk)
    ensure_beneficiary(actor, grant)
    if grant.status != Grant.Status.ACTIVE:
        raise ValidationError(
            _("Cette subvention est annulée : aucun rapport ne peut être déposé."), code="state"
        )
    if kind not in ReportKind.values:
        raise ValidationError(
            {"kind": _("Choisissez le type de rapport : rapport d'activité ou compte rendu financier.")}
        )
    years = grant_years(grant)
    if not 1 <= year_index <= years:
        raise ValidationError(
            {
                "year_index": _(
                    "Un rapport pour une année hors de la convention ne peut pas être déposé : "
                    "la convention couvre les années 1 à %(years)d."
                )
                % {"years": years}
            },
            code="year",
        )
    live = (
        Report.objects.select_for_update()
        .filter(grant=grant, year_index=year_index, kind=kind)
        .exclude(status=Report.Status.REJECTED)
        .first()
    )
    if live is not None and live.status == Report.Status.ACCEPTED:
        raise ValidationError(
            _("%(kind)s de l'année %(year)d : déjà accepté, il ne peut plus être remplacé.")
            % {"kind": _kind_label(kind), "year": year_index},
            code="accepted",
        )
    name, content = _read_pdf(file, filename)
    replaced = None
    if live is not None:
        # A submitted report not examined yet: the new file replaces it.
        replaced = {"sha256": live.sha256, "name": live.original_name}
        stored, storage = live.file.name or "", live.file.storage
        live.delete()
        if stored:
            transaction.on_commit(lambda: storage.delete(stored))
    report = Report(
        grant=grant,
        year_index=year_index,
        kind=kind,
        original_name=name,
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=actor,
    )
    # A random stored name: the beneficiary's file name is kept in original_name only.
    report.file.save(f"{uuid.uuid4().hex}.pdf", ContentFile(content), save=False)
    try:
        report.full_clean()
        report.save()
    except Exception:
        report.file.delete(save=False)
        raise
    audit_record(
        actor=actor,
        action="report.upload",
        target=report,
        data={"year": year_index, "kind": kind, "sha256": report.sha256, "replaced": replaced},
    )
    return report


@transaction.atomic
def report_review(*, report: Report, accept: bool, note: str, actor: User) -> Report:
    """An instructor of the territory (or an admin) accepts a report or sends it back with a note."""
    # Read without a lock: the funnel takes the report's lock and checks its state again on it.
    report = Report.objects.select_related("grant__application").get(pk=report.pk)
    application = report.grant.application
    ensure_reviewer(actor, application)
    ensure_no_conflict(actor, application)
    to_status = Report.Status.ACCEPTED if accept else Report.Status.REJECTED
    # A report examined already is refused first, before the note's own rule.
    ensure_report_can_move(report, to_status)
    note = (note or "").strip()
    if not accept and not note:
        raise ValidationError(
            {"note": _("Indiquez ce qui doit être repris : un rapport à reprendre est motivé.")}
        )
    report_transition(
        report=report,
        to_status=to_status,
        actor=actor,
        action="report.accept" if accept else "report.reject",
        note=note,
        data={"note": note},
        reviewed_by=actor,
        reviewed_at=timezone.now(),
        review_note=note,
    )
    values = {
        "kind": _kind_label(report.kind),
        "year": report.year_index,
        "reference": application.reference,
    }
    if accept:
        subject = _("%(kind)s de l'année %(year)d accepté – dossier %(reference)s") % values
        body = _(
            "Bonjour,\n\nLe %(kind_lower)s de l'année %(year)d de votre subvention (dossier %(reference)s) "
            "a été accepté.%(note)s\n\nL'équipe Fabriques de territoires"
        )
    else:
        subject = _("%(kind)s de l'année %(year)d à reprendre – dossier %(reference)s") % values
        body = _(
            "Bonjour,\n\nLe %(kind_lower)s de l'année %(year)d de votre subvention (dossier %(reference)s) "
            "est à reprendre.%(note)s\n\nDéposez une nouvelle version sur la page de votre subvention."
            "\n\nL'équipe Fabriques de territoires"
        )
    email_queue(
        key=f"report:{report.pk}:review",
        to=dossier_recipients(report.grant.application, side=Message.Side.APPLICANT),
        subject=subject,
        body=body
        % {
            **values,
            "kind_lower": _kind_label(report.kind).lower(),
            "note": ("\n\n" + _("Observation : %(note)s") % {"note": note}) if note else "",
        },
    )
    return report
