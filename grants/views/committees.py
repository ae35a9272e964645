"""The selection committee's pages: the sessions of a call, a session (members and attendance, the
agenda, the decisions, the recap and the application, its results), a dossier of its agenda, and
the minutes. Programme admins prepare and hold the sessions; an invited instructor reads theirs."""

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.confirmation import Recap, is_confirmed, lines, recap_response
from accounts.models import Role
from accounts.permissions import role_required
from accounts.roles import has_role
from applications.models import Call
from applications.selectors import applications_reviewable_by
from applications.views.common import issued_document_response
from core.formatting import format_money
from core.refusals import apply_refusal, is_page_refusal, say_refusal
from grants.committee_workflow import AGENDA_EDITABLE, DECIDING, can_move
from grants.forms.committees import (
    AgendaAddForm,
    AttendanceForm,
    DecisionForm,
    MembersForm,
    MoveForm,
    ProposalForm,
    SessionCreateForm,
)
from grants.models import CommitteeItem, CommitteeSession
from grants.selectors.committees import (
    committee_agenda,
    committee_candidates,
    committee_members,
    committee_sessions_visible_to,
)
from grants.services.committees import (
    ApplyRecap,
    committee_agenda_add,
    committee_agenda_build,
    committee_apply,
    committee_apply_preview,
    committee_attendance_set,
    committee_cancel,
    committee_convene,
    committee_create,
    committee_decision_record,
    committee_item_propose,
    committee_item_remove,
    committee_members_set,
    committee_open,
    committee_reopen_preparation,
)
from grants.views.common import admin_required, user_of

C = CommitteeSession.Status
staff_required = role_required(lambda user: has_role(user, Role.ADMIN) or has_role(user, Role.INSTRUCTOR))


def _visible(request: HttpRequest, session_id: int) -> CommitteeSession:
    sessions = committee_sessions_visible_to(user_of(request)).select_related("call", "wave", "minutes")
    return get_object_or_404(sessions, pk=session_id)


def _detail_url(session: CommitteeSession) -> str:
    return reverse("grants:committee-detail", args=[session.pk])


# --- the sessions of a call -----------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def committee_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The sessions of a call (an instructor: those they sit in), and a new session (admins)."""
    user = user_of(request)
    call = get_object_or_404(Call, slug=slug)
    is_admin = has_role(user, Role.ADMIN)
    if request.method == "POST" and not is_admin:
        raise PermissionDenied
    form = SessionCreateForm(request.POST or None, call=call) if is_admin else None
    if form is not None and request.method == "POST" and form.is_valid():
        try:
            session = committee_create(call=call, actor=user, **form.cleaned_data)
        except ValidationError as error:
            apply_refusal(form, error)
        else:
            messages.success(request, _("La séance « %(title)s » est créée.") % {"title": session.title})
            return redirect(_detail_url(session))
    sessions = (
        committee_sessions_visible_to(user)
        .filter(call=call)
        .select_related("wave")
        .order_by("-starts_at", "-pk")
    )
    return render(
        request,
        "grants/committees/list.html",
        {
            "title": _("Comités de sélection — %(call)s") % {"call": call.title},
            "call": call,
            "sessions": sessions,
            "form": form,
            "is_admin": is_admin,
        },
    )


# --- a session ------------------------------------------------------------------------------------


def _agenda_rows(session: CommitteeSession) -> list[dict[str, Any]]:
    rows = []
    for item in committee_agenda(session):
        application = item.application
        leads = getattr(application, "lead_members", [])
        departement = application.departement
        rows.append(
            {
                "item": item,
                "application": application,
                "lead": leads[0].organisation.name if leads else "",
                "departement": f"{departement.code} – {departement.name}" if departement else "",
                "proposed_yearly": [format_money(Decimal(part)) for part in item.proposed_yearly],
                "yearly": [format_money(Decimal(part)) for part in item.yearly],
            }
        )
    return rows


