"""Instruction: the dossier's review page, one POST view per action, bulk decisions, outside opinions.

Every instruction view fetches the dossier through `applications_reviewable_by(user)`: a dossier
out of the user's territory is a 404. The services check the rest (conflicts of interest, states,
roles); a PermissionDenied they raise becomes a 403, a ValidationError goes back next to the
form's fields, or into a message when it blocks the action as a whole (a conflict, a state).

The decision views (award, refusal, closing, reopening, bulk decisions) are in grants.views: an
award creates the grant and commits the envelope, and grants sits above applications.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.confirmation import Recap, is_confirmed, lines, recap_response, wants_edit
from accounts.models import Role, User
from accounts.permissions import can_use_applicant_space, role_required
from accounts.roles import has_role
from applications.forms_labels import ApplicationLabelsForm
from applications.forms_messaging import file_uploads
from applications.forms_opinions import OpinionRequestForm
from applications.forms_review import (
    AnnotationForm,
    AssignForm,
    AttestationForm,
    AwardForm,
    CloseForm,
    ConflictForm,
    CorrectionsForm,
    EligibilityForm,
    MessageForm,
    RefuseForm,
    ReopenForm,
    ScoresForm,
)
from applications.models import Application, Assignment, Criterion, EligibilityCheck, Score
from applications.rules import budget_totals
from applications.selectors import (
    PROJECT_TEXTS,
    application_label_panel,
    application_territory,
    applications_reviewable_by,
    message_thread,
)
from applications.selectors_opinions import opinions_for_review
from applications.selectors_times import state_totals, stays_from_changes
from applications.services.deadlines import corrections_closable, corrections_overdue
from applications.services.review import (
    annotation_add,
    assignment_attest_no_conflict,
    assignment_create,
    assignment_declare_conflict,
    corrections_request,
    eligibility_record,
    instructor_totals,
    message_post,
    scores_preview,
    scores_save,
    weighted_total,
)
from applications.views.common import dossier_context, get_visible_application
from applications.workflow import DECIDED_STATES, REVIEWABLE_STATES
from core.formatting import format_date
from core.page_cache import cached_page
from core.refusals import apply_refusal, is_page_refusal, say_refusal

S = Application.Status

# Errors that refuse the action as a whole, whatever was typed: shown as a message.
BLOCKING_CODES = frozenset({"conflict", "state", "submitted", "invalid_transition", "attestation"})


def can_review(user: Any) -> bool:
    return has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)


review_required = role_required(can_review)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def reviewable_application(request: HttpRequest, reference: str) -> Application:
    """The dossier if the user reviews it (their territory, or any for an admin), else a 404."""
    return get_object_or_404(
        # What the instruction pages show of the dossier (its author is never shown: no join).
        applications_reviewable_by(_user(request)).select_related("call", "wave", "departement"),
        reference=reference,
    )


def review_detail_url(application: Application, anchor: str = "") -> str:
    url = reverse("applications:review-detail", kwargs={"reference": application.reference})
    return f"{url}#{anchor}" if anchor else url


def refused_action_response(
    request: HttpRequest, application: Application, error: ValidationError, **bound: forms.Form
) -> HttpResponse:
    """A service refused: a blocking refusal as a message, anything else next to the form's fields."""
    if is_page_refusal(error, codes=BLOCKING_CODES):
        say_refusal(request, error)
        return redirect(review_detail_url(application))
    for form in bound.values():
        apply_refusal(form, error)
    return render_review_detail(request, application, **bound)


Done = TypeVar("Done")


def review_form_action(
    request: HttpRequest,
    application: Application,
    form: forms.Form,
    *,
    bound_as: str,
    act: Callable[[], Done],
    success: str | Callable[[Done], str],
    anchor: str = "",
) -> HttpResponse:
    """One posted form of the review page, whose action is one service call (`act`, run once the
    form is valid): invalid or refused, the page again with the form under `bound_as`; done,
    `success` (or what it says of the service's result) and the page at `anchor`."""
    if not form.is_valid():
        return render_review_detail(request, application, **{bound_as: form})
    try:
        done = act()
    except ValidationError as error:
        return refused_action_response(request, application, error, **{bound_as: form})
    messages.success(request, success(done) if callable(success) else success)
    return redirect(review_detail_url(application, anchor))


