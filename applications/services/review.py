"""Review: assignments and conflicts of interest, scores, eligibility, exchanges (the expert
opinions are in applications.services.opinions, their verbs importable from here too).

Decisions (award, refusal, closing, reopening) are in grants.services.decisions: an award creates
the grant and commits the envelope.
"""

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.roles import has_role
from accounts.services import audit_record
from applications.models import (
    Annotation,
    Application,
    Assignment,
    Call,
    Criterion,
    EligibilityAnswer,
    EligibilityCheck,
    Message,
    Score,
    StatusChange,
)
from applications.selectors import applications_reviewable_by, applications_visible_to, dossier_recipients
from applications.services.deadlines import corrections_default_due, corrections_due_check
from applications.services.messaging import FileUpload, message_files_attach
from applications.services.notify import assignment_notify, corrections_notify, message_notify

# The opinions' verbs moved to their own module; still importable from here.
from applications.services.opinions import opinion_give as opinion_give
from applications.services.opinions import opinion_request as opinion_request
from applications.workflow import REVIEWABLE_STATES, transition
from core.formatting import format_date
from core.links import absolute_url
from notifications.services import email_queue

S = Application.Status


def ensure_reviewer(user: User, application: Application) -> None:
    """An instructor of the dossier's territory, or a programme admin; anyone else is refused."""
    if not applications_reviewable_by(user).filter(pk=application.pk).exists():
        raise PermissionDenied(_("Ce dossier n'est pas dans votre périmètre d'instruction."))


def ensure_no_conflict(user: User, application: Application) -> None:
    if Assignment.objects.filter(
        application=application, instructor=user, conflict_of_interest=True
    ).exists():
        raise ValidationError(
            _(
                "Vous avez déclaré un conflit d'intérêts sur ce dossier : "
                "vous ne pouvez ni le noter ni le décider."
            ),
            code="conflict",
        )


def _review_link(application: Application) -> str:
    return absolute_url("applications:review-detail", reference=application.reference)


def _dossier_link(application: Application) -> str:
    return absolute_url("applications:dossier-detail", reference=application.reference)


@transaction.atomic
def assignment_create(*, application: Application, instructor: User, actor: User) -> Assignment:
    """Assign an instructor, by themselves or by an admin. A submitted dossier enters review."""
    ensure_reviewer(actor, application)
    if actor != instructor and not has_role(actor, Role.ADMIN):
        raise PermissionDenied(_("Seul un administrateur affecte un autre instructeur."))
    if not has_role(instructor, Role.INSTRUCTOR) and not has_role(instructor, Role.ADMIN):
        raise ValidationError({"instructor": _("Cette personne n'est pas instructeur.")})
    if not applications_reviewable_by(instructor).filter(pk=application.pk).exists():
        raise ValidationError({"instructor": _("Ce dossier est hors du périmètre de cet instructeur.")})
    application = Application.objects.select_for_update().get(pk=application.pk)
    if application.status not in REVIEWABLE_STATES:
        raise ValidationError(_("Un dossier décidé ou retiré ne reçoit plus d'instructeur."), code="state")
    assignment, created = Assignment.objects.get_or_create(
        application=application, instructor=instructor, defaults={"assigned_by": actor}
    )
    if application.status == S.SUBMITTED:
        transition(
            application=application, to_status=S.IN_REVIEW, actor=actor, note=_("Instruction ouverte.")
        )
    if created:
        audit_record(
            actor=actor, action="review.assign", target=application, data={"instructor": instructor.email}
        )
        assignment_notify(assignment=assignment, actor=actor)
    return assignment


@transaction.atomic
def assignment_attest_no_conflict(*, assignment: Assignment, actor: User) -> Assignment:
    """The instructor attests « Je n'ai pas de conflit d'intérêts avec ce dossier », before scoring."""
    if assignment.instructor_id != actor.pk:
        raise PermissionDenied(_("Chacun atteste pour lui-même de l'absence de conflit d'intérêts."))
    ensure_reviewer(actor, assignment.application)
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.conflict_of_interest:
        raise ValidationError(
            _(
                "Vous avez déclaré un conflit d'intérêts sur ce dossier : vous ne pouvez pas attester "
                "n'en avoir aucun."
            ),
            code="conflict",
        )
    if assignment.no_conflict_attested_at is not None:
        return assignment
    assignment.no_conflict_attested_at = timezone.now()
    assignment.no_conflict_attested_by = actor
    assignment.full_clean()
    assignment.save(update_fields=["no_conflict_attested_at", "no_conflict_attested_by"])
    audit_record(actor=actor, action="review.no_conflict_attested", target=assignment.application)
    return assignment


