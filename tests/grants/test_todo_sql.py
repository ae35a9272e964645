"""The staff's to-do read in SQL (two queries) against the ORM groups it replaced (issue 13).

The previous implementation is kept below, as it was, for this comparison only: on a rich
fixture (instructors of a région, of a département, of both, of nothing, admins; assignments,
conflicts of interest, scores, corrections, opinions, agreements, payments on time and late,
reports), every user's to-do must have the same groups, rows, totals and order, whole and cut
to fewer rows.
"""

import io
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Window
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

import applications.next_steps as todo
from accounts.models import Role, User
from accounts.roles import has_role
from applications.models import Application, Assignment, Opinion, StatusChange
from applications.next_steps import UNDECIDED, TodoGroup, TodoItem
from applications.selectors import applications_reviewable_by
from core.formatting import format_date, format_money
from grants.models import Agreement, Grant, Report, Tranche

S = Application.Status
T = Tranche.Status
IN_PAYMENT = (T.REQUESTED, T.VALIDATED)

pytestmark = pytest.mark.django_db


# --- the previous implementation (ORM, one query per group) ----------------------------------------


def limited(queryset: QuerySet[Any]) -> tuple[list[Any], int]:
    """The first GROUP_LIMIT rows and the total, in one query (a window count)."""
    rows = list(queryset.annotate(todo_total=Window(expression=Count("pk")))[: todo.GROUP_LIMIT])
    return rows, (rows[0].todo_total if rows else 0)


def _review_url(application: Application) -> str:
    return reverse("applications:review-detail", args=[application.reference])


def _assigned_not_scored(user: User) -> TodoGroup:
    assignments = (
        Assignment.objects.filter(
            instructor=user,
            conflict_of_interest=False,
            scores_submitted_at__isnull=True,
            application__in=applications_reviewable_by(user).filter(status__in=UNDECIDED),
        )
        .select_related("application")
        .order_by("assigned_at", "pk")
    )
    rows, total = limited(assignments)
    items = [
        TodoItem(
            reference=row.application.reference,
            title=row.application.title,
            detail=_("Affecté le %(date)s.") % {"date": format_date(timezone.localdate(row.assigned_at))},
            url=_review_url(row.application),
            action=_("Noter « %(title)s »") % {"title": row.application.title},
        )
        for row in rows
    ]
    return TodoGroup("assigned", gettext_lazy("Dossiers qui vous sont affectés, à noter"), items, total)


def _to_assign(user: User) -> TodoGroup:
    """Dossiers submitted in the user's scope that no instructor has taken yet, oldest first."""
    anyone = Assignment.objects.filter(application=OuterRef("pk"))
    dossiers = (
        applications_reviewable_by(user)
        .filter(status=S.SUBMITTED)
        .filter(~Exists(anyone))
        .order_by("submitted_at", "pk")
    )
    rows, total = limited(dossiers)
    items = [
        TodoItem(
            reference=row.reference,
            title=row.title,
            detail=_("Déposé le %(date)s.") % {"date": format_date(row.submitted_at)}
            if row.submitted_at
            else _("Déposé."),
            url=_review_url(row),
            action=_("Affecter « %(title)s »") % {"title": row.title},
        )
        for row in rows
    ]
    return TodoGroup("to_assign", gettext_lazy("Dossiers déposés à affecter"), items, total)


def _scored_to_decide(user: User) -> TodoGroup:
    """Dossiers in review whose every instructor (conflicts aside) has handed in their scores.

    No decision is taken yet while the dossier is in review; an instructor sees those they scored.
    """
    reviewers = Assignment.objects.filter(application=OuterRef("pk"), conflict_of_interest=False)
    pending = reviewers.filter(scores_submitted_at__isnull=True)
    last_scores = reviewers.order_by("-scores_submitted_at", "-pk").values("scores_submitted_at")[:1]
    dossiers = (
        applications_reviewable_by(user)
        .filter(status=S.IN_REVIEW)
        .filter(Exists(reviewers), ~Exists(pending))
    )
    if not has_role(user, Role.ADMIN):
        dossiers = dossiers.filter(Exists(reviewers.filter(instructor=user)))
    dossiers = dossiers.annotate(scored_at=Subquery(last_scores)).order_by("scored_at", "pk")
    rows, total = limited(dossiers)
    items = [
        TodoItem(
            reference=row.reference,
            title=row.title,
            detail=_("Dernière notation remise le %(date)s.") % {"date": format_date(row.scored_at)},
            url=_review_url(row),
            action=_("Décider de « %(title)s »") % {"title": row.title},
        )
        for row in rows
    ]
    return TodoGroup("to_decide", gettext_lazy("Notations remises, décision à prendre"), items, total)