def _render_detail(request: HttpRequest, session: CommitteeSession, **forms: Any) -> HttpResponse:
    """The session's page, with the forms of its state (bound ones handed in, to show their errors)."""
    user = user_of(request)
    is_admin = has_role(user, Role.ADMIN)
    members = list(committee_members(session))
    rows = _agenda_rows(session)
    context: dict[str, Any] = {
        "title": session.title,
        "session": session,
        "is_admin": is_admin,
        "members": members,
        "rows": rows,
        "agenda_editable": session.status in AGENDA_EDITABLE,
        "deciding": session.status in DECIDING,
        "attendance_open": session.status in (C.CONVENED, C.HELD),
        "counts": {
            "total": len(rows),
            "decided": sum(1 for row in rows if row["item"].decision),
            "applied": sum(1 for row in rows if row["item"].is_applied),
            "failed": sum(1 for row in rows if row["item"].outcome == CommitteeItem.Outcome.FAILED),
        },
        "history": session.status_changes.select_related("actor").order_by("at", "pk"),
        "moves": [
            (status, label) for status, label in C.choices if is_admin and can_move(session.status, status)
        ],
        "members_form": None,
        "attendance_form": None,
        "move_form": None,
        "add_form": None,
    }
    if is_admin:
        context["members_form"] = forms.get("members_form") or MembersForm(
            initial={"members": [member.user_id for member in members]}, candidates=committee_candidates()
        )
        context["attendance_form"] = forms.get("attendance_form") or AttendanceForm(members=members)
        context["move_form"] = forms.get("move_form") or MoveForm()
        context["add_form"] = forms.get("add_form") or AgendaAddForm()
    return render(request, "grants/committees/detail.html", context)


@staff_required
@require_http_methods(["GET", "HEAD"])
def committee_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    return _render_detail(request, _visible(request, session_id))


def _refused(
    request: HttpRequest, session: CommitteeSession, error: ValidationError | PermissionDenied
) -> HttpResponse:
    say_refusal(request, error)
    return redirect(_detail_url(session))


@admin_required
@require_POST
def committee_move(request: HttpRequest, session_id: int) -> HttpResponse:
    """Convene, back to preparation, hold, or cancel (with a reason) the session."""
    session = _visible(request, session_id)
    form = MoveForm(request.POST)
    user = user_of(request)
    if not form.is_valid() or not form.cleaned_data["to"]:
        messages.error(request, _("Choisissez l'étape suivante de la séance."))
        return redirect(_detail_url(session))
    target = form.cleaned_data["to"]
    verbs = {
        C.CONVENED: (committee_convene, _("Le comité est convoqué.")),
        C.DRAFT: (committee_reopen_preparation, _("La séance est de nouveau en préparation.")),
        C.HELD: (committee_open, _("La séance est ouverte : les décisions peuvent être enregistrées.")),
    }
    try:
        if target == C.CANCELLED:
            committee_cancel(session=session, reason=form.cleaned_data["reason"], actor=user)
            done = _("La séance est annulée.")
        elif target in verbs:
            verb, done = verbs[target]
            verb(session=session, actor=user)
        else:
            raise ValidationError(
                _("Les décisions sont appliquées par le bouton « Appliquer les décisions »."), code="state"
            )
    except ValidationError as error:
        if not is_page_refusal(error, form=form):
            apply_refusal(form, error)
            return _render_detail(request, session, move_form=form)
        return _refused(request, session, error)
    messages.success(request, done)
    return redirect(_detail_url(session))