def ensure_attested(assignment: Assignment) -> None:
    """No score without the attestation: the rule is the service's, whatever form or script posts."""
    if assignment.no_conflict_attested_at is None:
        raise ValidationError(
            _(
                "Attestez d'abord que vous n'avez pas de conflit d'intérêts avec ce dossier "
                "(ou déclarez-le) : la notation s'ouvre après cette attestation."
            ),
            code="attestation",
        )


@transaction.atomic
def assignment_declare_conflict(*, assignment: Assignment, note: str, actor: User) -> Assignment:
    """The instructor declares a conflict of interests: their scores, if any, are withdrawn."""
    if assignment.instructor_id != actor.pk:
        raise PermissionDenied(_("Chacun déclare ses propres conflits d'intérêts."))
    if not note.strip():
        raise ValidationError({"conflict_note": _("Précisez la nature du conflit d'intérêts.")})
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    assignment.scores.all().delete()
    assignment.conflict_of_interest = True
    assignment.conflict_note = note.strip()
    assignment.declared_at = timezone.now()
    assignment.scores_submitted_at = None
    # A conflict found after attesting none replaces the attestation.
    assignment.no_conflict_attested_at = None
    assignment.no_conflict_attested_by = None
    assignment.save(
        update_fields=[
            "conflict_of_interest",
            "conflict_note",
            "declared_at",
            "scores_submitted_at",
            "no_conflict_attested_at",
            "no_conflict_attested_by",
        ]
    )
    application_score_refresh(application=assignment.application)
    audit_record(actor=actor, action="review.conflict", target=assignment.application)
    return assignment


def _scoring_guards(assignment: Assignment, actor: User) -> None:
    if assignment.instructor_id != actor.pk:
        raise PermissionDenied(_("Chacun note avec son propre compte."))
    ensure_reviewer(actor, assignment.application)
    ensure_no_conflict(actor, assignment.application)
    ensure_attested(assignment)
    if assignment.application.status != S.IN_REVIEW:
        raise ValidationError(_("Seul un dossier en instruction se note."), code="state")
    if assignment.scores_submitted_at is not None:
        raise ValidationError(
            _("Votre notation est déjà remise : elle ne se modifie plus."), code="submitted"
        )


def _check_scores(
    assignment: Assignment, values: Mapping[int, tuple[int | None, str]], submit: bool
) -> dict[int, Criterion]:
    """The grid's rules on the values; every error at once, keyed by the form's field names."""
    criteria = {c.pk: c for c in Criterion.objects.filter(call=assignment.application.call)}
    errors: dict[str, list[str]] = {}
    for criterion_id, (value, comment) in values.items():
        criterion = criteria.get(criterion_id)
        if criterion is None:
            raise ValidationError(_("Ce critère n'appartient pas à la grille de l'appel."))
        key = f"criterion_{criterion_id}"
        if value is None:
            if submit:
                errors.setdefault(key, []).append(_("Notez ce critère."))
            continue
        if not 0 <= value <= criterion.scale_max:
            errors.setdefault(key, []).append(
                _("La note de « %(label)s » va de 0 à %(max)d.")
                % {"label": criterion.label, "max": criterion.scale_max}
            )
        if criterion.comment_required and not comment.strip():
            errors.setdefault(f"comment_{criterion_id}", []).append(
                _("Un commentaire justifie la note de « %(label)s ».") % {"label": criterion.label}
            )
    if submit:
        for criterion_id in criteria:
            if criterion_id not in values:
                errors.setdefault(f"criterion_{criterion_id}", []).append(_("Notez ce critère."))
    if errors:
        raise ValidationError(errors)
    return criteria