# --- the review page ---------------------------------------------------------------------------


@dataclass
class ScoreSheet:
    """One instructor's handed-in scores, for the table shown once the user has handed in theirs."""

    assignment: Assignment
    rows: list[Any]
    total: Any


def project_texts(application: Application) -> list[tuple[str, str]]:
    names = ("kind", *PROJECT_TEXTS)
    rows = []
    for name in names:
        field = Application._meta.get_field(name)
        value = (
            getattr(application, f"get_{name}_display")() if name == "kind" else getattr(application, name)
        )
        rows.append((str(getattr(field, "verbose_name", name)), value))
    return rows


def _detail_context(
    request: HttpRequest, application: Application, bound: dict[str, forms.Form]
) -> dict[str, Any]:
    user = _user(request)
    is_admin = has_role(user, Role.ADMIN)
    status = application.status
    in_review = status == S.IN_REVIEW
    reviewable_state = status in REVIEWABLE_STATES

    # Every panel is read here, once, as a list: the template neither evaluates a queryset nor
    # reads one twice (its counts included). The assignments come with their scores and criteria
    # in one more query, which the user's sheet, the others' sheets and their totals all share.
    assignments = list(
        application.assignments.select_related("instructor")
        .prefetch_related(
            Prefetch(
                "scores",
                queryset=Score.objects.select_related("criterion").order_by(
                    "criterion__position", "criterion_id"
                ),
            )
        )
        .order_by("assigned_at", "pk")
    )
    mine = next((a for a in assignments if a.instructor_id == user.pk), None)
    conflicted = mine is not None and mine.conflict_of_interest
    attested = mine is not None and mine.no_conflict_attested_at is not None
    handed_in = mine is not None and mine.scores_submitted_at is not None

    criteria = list(Criterion.objects.filter(call=application.call_id))
    checks = list(EligibilityCheck.objects.filter(call=application.call_id))
    answers = list(application.eligibility_answers.select_related("condition", "answered_by"))
    my_scores = list(mine.scores.all()) if mine else []
    # The call's labels, each saying whether the dossier carries it: the badges and their form.
    labels = application_label_panel(application)

    # Who may do what here; the services check it again.
    allowed = {
        "assign_form": is_admin and reviewable_state,
        "attestation_form": mine is not None and not conflicted and not attested and reviewable_state,
        "conflict_form": mine is not None and not conflicted,
        "scores_form": (
            mine is not None
            and not conflicted
            and attested
            and not handed_in
            and in_review
            and bool(criteria)
        ),
        "eligibility_form": not conflicted and reviewable_state and bool(checks),
        "opinion_form": reviewable_state,
        "annotation_form": True,
        "message_form": True,
        "corrections_form": not conflicted and in_review,
        "award_form": not conflicted and in_review,
        "refuse_form": not conflicted and in_review,
        # A dossier whose corrections are overdue may be closed, with the reason prefilled.
        "close_form": not conflicted and (in_review or corrections_closable(application)),
        "reopen_form": is_admin and status in DECIDED_STATES,
        "labels_form": bool(labels),
    }
    budget_rows = list(application.budget_years.order_by("year_index"))
    asked = budget_totals(budget_rows)
    fresh: dict[str, Any] = {
        "assign_form": lambda: AssignForm(application=application),
        "attestation_form": AttestationForm,
        "conflict_form": ConflictForm,
        "scores_form": lambda: ScoresForm(criteria=criteria, scores=my_scores),
        "eligibility_form": lambda: EligibilityForm(checks=checks, answers=answers),
        "opinion_form": lambda: OpinionRequestForm(call=application.call),
        "annotation_form": AnnotationForm,
        "message_form": MessageForm,
        "corrections_form": lambda: CorrectionsForm(call=application.call),
        "award_form": lambda: AwardForm(
            years=application.call.duration_years,
            initial={"amount": asked["requested"]},
        ),
        "refuse_form": RefuseForm,
        "close_form": lambda: (
            CloseForm(initial={"reason": _("Délai de compléments dépassé."), "closing_from": status})
            if status == S.CORRECTIONS
            else CloseForm()
        ),
        "reopen_form": ReopenForm,
        "labels_form": lambda: ApplicationLabelsForm(
            labels=labels,
            initial={"labels": [label.pk for label in labels if label.carried]},  # type: ignore[attr-defined]
        ),
    }
    context_forms: dict[str, forms.Form | None] = {}
    for key, shown in allowed.items():
        form = bound.get(key)
        if form is not None and not shown:
            # A refused action whose form is not on the page: its errors as messages.
            for errors in form.errors.values():
                for message in errors:
                    messages.error(request, str(message))
        context_forms[key] = (form or fresh[key]()) if shown else None

    # Others' scores, and the dossier's score, only once one's own are handed in (or to admins).
    show_scores = is_admin or (handed_in and not conflicted)
    sheets: list[ScoreSheet] = []
    if show_scores:
        totals = instructor_totals(application, assignments=assignments)
        for assignment in assignments:
            if assignment.scores_submitted_at is None or assignment.conflict_of_interest:
                continue
            rows = list(assignment.scores.all())
            sheets.append(ScoreSheet(assignment=assignment, rows=rows, total=totals.get(assignment.pk)))

    members = list(
        application.members.select_related("organisation").order_by("-is_lead", "organisation__name")
    )
    history = list(application.status_changes.select_related("actor", "document").order_by("at", "pk"))
    places = list(application.places.select_related("departement__region").prefetch_related("activities"))
    opinions = opinions_for_review(application)
    today = timezone.localdate()
    # The dossier's time line from the history already read: no query of its own.
    stays = stays_from_changes(history)
    return {
        "title": _("Instruction – %(reference)s") % {"reference": application.reference},
        "application": application,
        "is_admin": is_admin,
        "project_texts": project_texts(application),
        "members": members,
        "places": places,
        "territory": application_territory(application, places=places),
        "territory_moves": list(
            application.territory_moves.select_related("from_departement", "to_departement", "actor")
        ),
        "budget_rows": budget_rows,
        "budget_totals": asked,
        "attachments": list(
            application.attachments.select_related("required_document").order_by(
                "required_document__position", "uploaded_at", "pk"
            )
        ),
        "history": history,
        "stays": stays,
        "state_totals": state_totals(stays),
        "assignments": assignments,
        "mine": mine,
        "conflicted": conflicted,
        "attested": attested,
        "can_assign_self": mine is None and reviewable_state,
        "criteria": criteria,
        "checks": checks,
        "answers": answers,
        "my_scores": my_scores,
        "my_total": weighted_total(my_scores) if handed_in else None,
        "show_scores": show_scores,
        "sheets": sheets,
        "opinions": opinions,
        "opinion_overdue": sum(1 for opinion in opinions if opinion.overdue_on(today)),
        "today": today,
        "annotations": list(application.annotations.select_related("author").order_by("created_at", "pk")),
        "thread": message_thread(application),
        "in_review": in_review,
        "corrections_overdue": corrections_overdue(application),
        "labels": [label for label in labels if label.carried],  # type: ignore[attr-defined]
        "call_has_labels": bool(labels),
        # A folded section holding a form with errors is served open (see review_detail.html).
        "open_folds": {
            "dossier": False,
            "avis": "opinion_form" in bound,
            "annotations": "annotation_form" in bound,
            "messages": "message_form" in bound,
            "labels": "labels_form" in bound,
        },
        **context_forms,
    }