def _scoped_to_me(user: User, queryset: QuerySet[Application]) -> QuerySet[Application]:
    """An instructor's share of the territory's dossiers: those assigned to them, or to no one."""
    if has_role(user, Role.ADMIN):
        return queryset
    mine = Assignment.objects.filter(application=OuterRef("pk"), instructor=user, conflict_of_interest=False)
    anyone = Assignment.objects.filter(application=OuterRef("pk"))
    return queryset.filter(Q(Exists(mine)) | ~Q(Exists(anyone)))


def _corrections_answered(user: User) -> TodoGroup:
    """In review again after corrections: the dossier's last submission followed a request."""
    last_submission = StatusChange.objects.filter(application=OuterRef("pk"), to_status=S.SUBMITTED).order_by(
        "-at", "-pk"
    )
    dossiers = (
        _scoped_to_me(user, applications_reviewable_by(user).filter(status=S.IN_REVIEW))
        .annotate(
            resubmitted_from=Subquery(last_submission.values("from_status")[:1]),
            resubmitted_at=Subquery(last_submission.values("at")[:1]),
        )
        .filter(resubmitted_from=S.CORRECTIONS)
        .order_by("resubmitted_at", "pk")
    )
    rows, total = limited(dossiers)
    items = [
        TodoItem(
            reference=row.reference,
            title=row.title,
            detail=_("Compléments déposés le %(date)s.")
            % {"date": format_date(timezone.localdate(row.resubmitted_at))},
            url=_review_url(row),
            action=_("Examiner les compléments de « %(title)s »") % {"title": row.title},
        )
        for row in rows
    ]
    return TodoGroup("corrections", gettext_lazy("Compléments reçus"), items, total)


def _opinions_received(user: User) -> TodoGroup:
    """Opinions given on dossiers still undecided; an instructor sees those they asked for."""
    opinions = Opinion.objects.filter(
        given_at__isnull=False,
        application__in=applications_reviewable_by(user).filter(status__in=UNDECIDED),
    )
    if not has_role(user, Role.ADMIN):
        opinions = opinions.filter(requested_by=user)
    rows, total = limited(opinions.select_related("application").order_by("given_at", "pk"))
    items = [
        TodoItem(
            reference=row.application.reference,
            title=row.application.title,
            detail=_("Avis « %(verdict)s » de %(service)s, rendu le %(date)s.")
            % {
                "verdict": row.get_verdict_display(),
                "service": row.organisation_name,
                "date": format_date(timezone.localdate(row.given_at)),
            },
            url=_review_url(row.application),
            action=_("Lire l'avis sur « %(title)s »") % {"title": row.application.title},
        )
        for row in rows
    ]
    return TodoGroup("opinions", gettext_lazy("Avis reçus"), items, total)


def old_staff_todo(user: User) -> list[TodoGroup]:
    """What waits for an instructor or a programme admin, every group scoped to what they may see.

    One query per group (rows and total together), whatever the number of dossiers; empty groups
    are left out.
    """
    if not (has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)):
        return []
    groups = [
        _to_assign(user),
        _assigned_not_scored(user),
        _scored_to_decide(user),
        _corrections_answered(user),
        _opinions_received(user),
    ]
    groups.extend(old_staff_grant_todo(user))
    return [group for group in groups if group.total]


def _manage_url(application: Application) -> str:
    return reverse("grants:tranche-manage", args=[application.reference])


def _tranche_item(tranche: Tranche, action: str) -> TodoItem:
    application = tranche.grant.application
    pay_by = tranche.pay_by
    return TodoItem(
        reference=application.reference,
        title=application.title,
        detail=_("Tranche de l'année %(year)d, %(amount)s : à verser au plus tard le %(date)s.")
        % {
            "year": tranche.year_index,
            "amount": format_money(tranche.amount),
            "date": format_date(pay_by) if pay_by else "—",
        },
        url=_manage_url(application),
        action=action % {"title": application.title},
        overdue=tranche.is_late,
    )