def scores_preview(
    *, assignment: Assignment, values: Mapping[int, tuple[int | None, str]], actor: User
) -> tuple[list[Score], Decimal | None]:
    """The scores as they would be handed in (unsaved) and their total on 100, or the refusal.

    Read-only, for the recap shown before handing in: the same guards and rules as scores_save.
    """
    assignment = Assignment.objects.select_related("application__call").get(pk=assignment.pk)
    _scoring_guards(assignment, actor)
    criteria = _check_scores(assignment, values, submit=True)
    scores = [
        Score(assignment=assignment, criterion=criteria[criterion_id], value=value, comment=comment.strip())
        for criterion_id, (value, comment) in values.items()
        if value is not None
    ]
    scores.sort(key=lambda score: (score.criterion.position, score.criterion.pk))
    return scores, weighted_total(scores)


@transaction.atomic
def scores_save(
    *,
    assignment: Assignment,
    values: Mapping[int, tuple[int | None, str]],
    submit: bool,
    actor: User,
) -> Assignment:
    """Save an instructor's scores (criterion id -> value and comment); submitting makes them final.

    Scoring needs the instructor's attestation of no conflict of interests (`ensure_attested`).
    """
    assignment = (
        Assignment.objects.select_for_update().select_related("application__call").get(pk=assignment.pk)
    )
    _scoring_guards(assignment, actor)
    _check_scores(assignment, values, submit)
    for criterion_id, (value, comment) in values.items():
        if value is None:
            continue
        Score.objects.update_or_create(
            assignment=assignment,
            criterion_id=criterion_id,
            defaults={"value": value, "comment": comment.strip()},
        )
    if submit:
        assignment.scores_submitted_at = timezone.now()
        assignment.save(update_fields=["scores_submitted_at"])
        application_score_refresh(application=assignment.application)
        audit_record(actor=actor, action="review.scores_submit", target=assignment.application)
    return assignment


def instructor_totals(
    application: Application, *, assignments: list[Assignment] | None = None
) -> dict[int, Decimal]:
    """Each instructor's handed-in score on 100, by assignment id.

    `assignments`: the dossier's assignments already read with their scores and criteria (the
    review page has them), so that the totals cost no query; otherwise they are read here.
    """
    totals = {}
    if assignments is None:
        assignments = list(
            application.assignments.filter(
                scores_submitted_at__isnull=False, conflict_of_interest=False
            ).prefetch_related("scores__criterion")
        )
    else:
        assignments = [
            one for one in assignments if one.scores_submitted_at is not None and not one.conflict_of_interest
        ]
    for assignment in assignments:
        # In the scores' own order (by id), whatever order the caller read them in.
        total = weighted_total(sorted(assignment.scores.all(), key=lambda score: score.pk))
        if total is not None:
            totals[assignment.pk] = total
    return totals