def render_review_detail(request: HttpRequest, application: Application, **bound: forms.Form) -> HttpResponse:
    return render(
        request, "applications/review/review_detail.html", _detail_context(request, application, bound)
    )


@review_required
@require_http_methods(["GET", "HEAD"])
@cached_page
def review_detail(request: HttpRequest, reference: str) -> HttpResponse:
    return render_review_detail(request, reviewable_application(request, reference))


# --- one view per action -----------------------------------------------------------------------


@review_required
@require_POST
def review_assign(request: HttpRequest, reference: str) -> HttpResponse:
    """« Me l'affecter » posts nothing; an admin's form names an instructor of the territory."""
    application = reviewable_application(request, reference)
    user = _user(request)
    form = AssignForm(request.POST, application=application)
    if form.add_prefix("instructor") not in request.POST:
        instructor = user
    elif form.is_valid():
        instructor = form.cleaned_data["instructor"]
    else:
        return render_review_detail(request, application, assign_form=form)
    try:
        assignment_create(application=application, instructor=instructor, actor=user)
    except ValidationError as error:
        return refused_action_response(request, application, error, assign_form=form)
    if instructor == user:
        messages.success(request, _("Le dossier vous est affecté."))
    else:
        messages.success(
            request,
            _("Le dossier est affecté à %(name)s.")
            % {"name": instructor.get_full_name() or instructor.email},
        )
    return redirect(review_detail_url(application, "affectations"))