def _tranches_of(user: User, statuses: Sequence[str]) -> QuerySet[Tranche]:
    return (
        Tranche.objects.filter(
            status__in=statuses,
            grant__status=Grant.Status.ACTIVE,
            grant__application__in=applications_reviewable_by(user),
        )
        .select_related("grant__application")
        .order_by("requested_at", "pk")
    )


def _late_since(today: date) -> datetime:
    """Requested before this instant, a tranche is past its 60-day deadline today (Tranche.pay_by)."""
    first_day_on_time = today - timedelta(days=Tranche.PAYMENT_DELAY_DAYS)
    return timezone.make_aware(datetime.combine(first_day_on_time, time.min))


def old_staff_grant_todo(user: User) -> list[TodoGroup]:
    """Agreements to activate and payments to record (admins), payment requests to validate,
    overdue payments and reports to examine (the territory's instructors and admins)."""
    groups = []
    is_admin = has_role(user, Role.ADMIN)
    if is_admin:
        agreements = (
            Agreement.objects.filter(status=Agreement.Status.SIGNED, grant__status=Grant.Status.ACTIVE)
            .select_related("grant__application")
            .order_by("signed_at", "pk")
        )
        rows, total = limited(agreements)
        groups.append(
            TodoGroup(
                "agreements",
                gettext_lazy("Conventions signées à activer"),
                [
                    TodoItem(
                        reference=row.grant.application.reference,
                        title=row.grant.application.title,
                        detail=_(
                            "Convention n° %(number)s signée le %(date)s : saisissez son numéro d'engagement."
                        )
                        % {
                            "number": row.number,
                            "date": format_date(timezone.localdate(row.signed_at)) if row.signed_at else "—",
                        },
                        url=reverse("grants:agreement-detail", args=[row.number]),
                        action=_("Activer la convention n° %(number)s") % {"number": row.number},
                    )
                    for row in rows
                ],
                total,
            )
        )
    rows, total = limited(_tranches_of(user, [T.REQUESTED]))
    groups.append(
        TodoGroup(
            "requested",
            gettext_lazy("Demandes de versement à valider"),
            [_tranche_item(row, _("Valider la demande de « %(title)s »")) for row in rows],
            total,
        )
    )
    if is_admin:
        rows, total = limited(_tranches_of(user, [T.VALIDATED]))
        groups.append(
            TodoGroup(
                "validated",
                gettext_lazy("Versements validés à enregistrer"),
                [_tranche_item(row, _("Enregistrer le versement de « %(title)s »")) for row in rows],
                total,
            )
        )
    late = _tranches_of(user, IN_PAYMENT).filter(requested_at__lt=_late_since(timezone.localdate()))
    rows, total = limited(late)
    groups.append(
        TodoGroup(
            "late",
            gettext_lazy("Versements en retard (délai de 60 jours dépassé)"),
            [_tranche_item(row, _("Voir les versements de « %(title)s »")) for row in rows],
            total,
        )
    )
    reports = (
        Report.objects.filter(
            status=Report.Status.SUBMITTED,
            grant__status=Grant.Status.ACTIVE,
            grant__application__in=applications_reviewable_by(user),
        )
        .select_related("grant__application")
        .order_by("uploaded_at", "pk")
    )
    rows, total = limited(reports)
    groups.append(
        TodoGroup(
            "reports",
            gettext_lazy("Rapports annuels à examiner"),
            [
                TodoItem(
                    reference=row.grant.application.reference,
                    title=row.grant.application.title,
                    detail=_("%(kind)s de l'année %(year)d, déposé le %(date)s.")
                    % {
                        "kind": row.get_kind_display(),
                        "year": row.year_index,
                        "date": format_date(timezone.localdate(row.uploaded_at)),
                    },
                    url=_manage_url(row.grant.application),
                    action=_("Examiner le rapport de « %(title)s »") % {"title": row.grant.application.title},
                )
                for row in rows
            ],
            total,
        )
    )
    return groups


# --- the comparison ----------------------------------------------------------------------------------