@admin_required
@require_POST
def committee_members_view(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _visible(request, session_id)
    form = MembersForm(request.POST, candidates=committee_candidates())
    if form.is_valid():
        try:
            committee_members_set(
                session=session, users=list(form.cleaned_data["members"]), actor=user_of(request)
            )
        except ValidationError as error:
            if is_page_refusal(error, form=form):
                return _refused(request, session, error)
            apply_refusal(form, error)
        else:
            messages.success(request, _("Les membres du comité sont enregistrés."))
            return redirect(_detail_url(session))
    return _render_detail(request, session, members_form=form)


@admin_required
@require_POST
def committee_attendance_view(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _visible(request, session_id)
    form = AttendanceForm(request.POST, members=committee_members(session))
    if form.is_valid():
        try:
            committee_attendance_set(session=session, attendance=form.attendance(), actor=user_of(request))
        except ValidationError as error:
            if is_page_refusal(error, form=form):
                return _refused(request, session, error)
            apply_refusal(form, error)
        else:
            messages.success(request, _("Les présences sont enregistrées."))
            return redirect(_detail_url(session))
    return _render_detail(request, session, attendance_form=form)


@admin_required
@require_POST
def committee_agenda_build_view(request: HttpRequest, session_id: int) -> HttpResponse:
    """« Constituer l'ordre du jour »: the ranking of the dossiers eligible and scored."""
    session = _visible(request, session_id)
    try:
        items = committee_agenda_build(session=session, actor=user_of(request))
    except ValidationError as error:
        return _refused(request, session, error)
    messages.success(
        request,
        ngettext(
            "L'ordre du jour compte %(count)d dossier, classé par note.",
            "L'ordre du jour compte %(count)d dossiers, classés par note.",
            len(items),
        )
        % {"count": len(items)},
    )
    return redirect(_detail_url(session))


@admin_required
@require_POST
def committee_agenda_add_view(request: HttpRequest, session_id: int) -> HttpResponse:
    """One more dossier on the agenda, found by its reference among the dossiers the admin reviews."""
    session = _visible(request, session_id)
    user = user_of(request)
    form = AgendaAddForm(request.POST)
    if form.is_valid():
        reference = form.cleaned_data["reference"].strip().upper()
        application = applications_reviewable_by(user).filter(reference=reference).first()
        if application is None:
            form.add_error("reference", _("Aucun dossier déposé ne porte cette référence."))
        else:
            try:
                committee_agenda_add(
                    session=session, application=application, amount=form.cleaned_data["amount"], actor=user
                )
            except ValidationError as error:
                if is_page_refusal(error, form=form):
                    return _refused(request, session, error)
                apply_refusal(form, error)
            else:
                messages.success(
                    request,
                    _("Le dossier %(reference)s est inscrit à l'ordre du jour.") % {"reference": reference},
                )
                return redirect(_detail_url(session))
    return _render_detail(request, session, add_form=form)


# --- a dossier of the agenda ----------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def committee_item(request: HttpRequest, session_id: int, item_id: int) -> HttpResponseBase:
    """One dossier of the agenda: its proposed amount (before the session) or the committee's
    decision (in session), for admins; read-only for invited instructors."""
    session = _visible(request, session_id)
    item = get_object_or_404(
        CommitteeItem.objects.select_related("application", "grant"), session=session, pk=item_id
    )
    user = user_of(request)
    is_admin = has_role(user, Role.ADMIN)
    if request.method == "POST" and not is_admin:
        raise PermissionDenied
    years = session.call.duration_years
    form: ProposalForm | DecisionForm | None = None
    if is_admin and session.status in AGENDA_EDITABLE:
        form = ProposalForm(request.POST or None, item=item, years=years)
    elif is_admin and session.status in DECIDING and not item.is_applied:
        form = DecisionForm(request.POST or None, item=item, years=years)
    if request.method == "POST":
        if form is None:
            messages.error(request, _("Ce dossier ne peut plus être modifié dans cette séance."))
            return redirect(_detail_url(session))
        if isinstance(form, ProposalForm) and "retirer" in request.POST:
            try:
                committee_item_remove(item=item, actor=user)
            except ValidationError as error:
                return _refused(request, session, error)
            messages.success(
                request,
                _("Le dossier %(reference)s est retiré de l'ordre du jour.")
                % {"reference": item.application.reference},
            )
            return redirect(_detail_url(session))
        if form.is_valid():
            try:
                if isinstance(form, ProposalForm):
                    committee_item_propose(
                        item=item, amount=form.cleaned_data["amount"], yearly=form.yearly(), actor=user
                    )
                    done = _("Le montant proposé est enregistré.")
                else:
                    committee_decision_record(
                        item=item,
                        decision=form.cleaned_data["decision"],
                        amount=form.cleaned_data["amount"],
                        yearly=form.yearly(),
                        reasons=form.cleaned_data["reasons"],
                        actor=user,
                    )
                    done = _("La décision du comité est enregistrée.")
            except ValidationError as error:
                if is_page_refusal(error, form=form, codes={"state", "applied"}):
                    return _refused(request, session, error)
                apply_refusal(form, error)
            else:
                messages.success(request, done)
                return redirect(_detail_url(session))
    return render(
        request,
        "grants/committees/item.html",
        {
            "title": _("%(reference)s — %(session)s")
            % {"reference": item.application.reference, "session": session.title},
            "session": session,
            "item": item,
            "form": form,
            "deciding": isinstance(form, DecisionForm),
            "is_admin": is_admin,
            "proposed_yearly": [format_money(Decimal(part)) for part in item.proposed_yearly],
            "yearly": [format_money(Decimal(part)) for part in item.yearly],
        },
    )


# --- applying the decisions -----------------------------------------------------------------------


def apply_recap(session: CommitteeSession, recap: ApplyRecap) -> Recap:
    """The recap before the application: the counts, the total, the envelope before and after, and
    what each dossier is expected to get."""
    rows = []
    for row in recap.rows:
        item = row.item
        decision = str(CommitteeItem.Decision(item.decision).label)
        amount = format_money(row.committed) if row.committed else "—"
        expected = (
            _("Sera refusé : %(reason)s") % {"reason": row.refusal} if row.refusal else _("Sera appliqué")
        )
        rows.append(
            (str(item.rank), item.application.reference, item.application.title, decision, amount, expected)
        )
    facts = [
        (_("Attributions"), str(recap.awards)),
        (_("Refus"), str(recap.refusals)),
        (_("Ajournements"), str(recap.postponed)),
        (_("Total engagé (bonus compris)"), format_money(recap.total)),
        (_("Reste à engager sur l'enveloppe avant"), format_money(recap.envelope_before)),
        (_("Reste à engager sur l'enveloppe après"), format_money(recap.envelope_after)),
    ]
    if recap.already_applied:
        facts.append((_("Décisions déjà appliquées (ignorées)"), str(recap.already_applied)))
    count = len(recap.rows)
    return Recap(
        title=_("Confirmer l'application des décisions du comité"),
        intro=ngettext(
            "Vous allez appliquer la décision du comité sur %(count)d dossier.",
            "Vous allez appliquer les décisions du comité sur %(count)d dossiers.",
            count,
        )
        % {"count": count},
        action_url=reverse("grants:committee-apply", args=[session.pk]),
        confirm_label=_("Appliquer les décisions"),
        lines=lines(facts),
        table_caption=_("Décisions à appliquer, dans l'ordre du classement"),
        table_header=(_("Rang"), _("Dossier"), _("Projet"), _("Décision"), _("Engagé"), _("Résultat prévu")),
        table_rows=rows,
        notified=[
            _(
                "Pour chaque attribution et chaque refus, le porteur reçoit la lettre de décision par "
                "courriel ; un dossier ajourné reste en instruction, sans courrier."
            )
        ],
        irreversible=[
            _("Les montants sont engagés sur l'enveloppe et les conventions établies."),
            _(
                "Chaque dossier est décidé séparément : un dossier refusé à l'application (l'enveloppe "
                "épuisée, par exemple) n'empêche pas les autres ; appliquer de nouveau n'applique que ce "
                "qui reste."
            ),
            _("Le procès-verbal est produit une fois toutes les décisions appliquées."),
        ],
        can_edit=False,
        back_url=_detail_url(session),
        back_label=_("Revenir à la séance"),
    )


@admin_required
@require_POST
def committee_apply_view(request: HttpRequest, session_id: int) -> HttpResponse:
    """The recap, then once confirmed the decisions applied, each dossier's result on the page."""
    session = _visible(request, session_id)
    user = user_of(request)
    recap = committee_apply_preview(session=session, actor=user)
    if recap.blocked:
        for message in recap.blocked:
            messages.error(request, message)
        return redirect(_detail_url(session))
    if not is_confirmed(request):
        return recap_response(request, apply_recap(session, recap))
    try:
        results = committee_apply(session=session, actor=user)
    except ValidationError as error:
        return _refused(request, session, error)
    done = [result for result in results if result.done]
    failed = [result for result in results if not result.done]
    if done:
        messages.success(
            request,
            ngettext("%(count)d décision appliquée.", "%(count)d décisions appliquées.", len(done))
            % {"count": len(done)},
        )
    for result in failed:
        messages.error(
            request,
            _("%(reference)s : %(message)s") % {"reference": result.reference, "message": result.message},
        )
    return redirect(_detail_url(session))


@staff_required
@require_http_methods(["GET", "HEAD"])
def committee_minutes(request: HttpRequest, session_id: int) -> HttpResponseBase:
    """The procès-verbal (PDF), once rendered."""
    session = _visible(request, session_id)
    if session.minutes is None:
        messages.info(request, _("Le procès-verbal est produit une fois toutes les décisions appliquées."))
        return redirect(_detail_url(session))
    return issued_document_response(request, session.minutes, back=_detail_url(session))