@review_required
@require_POST
def review_conflict(request: HttpRequest, reference: str) -> HttpResponse:
    application = reviewable_application(request, reference)
    user = _user(request)
    assignment = get_object_or_404(Assignment, application=application, instructor=user)
    form = ConflictForm(request.POST)
    return review_form_action(
        request,
        application,
        form,
        bound_as="conflict_form",
        act=lambda: assignment_declare_conflict(
            assignment=assignment, note=form.cleaned_data["conflict_note"], actor=user
        ),
        success=_("Votre conflit d'intérêts est déclaré : vous ne notez ni ne décidez ce dossier."),
        anchor="affectations",
    )


@review_required
@require_POST
def review_attest(request: HttpRequest, reference: str) -> HttpResponse:
    """« Je n'ai pas de conflit d'intérêts avec ce dossier »: the attestation that opens scoring."""
    application = reviewable_application(request, reference)
    user = _user(request)
    assignment = get_object_or_404(Assignment, application=application, instructor=user)
    return review_form_action(
        request,
        application,
        AttestationForm(request.POST),
        bound_as="attestation_form",
        act=lambda: assignment_attest_no_conflict(assignment=assignment, actor=user),
        success=_(
            "Votre attestation d'absence de conflit d'intérêts est enregistrée : la notation est ouverte."
        ),
        anchor="notation",
    )


def scores_recap(application: Application, scores: list[Any], total: Any) -> Recap:
    """What handing in makes final: each criterion's score and comment, and the total on 100."""
    shown_total = number_format(total, decimal_pos=1) if total is not None else "—"
    return Recap(
        title=_("Confirmer la remise de ma notation – %(reference)s") % {"reference": application.reference},
        intro=_(
            "Vous allez remettre votre notation du dossier %(reference)s : %(total)s sur 100. "
            "Relisez-la avant de confirmer."
        )
        % {"reference": application.reference, "total": shown_total},
        action_url=reverse("applications:review-scores", kwargs={"reference": application.reference}),
        confirm_label=_("Confirmer la remise de ma notation"),
        lines=lines(
            [
                (_("Dossier"), f"{application.reference} – {application.title}"),
                (_("Note sur 100 (moyenne pondérée)"), shown_total),
            ]
        ),
        table_caption=_("Ma notation, critère par critère"),
        table_header=(_("Critère"), _("Poids"), _("Note"), _("Commentaire")),
        table_rows=[
            (
                score.criterion.label,
                str(score.criterion.weight),
                f"{score.value} / {score.criterion.scale_max}",
                score.comment or "—",
            )
            for score in scores
        ],
        notified=[
            _(
                "Personne n'est prévenu par courriel ; les autres instructeurs et les administrateurs du "
                "programme verront votre notation, et vous verrez la leur."
            )
        ],
        irreversible=[_("Une notation remise ne se modifie plus : elle compte dans la note du dossier.")],
    )


@review_required
@require_POST
def review_scores(request: HttpRequest, reference: str) -> HttpResponse:
    """« Enregistrer » keeps the scores editable; « Remettre ma notation » makes them final, after a recap."""
    application = reviewable_application(request, reference)
    user = _user(request)
    assignment = get_object_or_404(Assignment, application=application, instructor=user)
    criteria = list(Criterion.objects.filter(call=application.call_id))
    form = ScoresForm(request.POST, criteria=criteria, scores=[])
    submit = request.POST.get("action") == "submit"
    if not form.is_valid() or wants_edit(request):
        return render_review_detail(request, application, scores_form=form)
    try:
        if submit and not is_confirmed(request):
            scores, total = scores_preview(assignment=assignment, values=form.values(), actor=user)
            return recap_response(request, scores_recap(application, scores, total))
        scores_save(assignment=assignment, values=form.values(), submit=submit, actor=user)
    except ValidationError as error:
        return refused_action_response(request, application, error, scores_form=form)
    if submit:
        messages.success(
            request, _("Votre notation est remise. Les notes des autres instructeurs s'affichent.")
        )
    else:
        messages.success(
            request, _("Vos notes sont enregistrées ; elles restent modifiables jusqu'à leur remise.")
        )
    return redirect(review_detail_url(application, "notation"))