def _fixture() -> dict[str, Any]:
    """Every group filled for someone, in two territories (the Gers in Occitanie, and Paris)."""
    from django.contrib.auth.models import Group

    from applications.services import application_submit
    from applications.services.review import (
        assignment_create,
        assignment_declare_conflict,
        corrections_request,
        opinion_give,
        opinion_request,
        scores_save,
    )
    from devtools.builders import PDF_BYTES
    from fabriques.models import Departement, Region
    from fabriques.services import instructor_scope_set
    from grants.services.reports import report_upload
    from tests.factories import (
        applicant,
        in_review_application,
        instructor,
        occitanie_instructor,
        programme_admin,
        submitted_application,
    )
    from tests.grants.test_payments import Setup, force

    def to_paris(application: Application) -> None:
        Application.objects.filter(pk=application.pk).update(departement_id="75")

    def score_all(application: Application, reviewer: User) -> None:
        assignment = application.assignments.get(instructor=reviewer)
        values = {criterion.pk: (3, "Conforme.") for criterion in application.call.criteria.all()}
        scores_save(assignment=assignment, values=values, submit=True, actor=reviewer)

    def corrections_answered(application: Application, reviewer: User) -> None:
        corrections_request(application=application, points=["Le budget"], actor=reviewer)
        application.refresh_from_db()
        application_submit(application=application, actor=application.created_by)
        application.refresh_from_db()

    def opinion(application: Application, by: User, verdict: str, service: str) -> None:
        asked = opinion_request(
            application=application,
            email="avis@example.gouv.fr",
            organisation_name=service,
            question="Quel est votre avis sur ce projet ?",
            actor=by,
        )
        opinion_give(opinion=asked, verdict=verdict, comment="Avis motivé.", actor=asked.expert)

    admin = programme_admin()
    for _n in range(3):
        submitted_application()  # to assign, in the Gers
    to_paris(submitted_application())  # to assign, in Paris

    # Assigned and not scored; one of them to a second instructor who declared a conflict.
    assigned, reviewer = in_review_application()
    other_assigned, _other = in_review_application()
    assignment_create(application=other_assigned, instructor=reviewer, actor=reviewer)
    # Scored by every instructor but the one in conflict: to decide.
    decided, scorer = in_review_application()
    conflicted = occitanie_instructor()
    conflict = assignment_create(application=decided, instructor=conflicted, actor=admin)
    assignment_declare_conflict(assignment=conflict, note="Ancien salarié", actor=conflicted)
    score_all(decided, scorer)
    to_paris_decided, paris_scorer = in_review_application()
    score_all(to_paris_decided, paris_scorer)
    to_paris(to_paris_decided)
    # Corrections answered: one assigned, one whose assignment was withdrawn (no one's: everyone's).
    corrected, corrector = in_review_application()
    corrections_answered(corrected, corrector)
    orphan, orphan_reviewer = in_review_application()
    corrections_answered(orphan, orphan_reviewer)
    Assignment.objects.filter(application=orphan).delete()
    # Opinions given, asked by different instructors; one still awaited.
    opinion(corrected, corrector, "favourable", "SGAR Occitanie")
    opinion(assigned, reviewer, "unfavourable", "DDT du Gers")
    opinion_request(
        application=assigned,
        email="x@example.gouv.fr",
        organisation_name="DREAL",
        question="Quel est votre avis sur ce projet ?",
        actor=reviewer,
    )

    # Grants: a signed agreement to activate, payments requested, validated, late by a day or not.
    signed = Setup(agreement_status="signed")
    force(signed.tranche(1), T.REQUESTED, requested_days_ago=61)
    force(signed.tranche(2), T.REQUESTED, requested_days_ago=59)
    active = Setup(agreement_status="active")
    force(active.tranche(1), T.VALIDATED, requested_days_ago=60)
    force(active.tranche(2), T.VALIDATED, requested_days_ago=90)
    paris = Setup(agreement_status="signed", amount="100000.50")
    force(paris.tranche(1), T.REQUESTED, requested_days_ago=120)
    to_paris(paris.application)
    for kind in ("activity", "financial"):
        report_upload(
            grant=active.grant,
            year_index=1,
            kind=kind,
            file=io.BytesIO(PDF_BYTES),
            filename=f"{kind}.pdf",
            actor=active.beneficiary,
        )

    by_departement = instructor()
    instructor_scope_set(
        instructor=by_departement, departements=[Departement.objects.get(code="75")], actor=None
    )
    both = instructor()
    instructor_scope_set(
        instructor=both,
        regions=[Region.objects.get(code="76")],
        departements=[Departement.objects.get(code="75")],
        actor=None,
    )
    admin_and_instructor = occitanie_instructor()
    admin_and_instructor.groups.add(Group.objects.get(name=Role.ADMIN.value))
    return {
        "reviewer": reviewer,
        "scorer": scorer,
        "conflicted": conflicted,
        "paris_scorer": paris_scorer,
        "corrector": corrector,
        "by_departement": by_departement,
        "both": both,
        "nowhere": instructor(),
        "admin": admin,
        "admin_and_instructor": admin_and_instructor,
        "applicant": applicant(),
    }


