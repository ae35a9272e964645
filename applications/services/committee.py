"""« Dossier pour le comité »: a PDF of a dossier for the selection committee (its summary, each
instructor's scores per criterion, the outside opinions), asked for as a document row.

The PDF is a `notifications.Document` rendered by the document task after the request's commit,
as the receipts and letters are: its context is frozen on the row, strings only. It holds every
instructor's scores, so it is for those who may see them on the instruction page: the programme
admins, and the instructors who handed in their own scoring without a conflict of interests.
"""

import uuid
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import Application, Assignment, Criterion, Member, Opinion, Score
from applications.services.review import weighted_total
from core.formatting import format_date, format_money
from notifications.models import Document
from notifications.services import document_request

COMMITTEE_KIND = "committee-dossier"
COMMITTEE_TEMPLATE = "pdf/committee_dossier.html"
COMMITTEE_ACTION = "dossier.committee_pdf"


def committee_key_prefix(application: Application) -> str:
    return f"application:{application.pk}:committee:"


def may_see_scores(user: User, application: Application) -> bool:
    """The instruction page's rule on the others' scores: admins, and the instructors who handed in
    their own scoring on this dossier without a conflict of interests."""
    if has_role(user, Role.ADMIN):
        return True
    return Assignment.objects.filter(
        application=application,
        instructor=user,
        scores_submitted_at__isnull=False,
        conflict_of_interest=False,
    ).exists()


def _decimal(value: Decimal | None) -> str:
    return "—" if value is None else format(value.quantize(Decimal("0.1")), "f").replace(".", ",")


def committee_context(application: Application) -> dict[str, Any]:
    """The PDF's context: strings and lists of them only, so that it can be stored on the row."""
    members = list(
        Member.objects.filter(application=application)
        .select_related("organisation")
        .order_by("-is_lead", "organisation__name")
    )
    criteria = list(Criterion.objects.filter(call_id=application.call_id).order_by("position", "pk"))
    assignments = list(
        Assignment.objects.filter(
            application=application, scores_submitted_at__isnull=False, conflict_of_interest=False
        )
        .select_related("instructor")
        .prefetch_related(Prefetch("scores", queryset=Score.objects.select_related("criterion")))
        .order_by("scores_submitted_at", "pk")
    )
    # A cancelled request says nothing to the committee; one still open shows as awaited.
    opinions = list(
        Opinion.objects.filter(application=application)
        .exclude(status=Opinion.Status.CANCELLED)
        .order_by("requested_at", "pk")
    )
    budget = list(application.budget_years.order_by("year_index"))
    scorers = []
    for assignment in assignments:
        by_criterion = {score.criterion_id: score for score in assignment.scores.all()}
        instructor = assignment.instructor
        scorers.append(
            {
                "name": instructor.get_full_name() or instructor.email,
                "handed_in_on": format_date(assignment.scores_submitted_at),
                "total": _decimal(weighted_total(sorted(by_criterion.values(), key=lambda score: score.pk))),
                "scores": [
                    {
                        "criterion": criterion.label,
                        "value": (
                            f"{by_criterion[criterion.pk].value} / {criterion.scale_max}"
                            if criterion.pk in by_criterion
                            else "—"
                        ),
                        "comment": by_criterion[criterion.pk].comment if criterion.pk in by_criterion else "",
                    }
                    for criterion in criteria
                ],
            }
        )
    departement = application.departement
    return {
        "title": _("Dossier pour le comité"),
        "reference": application.reference,
        "project_title": application.title,
        "call_title": application.call.title,
        "wave": application.wave.name if application.wave else "",
        "kind": application.get_kind_display(),
        "departement": f"{departement.code} – {departement.name}" if departement else "",
        "status": application.get_status_display(),
        "submitted_on": format_date(application.submitted_at) if application.submitted_at else "",
        "generated_on": format_date(timezone.localdate()),
        "summary": application.summary,
        "members": [
            {
                "name": member.organisation.name,
                "siret": member.organisation.siret_display,
                "role": _("Chef de file") if member.is_lead else member.role,
            }
            for member in members
        ],
        "budget": [
            {
                "year": str(year.year_index),
                "requested": format_money(year.requested),
                "other_funding": format_money(year.other_funding),
                "total_cost": format_money(year.total_cost),
            }
            for year in budget
        ],
        "requested_total": format_money(sum((year.requested for year in budget), Decimal("0"))),
        "criteria": [
            {"label": criterion.label, "weight": str(criterion.weight), "scale": str(criterion.scale_max)}
            for criterion in criteria
        ],
        "scorers": scorers,
        "score": _decimal(application.score),
        "spread": _decimal(application.score_spread),
        "opinions": [
            {
                "organisation": opinion.organisation_name,
                "verdict": opinion.get_verdict_display(),
                "comment": opinion.comment,
                "author": opinion.author_name,
                "given_on": format_date(opinion.given_at) if opinion.given_at else "",
            }
            for opinion in opinions
        ],
    }


def committee_pdf_request(*, application: Application, actor: User) -> Document:
    """Ask for the dossier's committee PDF: a document row rendered by a worker, audited."""
    if not may_see_scores(actor, application):
        raise PermissionDenied(
            _(
                "Le dossier pour le comité montre les notes de chacun : "
                "remettez d'abord votre propre notation."
            )
        )
    with transaction.atomic():
        document = document_request(
            key=f"{committee_key_prefix(application)}{uuid.uuid4()}",
            kind=COMMITTEE_KIND,
            template_name=COMMITTEE_TEMPLATE,
            context=committee_context(application),
            filename=f"{application.reference}-dossier-comite-{timezone.localdate().isoformat()}.pdf",
        )
        audit_record(actor=actor, action=COMMITTEE_ACTION, target=application, data={"document": document.pk})
    return document