@review_required
@require_POST
def review_eligibility(request: HttpRequest, reference: str) -> HttpResponse:
    application = reviewable_application(request, reference)
    checks = list(EligibilityCheck.objects.filter(call=application.call_id))
    form = EligibilityForm(request.POST, checks=checks, answers=[])
    return review_form_action(
        request,
        application,
        form,
        bound_as="eligibility_form",
        act=lambda: eligibility_record(application=application, answers=form.answers(), actor=_user(request)),
        success=_("La vérification de l'éligibilité est enregistrée."),
        anchor="eligibilite",
    )


@review_required
@require_POST
def review_annotate(request: HttpRequest, reference: str) -> HttpResponse:
    application = reviewable_application(request, reference)
    form = AnnotationForm(request.POST)
    return review_form_action(
        request,
        application,
        form,
        bound_as="annotation_form",
        act=lambda: annotation_add(
            application=application, body=form.cleaned_data["body"], actor=_user(request)
        ),
        success=_("La note privée est enregistrée."),
        anchor="annotations",
    )


@review_required
@require_POST
def review_message(request: HttpRequest, reference: str) -> HttpResponse:
    application = reviewable_application(request, reference)
    form = MessageForm(request.POST, request.FILES)
    return review_form_action(
        request,
        application,
        form,
        bound_as="message_form",
        act=lambda: message_post(
            application=application,
            body=form.cleaned_data["body"],
            files=file_uploads(form.cleaned_data["attachments"]),
            actor=_user(request),
        ),
        success=_("Votre message est envoyé au porteur du projet."),
        anchor="messages",
    )


@review_required
@require_POST
def review_corrections(request: HttpRequest, reference: str) -> HttpResponse:
    application = reviewable_application(request, reference)
    form = CorrectionsForm(request.POST, call=application.call)
    return review_form_action(
        request,
        application,
        form,
        bound_as="corrections_form",
        act=lambda: corrections_request(
            application=application,
            points=form.point_list(),
            due_on=form.cleaned_data["due_on"],
            actor=_user(request),
        ),
        success=lambda change: (
            _("Les compléments sont demandés au porteur, avant le %(date)s : le dossier lui est rouvert.")
            % {"date": format_date(change.application.corrections_due_on)}
        ),
    )


# --- the applicant's side of the thread --------------------------------------------------------


@role_required(can_use_applicant_space)
@require_http_methods(["GET", "HEAD", "POST"])
def dossier_messages(request: HttpRequest, reference: str) -> HttpResponse:
    """The thread with the instruction team, in the applicant's frame. Private notes never show here."""
    application = get_visible_application(request, reference)
    open_thread = application.status != S.DRAFT
    form = MessageForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not open_thread:
            messages.error(
                request, _("La messagerie avec l'équipe d'instruction s'ouvre au dépôt du dossier.")
            )
            return redirect("applications:dossier-messages", reference=reference)
        if form.is_valid():
            try:
                message_post(
                    application=application,
                    body=form.cleaned_data["body"],
                    files=file_uploads(form.cleaned_data["attachments"]),
                    actor=_user(request),
                )
            except ValidationError as error:
                apply_refusal(form, error)
            else:
                messages.success(request, _("Votre message est envoyé à l'équipe d'instruction."))
                return redirect("applications:dossier-messages", reference=reference)
    thread = message_thread(application)
    return render(
        request,
        "applications/review/dossier_messages.html",
        dossier_context(
            request,
            application,
            "messages",
            form=form if open_thread else None,
            thread=thread,
            title=_("Messages – %(reference)s") % {"reference": application.reference},
        ),
    )