def test_the_todo_in_sql_gives_the_same_groups_rows_totals_and_order_as_the_orm_for_every_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from applications.next_steps import staff_todo

    users = _fixture()
    seen: set[str] = set()
    cut: set[str] = set()
    for limit in (10, 2, 1):
        monkeypatch.setattr(todo, "GROUP_LIMIT", limit)
        for name, user in users.items():
            # A fresh user object for each call, as in a request (the roles and scope are kept on it).
            new = staff_todo(User.objects.get(pk=user.pk))
            old = [group for group in old_staff_todo(User.objects.get(pk=user.pk)) if group.total]
            assert [(group.key, group.total) for group in new] == [
                (group.key, group.total) for group in old
            ], name
            assert new == old, name
            seen.update(group.key for group in new)
            cut.update(group.key for group in new if group.total > len(group.items))
    every = {"to_assign", "assigned", "to_decide", "corrections", "opinions"}
    every |= {"agreements", "requested", "validated", "late", "reports"}
    assert seen == every  # the fixture fills every group for someone
    assert cut == every  # and each is cut to fewer rows than its total at least once
    assert staff_todo(users["applicant"]) == [] and staff_todo(users["nowhere"]) == []
    monkeypatch.setattr(todo, "GROUP_LIMIT", 10)
    admin = {group.key: group for group in staff_todo(users["admin"])}
    # Hand-checked, beside the comparison: the admin's totals, and the late flags by the 60 days.
    assert {key: group.total for key, group in admin.items()} == {
        "to_assign": 4,
        "to_decide": 2,
        "corrections": 2,
        "opinions": 2,
        "agreements": 2,
        "requested": 3,
        "validated": 2,
        "late": 3,
        "reports": 2,
    }
    assert [item.overdue for item in admin["requested"].items] == [True, True, False]
    first = admin["requested"].items[0]
    oldest = Tranche.objects.get(grant__application__reference=first.reference, year_index=1)
    assert format_money(oldest.amount) in first.detail  # the decimals read back as the ORM's

    # The pages that show it: the same HTML with either, but for the per-request tokens.
    import applications.views.workspace as workspace_view
    import grants.views.steering as steering_view

    def page(user: User, url: str, module: object, todo_of: object) -> str:
        monkeypatch.setattr(module, "staff_todo", todo_of)
        client = Client()
        client.force_login(user)
        body = client.get(url).content.decode()
        return re.sub(r'(CSRFToken": |nonce=|value=)"[^"]*"', "", body)

    def previous(user: User) -> list[TodoGroup]:
        return [group for group in old_staff_todo(user) if group.total]

    for user, url, module in (
        (users["both"], reverse("applications:instructor-home"), workspace_view),
        (users["admin"], reverse("grants:admin-home"), steering_view),
    ):
        new_page, old_page = page(user, url, module, staff_todo), page(user, url, module, previous)
        assert "Versements en retard" in new_page
        assert new_page == old_page


def test_the_todo_follows_every_change_of_its_data_and_of_the_territory_on_the_same_user_object() -> None:
    """The SQL text is kept (the territory's, once per process), never the rows: a change made by
    QuerySet.update() (no signal) or of the instructor's scope shows at the next call."""
    from applications.next_steps import staff_todo
    from fabriques.models import Departement
    from fabriques.services import instructor_scope_set
    from tests.factories import occitanie_instructor, submitted_application

    user = occitanie_instructor()
    gers = submitted_application()
    assert [(group.key, group.total) for group in staff_todo(user)] == [("to_assign", 1)]
    paris = submitted_application()
    Application.objects.filter(pk=paris.pk).update(departement_id="75")
    Application.objects.filter(pk=gers.pk).update(title="Un autre titre")
    todo_now = staff_todo(user)
    assert [(group.key, group.total) for group in todo_now] == [("to_assign", 1)]
    assert todo_now[0].items[0].title == "Un autre titre"
    instructor_scope_set(instructor=user, departements=[Departement.objects.get(code="75")], actor=None)
    todo_now = staff_todo(user)  # the same user object, its scope changed
    assert [item.reference for item in todo_now[0].items] == [paris.reference]