def application_score_refresh(*, application: Application) -> None:
    """The dossier's score: the mean of its instructors' weighted scores, and their spread."""
    totals = list(instructor_totals(application).values())
    score = (
        (sum(totals, Decimal("0")) / len(totals)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        if totals
        else None
    )
    spread = (max(totals) - min(totals)) if totals else None
    Application.objects.filter(pk=application.pk).update(score=score, score_spread=spread)


@transaction.atomic
def eligibility_record(
    *, application: Application, answers: Mapping[int, tuple[bool, str]], actor: User
) -> list[EligibilityAnswer]:
    ensure_reviewer(actor, application)
    ensure_no_conflict(actor, application)
    checks = {c.pk: c for c in EligibilityCheck.objects.filter(call=application.call)}
    # The previous answers, kept in the audit row: eligibility gates the award, so who changed
    # which answer, and from what, must be traceable.
    previous = {
        answer.condition_id: answer
        for answer in EligibilityAnswer.objects.select_for_update().filter(
            application=application, condition_id__in=list(answers)
        )
    }
    rows = []
    changes = []
    for check_id, (satisfied, note) in answers.items():
        if check_id not in checks:
            raise ValidationError(_("Cette condition n'appartient pas à l'appel."))
        old = previous.get(check_id)
        before = None if old is None else {"satisfied": old.satisfied, "note": old.note}
        after = {"satisfied": satisfied, "note": note.strip()}
        if before != after:
            changes.append({"condition": check_id, "before": before, "after": after})
        row, _created = EligibilityAnswer.objects.update_or_create(
            application=application,
            condition_id=check_id,
            defaults={
                "satisfied": satisfied,
                "note": note.strip(),
                "answered_by": actor,
                "answered_at": timezone.now(),
            },
        )
        rows.append(row)
    if changes:
        audit_record(
            actor=actor, action="review.eligibility_record", target=application, data={"answers": changes}
        )
    return rows


@transaction.atomic
def annotation_add(*, application: Application, body: str, actor: User) -> Annotation:
    ensure_reviewer(actor, application)
    annotation = Annotation(application=application, author=actor, body=body.strip())
    annotation.full_clean()
    annotation.save()
    return annotation


@transaction.atomic
def message_post(
    *, application: Application, body: str, actor: User, files: Sequence[FileUpload] = ()
) -> Message:
    """A message in the dossier's thread, with its files if any (checked by their content, all
    refused or all kept); the other side is told by e-mail."""
    if not applications_visible_to(actor).filter(pk=application.pk).exists():
        raise PermissionDenied(_("Vous n'avez pas accès à ce dossier."))
    is_reviewer = applications_reviewable_by(actor).filter(pk=application.pk).exists()
    side = Message.Side.INSTRUCTION if is_reviewer else Message.Side.APPLICANT
    message = Message(application=application, author=actor, side=side, body=body.strip())
    message.full_clean()
    message.save()
    stored = message_files_attach(message=message, files=files, actor=actor)
    if stored:
        audit_record(
            actor=actor,
            action="message.files",
            target=application,
            data={"message": message.pk, "files": [row.sha256 for row in stored]},
        )
    # The other side of the thread hears of it, in the centre and by e-mail as each prefers.
    message_notify(message=message)
    return message


@transaction.atomic
def corrections_request(
    *,
    application: Application,
    points: list[str],
    actor: User,
    due_on: date | None = None,
    today: date | None = None,
) -> StatusChange:
    """Reopen the dossier to the applicant with the list of what to correct or complete, due
    before `due_on` (by default the call's delay from today; always after today)."""
    ensure_reviewer(actor, application)
    ensure_no_conflict(actor, application)
    points = [point.strip() for point in points if point.strip()]
    errors: dict[str, list[str]] = {}
    if not points:
        errors["points"] = [_("Listez au moins un point à corriger ou à compléter.")]
    today = today or timezone.localdate()
    if due_on is None:
        due_on = corrections_default_due(Call.objects.get(pk=application.call_id), today=today)
    try:
        corrections_due_check(due_on=due_on, today=today)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    note = "\n".join(f"- {point}" for point in points)
    change = transition(
        application=application, to_status=S.CORRECTIONS, actor=actor, note=note, corrections_due_on=due_on
    )
    Message.objects.create(
        application=application,
        author=actor,
        side=Message.Side.INSTRUCTION,
        body=_("Compléments demandés, à fournir avant le %(date)s :\n%(points)s")
        % {"date": format_date(due_on), "points": note},
    )
    email_queue(
        key=f"application:{application.pk}:corrections:{change.pk}",
        to=dossier_recipients(application, side=Message.Side.APPLICANT),
        subject=_("Compléments demandés sur votre dossier %(reference)s")
        % {"reference": application.reference},
        body=_(
            "Bonjour,\n\nL'instruction de votre dossier %(reference)s demande les compléments suivants :\n"
            "%(points)s\n\nLe dossier vous est rouvert : complétez-le puis déposez-le de nouveau avant le "
            "%(date)s.\n%(link)s"
        )
        % {
            "reference": application.reference,
            "points": note,
            "date": format_date(due_on),
            "link": _dossier_link(application),
        },
    )
    audit_record(
        actor=actor, action="review.corrections", target=application, data={"due_on": due_on.isoformat()}
    )
    corrections_notify(application=application, change=change)
    return change


def weighted_total(scores: list[Score]) -> Decimal | None:
    """One instructor's score on 100: the weighted mean of the criteria, each on its own scale."""
    weight_sum = sum(score.criterion.weight for score in scores)
    if not weight_sum:
        return None
    total = sum(
        (
            Decimal(score.value) / Decimal(score.criterion.scale_max) * score.criterion.weight
            for score in scores
        ),
        Decimal("0"),
    )
    return (total / weight_sum * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
