"""Reads on dossiers: what a user may see, and what a dossier still lacks."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Rank
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, User
from accounts.roles import has_role, roles_of
from applications.models import (
    Access,
    Application,
    ApplicationLabel,
    Assignment,
    Attachment,
    Call,
    DossierCount,
    Label,
    Member,
    Message,
    MessageFile,
    Opinion,
    RequiredDocument,
    SavedView,
)
from applications.rules import budget_errors
from core.formatting import format_percent, french_sorted
from fabriques.models import Departement, InstructorScope, Region, TiersLieu
from fabriques.selectors import departements_in_scope, instructors_covering


def applications_visible_to(user: User | AnonymousUser) -> QuerySet[Application]:
    """Every dossier a user may open; any other id is a 404.

    Applicants: the dossiers of the structures they act for (lead or partner) and those they were
    invited to. Instructors: the submitted dossiers of their territory. Programme admins: every
    submitted dossier. A draft belongs to its applicant alone.
    """
    return Application.objects.filter(visibility_condition(user))


def visibility_condition(user: User | AnonymousUser, prefix: str = "") -> Q:
    """The rule of `applications_visible_to` as a condition on a dossier reached by `prefix` (e.g.
    "grant__application__"): a model linked to one dossier filters on its joined dossier, which
    PostgreSQL reads by its key, instead of testing its id against every visible dossier of the
    base (`…__in=applications_visible_to(user)`: the agreements list at 100 000 dossiers)."""
    if not user.is_authenticated:
        return Q(pk__in=[])
    condition = Q(pk__in=[])
    if has_role(user, Role.APPLICANT):
        # The ids of their dossiers read first from the two link tables (a few rows each): an OR of
        # two correlated EXISTS made PostgreSQL test every dossier of the base (345 ms for an
        # applicant's home at 100 000 dossiers, 1 ms this way; docs/performance.md).
        member_of = (
            Member.objects.filter(organisation__memberships__user=user).order_by().values("application_id")
        )
        invited = Access.objects.filter(user=user).order_by().values("application_id")
        condition |= Q(**{f"{prefix}pk__in": member_of.union(invited)})
    if has_role(user, Role.INSTRUCTOR):
        condition |= ~Q(**{f"{prefix}status": Application.Status.DRAFT}) & Q(
            **{f"{prefix}departement__in": departements_in_scope(instructor=user)}
        )
    if has_role(user, Role.ADMIN):
        condition |= ~Q(**{f"{prefix}status": Application.Status.DRAFT})
    return condition


def applications_reviewable_by(user: User) -> QuerySet[Application]:
    """The dossiers an instructor or admin may review: visible to them and not drafts.

    The queryset is built once per user object (a request's user) and a clone handed out each
    time: a page scopes ten or so queries with it (the to-do, the tabs, the rows). An instructor's
    territory is a subquery nested three deep (the départements of their régions and their single
    départements) that Django would resolve and compile again in each of those queries, the
    largest part of the staff to-do's cost; its SQL is compiled here once and embedded as is. The
    SQL depends only on the user's id, roles and the database's vendor (the scope itself is read
    by the database at each query), so the memo is keyed on them and is never stale; it is never
    evaluated.
    """
    if not (has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)):
        return Application.objects.none()
    key = (user.pk, roles_of(user), connection.vendor)
    memo: tuple[Any, QuerySet[Application]] | None = getattr(user, "_reviewable_by", None)
    if memo is None or memo[0] != key:
        scope = Q()
        if not has_role(user, Role.ADMIN):
            codes = departements_in_scope(instructor=user).order_by().values("code")
            sql, params = codes.query.sql_with_params()
            # SQL and parameters as Django compiled them, parameters kept apart.
            scope = Q(departement__in=RawSQL(sql, params))  # noqa: S611
        memo = (key, Application.objects.exclude(status=Application.Status.DRAFT).filter(scope))
        setattr(user, "_reviewable_by", memo)  # noqa: B010 (a per-request cache, not a field)
    return memo[1].all()


# An instructor id no user has: the territory's SQL is compiled once for it, then bound to each user.
_ANY_INSTRUCTOR = -918273645


@lru_cache(maxsize=4)
def _territory_sql(vendor: str) -> tuple[str, int]:
    """The SQL of `departements_in_scope` (the départements' codes), compiled by Django once per
    process and database vendor, and how many times it takes the instructor's id.

    The text does not depend on the instructor, only its parameters do; the scopes themselves are
    read by the database at each query, so the text never goes stale.
    """
    codes = departements_in_scope(instructor=User(pk=_ANY_INSTRUCTOR)).order_by().values("code")
    sql, params = codes.query.sql_with_params()
    if any(param != _ANY_INSTRUCTOR for param in params):  # pragma: no cover (a change of the rule)
        raise ValueError("The territory's SQL takes other parameters than the instructor's id.")
    return sql, len(params)


def reviewable_condition(user: User, *, alias: str) -> tuple[str, list[Any]]:
    """`applications_reviewable_by(user)` as an SQL condition on the dossiers' table under `alias`,
    with its parameters, for the selectors written in SQL (the staff's to-do).

    The same rule: never a draft; an admin every other dossier; an instructor those of the
    départements of their territory; anyone else none. Only the parameters depend on the user.
    """
    if not (has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)):
        return "1 = 0", []
    condition = f"{alias}.status <> %s"
    params: list[Any] = [Application.Status.DRAFT.value]
    if not has_role(user, Role.ADMIN):
        territory, uses = _territory_sql(connection.vendor)
        condition += f" AND {alias}.departement_id IN ({territory})"
        params += [user.pk] * uses
    return condition, params


# The workspace's filters the dossier counts answer (the others count the dossiers themselves).
COUNTED_FILTERS = frozenset({"call", "wave", "departement", "kind", "status"})


def reviewable_counts_by_status(user: User, filters: Mapping[str, Any] | None = None) -> dict[str, int]:
    """How many dossiers `applications_reviewable_by(user)` holds in each state, from the counts,
    narrowed by the workspace's filters among `COUNTED_FILTERS` (the others are not looked at).

    One query on `DossierCount` (a few rows per call, wave, département, kind and state), whatever
    the number of dossiers; the same figures as counting the reviewable dossiers themselves.
    """
    if not (has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)):
        return {}
    filters = filters or {}
    counts = DossierCount.objects.exclude(status=Application.Status.DRAFT)
    if not has_role(user, Role.ADMIN):
        counts = counts.filter(departement_code__in=departements_in_scope(instructor=user).values("code"))
    if filters.get("call") is not None:
        counts = counts.filter(call_id=filters["call"].pk)
    if filters.get("wave") is not None:
        counts = counts.filter(wave_key=filters["wave"].pk)
    if filters.get("departement") is not None:
        counts = counts.filter(departement_code=filters["departement"].pk)
    if filters.get("kind"):
        counts = counts.filter(kind=filters["kind"])
    if filters.get("status"):
        counts = counts.filter(status=filters["status"])
    rows = counts.order_by().values_list("status").annotate(n=Sum("count"))
    return {status: int(n or 0) for status, n in rows}


# --- the review workspace ------------------------------------------------------------------------

# The orders the workspace offers (the filter form's `sort` values).
WORKSPACE_SORTS: dict[str, list[Any]] = {
    "submitted": [F("submitted_at").asc(nulls_last=True), "reference"],
    "-submitted": [F("submitted_at").desc(nulls_last=True), "-reference"],
    "score": [F("score").asc(nulls_last=True), "reference"],
    "-score": [F("score").desc(nulls_last=True), "reference"],
    "reference": ["reference"],
    "-reference": ["-reference"],
    "departement": [F("departement_id").asc(nulls_last=True), "reference"],
    "-departement": [F("departement_id").desc(nulls_last=True), "reference"],
}

SPACES = re.compile(r"\s+")


def _workspace_search(queryset: QuerySet[Application], text: str) -> QuerySet[Application]:
    """Title, reference, the lead structure's name, and its SIRET typed with or without spaces."""
    text = text.strip()
    if not text:
        return queryset
    lead_matches = Q(organisation__name__icontains=text)
    compact = SPACES.sub("", text)
    if compact.isdigit():
        lead_matches |= Q(organisation__siret__contains=compact)
    lead = Member.objects.filter(lead_matches, application=OuterRef("pk"), is_lead=True)
    return queryset.filter(Q(title__icontains=text) | Q(reference__icontains=compact) | Q(Exists(lead)))


# The « Affectation » filter's own values (the others are instructors' ids), and « en retard »'s.
ASSIGNED_TO_ME = "me"
NOT_ASSIGNED = "none"
OVERDUE = "1"


def workspace_instructors(user: User) -> list[tuple[int, str]]:
    """The instructors the « Affectation » filter offers to `user` (id, name), by name, the user
    left out (« Affectés à moi »): for an instructor, the active instructors whose territory shares
    a département with theirs; for a programme admin, every active instructor. One query.

    The filter narrows `applications_reviewable_by(user)`: naming an instructor of another
    territory would show nothing more than the user's own dossiers anyway."""
    if not (has_role(user, Role.INSTRUCTOR) or has_role(user, Role.ADMIN)):
        return []
    # Semi-joins from the small tables (the group's members, the scopes) into the users' primary
    # key, rather than joins and a DISTINCT over the users: the accounts table holds every
    # applicant, and the joins' plan read it whole (6 ms at 100 000 dossiers, against 1 ms).
    members = User.groups.through.objects.filter(group__name=Role.INSTRUCTOR.value).values("user_id")
    instructors = User.objects.filter(pk__in=members, is_active=True).exclude(pk=user.pk)
    if not has_role(user, Role.ADMIN):
        codes = departements_in_scope(instructor=user).order_by().values("code")
        sharing = InstructorScope.objects.filter(
            Q(departement__in=codes) | Q(region__departements__in=codes)
        ).values("instructor_id")
        instructors = instructors.filter(pk__in=sharing)
    rows = instructors.order_by("last_name", "first_name", "email", "pk").values_list(
        "pk", "first_name", "last_name", "email"
    )
    return [(pk, f"{first} {last}".strip() or email) for pk, first, last, email in rows]


def overdue_condition(*, now: datetime, delays: Sequence[int]) -> Q:
    """« En retard » on `now`: submitted or in review for longer than the call's instruction delay,
    counted from the last submission (`instruction_since`, see workspace_filtered), or corrections
    still awaited on or after their due date (the first day they are late).

    `delays`: the calls' instruction delays in use (a few values): one condition per delay, so that
    the comparison is on plain dates and the same on PostgreSQL and SQLite."""
    S = Application.Status
    today = timezone.localdate(now)
    late = Q(status=S.CORRECTIONS, corrections_due_on__lte=today)
    for days in delays:
        late |= Q(
            status__in=(S.SUBMITTED, S.IN_REVIEW),
            call__instruction_delay_days=days,
            instruction_since__lt=now - timedelta(days=days),
        )
    return late


def application_overdue(application: Application, *, now: datetime) -> bool:
    """`overdue_condition` for one dossier read with its call (the list's state badge)."""
    S = Application.Status
    if application.status == S.CORRECTIONS:
        due = application.corrections_due_on
        return due is not None and timezone.localdate(now) >= due
    if application.status not in (S.SUBMITTED, S.IN_REVIEW):
        return False
    since = application.last_submitted_at or application.submitted_at
    return since is not None and since < now - timedelta(days=application.call.instruction_delay_days)


def overdue_opinions_condition(*, today: date | None = None) -> Exists:
    """A dossier with an open expert opinion whose due date has passed (« Avis en retard »)."""
    today = today or timezone.localdate()
    return Exists(
        Opinion.objects.filter(application=OuterRef("pk"), status=Opinion.Status.REQUESTED, due_on__lt=today)
    )


def workspace_filtered(
    user: User, filters: Mapping[str, Any], *, now: datetime | None = None
) -> QuerySet[Application]:
    """The dossiers the user reviews, narrowed by the workspace's filters (the form's cleaned values).

    `now`: the moment « en retard » is judged at (tests travel in time with it)."""
    queryset = applications_reviewable_by(user)
    if filters.get("departement") is not None:
        queryset = queryset.filter(departement=filters["departement"])
    if filters.get("zone"):
        places = Application.places.through.objects.filter(
            application=OuterRef("pk"), tierslieu__zone=filters["zone"]
        )
        queryset = queryset.filter(Exists(places))
    if filters.get("kind"):
        queryset = queryset.filter(kind=filters["kind"])
    if filters.get("call") is not None:
        queryset = queryset.filter(call=filters["call"])
    if filters.get("wave") is not None:
        queryset = queryset.filter(wave=filters["wave"])
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("score_min") is not None:
        queryset = queryset.filter(score__gte=filters["score_min"])
    if filters.get("score_max") is not None:
        queryset = queryset.filter(score__lte=filters["score_max"])
    if filters.get("q"):
        queryset = _workspace_search(queryset, filters["q"])
    if filters.get("labels"):
        # Any of the chosen labels: one EXISTS on the links' (dossier, label) unique index.
        carried = ApplicationLabel.objects.filter(application=OuterRef("pk"), label__in=filters["labels"])
        queryset = queryset.filter(Exists(carried))
    assigned = filters.get("assigned")
    if assigned == NOT_ASSIGNED:
        # The count kept by the database's triggers (migration 0015): no look at the assignments.
        queryset = queryset.filter(assignment_count=0)
    elif assigned == ASSIGNED_TO_ME or isinstance(assigned, int):
        instructor_id = user.pk if assigned == ASSIGNED_TO_ME else assigned
        # One EXISTS on the assignments' (dossier, instructor) unique index.
        queryset = queryset.filter(
            Exists(Assignment.objects.filter(application=OuterRef("pk"), instructor_id=instructor_id))
        )
    if filters.get("overdue"):
        delays = list(Call.objects.order_by().values_list("instruction_delay_days", flat=True).distinct())
        queryset = queryset.alias(instruction_since=Coalesce("last_submitted_at", "submitted_at")).filter(
            overdue_condition(now=now or timezone.now(), delays=delays)
        )
    if filters.get("opinions_overdue"):
        # An open expert opinion past its due date: one EXISTS on the opinions' partial index.
        today = timezone.localdate(now) if now is not None else None
        queryset = queryset.filter(overdue_opinions_condition(today=today))
    return queryset


def workspace_tab_counts(
    *,
    user: User,
    filtered: QuerySet[Application],
    filters: Mapping[str, Any],
    tabs: Mapping[str, Sequence[str]],
) -> dict[str, int]:
    """How many dossiers each tab (its key: the states it lists) holds, in one query: the dossier
    counts kept by the database when the filters in use are among `COUNTED_FILTERS` (a few rows
    per call, wave, département, kind and state instead of every dossier of the territory), or one
    aggregate over the filtered dossiers (a search, a zone, a score)."""
    in_use = {name for name, value in filters.items() if value not in (None, "", [])} - {"sort", "per_page"}
    if in_use - COUNTED_FILTERS:
        return filtered.aggregate(
            **{key: Count("pk", filter=Q(status__in=statuses)) for key, statuses in tabs.items()}
        )
    by_status = reviewable_counts_by_status(user, filters)
    return {key: sum(by_status.get(status, 0) for status in statuses) for key, statuses in tabs.items()}


def workspace_rows(
    filtered: QuerySet[Application],
    *,
    statuses: Sequence[str],
    sort: str,
    ranked: bool,
    labels: bool = False,
) -> QuerySet[Application]:
    """The rows of one tab, in a fixed number of queries whatever its size: the lead structure
    prefetched, whether the dossier's département has a laureate as an `Exists` annotation,
    (`ranked`) the rank by score as a window, and (`labels`: some label exists) the dossiers'
    labels prefetched as `label_list`, in one more query."""
    laureate_here = Application.objects.filter(
        departement=OuterRef("departement"), status=Application.Status.AWARDED
    )
    lead = Member.objects.filter(is_lead=True).select_related("organisation")
    rows = (
        filtered.filter(status__in=statuses)
        .select_related("departement", "call", "wave")
        .prefetch_related(Prefetch("members", queryset=lead, to_attr="lead_members"))
        .annotate(departement_has_laureate=Exists(laureate_here))
        .order_by(*WORKSPACE_SORTS[sort])
    )
    if ranked:
        rows = rows.annotate(rank=Window(expression=Rank(), order_by=F("score").desc(nulls_last=True)))
    if labels:
        shown = Label.objects.only("pk", "name", "colour")
        rows = rows.prefetch_related(Prefetch("labels", queryset=shown, to_attr="label_list"))
    return rows


def applications_editable_by(user: User) -> QuerySet[Application]:
    """Dossiers a user may change: those of the lead structure they act for, or shared for editing."""
    if not user.is_authenticated or not has_role(user, Role.APPLICANT):
        return Application.objects.none()
    lead_of = Member.objects.filter(
        application=OuterRef("pk"), is_lead=True, organisation__memberships__user=user
    )
    editor = Access.objects.filter(application=OuterRef("pk"), user=user, permission=Access.Permission.EDIT)
    return Application.objects.filter(Q(Exists(lead_of)) | Q(Exists(editor)))


def application_list_for_applicant(user: User, *, with_leads: bool = True) -> QuerySet[Application]:
    """The dossiers a user sees in their space, last changed first; with their call, wave and lead
    structure (`lead_members`) for the list of dossiers, or (`with_leads=False`) only their own
    fields, all the applicant's home shows of them."""
    dossiers = applications_visible_to(user).order_by("-updated_at")
    if not with_leads:
        return dossiers
    lead = Member.objects.filter(is_lead=True).select_related("organisation")
    return dossiers.select_related("call", "wave").prefetch_related(
        Prefetch("members", queryset=lead, to_attr="lead_members")
    )


def required_documents_for(
    application: Application,
    *,
    members: Sequence[Member] | None = None,
    documents: QuerySet[RequiredDocument] | None = None,
) -> list[RequiredDocument]:
    """The call's documents that apply to the lead structure's family.

    `members`: the dossier's members already read in their default order with
    `select_related("organisation__legal_category")`, whose first lead is the one read here otherwise.
    `documents`: the call's documents as the caller wants them read (annotated), in their order.
    """
    if members is None:
        lead = application.members.select_related("organisation__legal_category").filter(is_lead=True).first()
    else:
        lead = next((member for member in members if member.is_lead), None)
    family = lead.organisation.legal_category.family if lead is not None else ""
    if documents is None:
        documents = application.call.required_documents.all()
    return [doc for doc in documents if doc.applies_to(family)]


@dataclass
class Section:
    key: str
    label: str | Promise
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing


SECTION_LABELS: dict[str, Promise] = {
    "project": gettext_lazy("Le projet"),
    "consortium": gettext_lazy("Le consortium"),
    "places": gettext_lazy("Les tiers-lieux"),
    "budget": gettext_lazy("Le budget"),
    "documents": gettext_lazy("Les pièces justificatives"),
}

PROJECT_TEXTS = (
    "summary",
    "services",
    "community_governance",
    "partnerships",
    "resource_role",
    "digital_offer",
    "territorial_need",
    "economic_model",
)


def _section_label(name: str) -> str:
    field = Application._meta.get_field(name)
    return str(getattr(field, "verbose_name", name))


def application_completeness(
    application: Application, *, territory: "Territory | None" = None
) -> list[Section]:
    """What is missing before the dossier can be submitted, section by section.

    `territory`: the dossier's territory if the page has it already (application_territory), so
    that it is not read twice; its choices are the départements of the dossier's places.
    """
    sections = {key: Section(key=key, label=label) for key, label in SECTION_LABELS.items()}

    project = sections["project"]
    for name in PROJECT_TEXTS:
        if not getattr(application, name).strip():
            project.missing.append(_("Rubrique à compléter : %(label)s.") % {"label": _section_label(name)})
    if application.jobs_fte is None:
        project.missing.append(_("Indiquez les emplois du lieu en équivalents temps plein."))

    consortium = sections["consortium"]
    members = list(application.members.select_related("organisation__legal_category"))
    leads = [member for member in members if member.is_lead]
    if len(leads) != 1:
        consortium.missing.append(_("Le dossier doit avoir exactement un chef de file."))
    total_share = sum((member.share_percent for member in members), Decimal("0"))
    if total_share != 100:
        consortium.missing.append(
            _("Les parts des membres totalisent %(total)s au lieu de 100 %%.")
            % {"total": format_percent(total_share)}
        )

    # Every place has a département: the dossier has places when its territory has choices.
    has_places = application.places.exists() if territory is None else bool(territory.choices)
    if not has_places:
        sections["places"].missing.append(_("Choisissez au moins un tiers-lieu."))
    else:
        territory = territory or application_territory(application)
        if territory.stale_choice:
            sections["places"].missing.append(
                _(
                    "Le département choisi pour l'instruction n'est plus celui d'un lieu du dossier : "
                    "choisissez-le à nouveau parmi ceux de vos lieux."
                )
            )
        elif territory.needs_choice:
            sections["places"].missing.append(
                _("Vos lieux sont dans plusieurs départements : choisissez celui qui instruira le dossier.")
            )

    years = {
        row.year_index: {
            "requested": row.requested,
            "other_funding": row.other_funding,
            "total_cost": row.total_cost,
        }
        for row in application.budget_years.all()
    }
    for messages in budget_errors(call=application.call, years=years).values():
        sections["budget"].missing.extend(messages)

    # The call's documents, each with whether the dossier holds one: one query for both.
    held = Attachment.objects.filter(application=application, required_document=OuterRef("pk"))
    documents = application.call.required_documents.annotate(held=Exists(held))
    for document in required_documents_for(application, members=members, documents=documents):
        if document.mandatory and not document.held:  # type: ignore[attr-defined]
            sections["documents"].missing.append(
                _("Pièce manquante : %(label)s.") % {"label": document.label}
            )
    return list(sections.values())


def is_complete(application: Application) -> bool:
    return all(section.complete for section in application_completeness(application))


@dataclass(frozen=True)
class Territory:
    """Which département (so which région and which instructors) instructs a dossier, and why.

    A draft is instructed by the département of its places, or, when they lie in several, by the
    one its applicant chose among them; a submitted dossier by its stored `departement`, which only
    a programme admin moves (application_move_territory). Without places yet: the lead structure's.
    """

    departement: Departement | None
    choices: list[Departement]
    chosen: Departement | None
    settled: bool

    @property
    def region(self) -> Region | None:
        return self.departement.region if self.departement is not None else None

    @property
    def regions(self) -> list[Region]:
        regions: dict[str, Region] = {}
        for departement in self.choices:
            regions.setdefault(departement.region_id, departement.region)
        # « Île-de-France » among the I, not after the Z.
        return french_sorted(regions.values(), key=lambda region: region.name)

    @property
    def spans_regions(self) -> bool:
        return len(self.regions) > 1

    @property
    def can_choose(self) -> bool:
        return not self.settled and len(self.choices) > 1

    @property
    def needs_choice(self) -> bool:
        return self.can_choose and self.departement is None

    @property
    def stale_choice(self) -> bool:
        """A choice left over from places since removed: it must be made again (with one
        département left, that one applies, as for any single-département dossier)."""
        return self.can_choose and self.chosen is not None and self.chosen not in self.choices


def application_territory(
    application: Application, *, places: Sequence[TiersLieu] | None = None
) -> Territory:
    """The dossier's territory: its places' départements (one query), and its stored ones, read
    only when they are not among them (a second query, seldom).

    `places`: the dossier's places already read with `select_related("departement__region")` (a
    page that lists them): their départements are the choices, often no query at all.
    """
    if places is None:
        choices = list(
            Departement.objects.filter(places__applications=application)
            .select_related("region")
            .distinct()
            .order_by("code")
        )
    else:
        by_code = {place.departement.code: place.departement for place in places if place.departement_id}
        choices = [by_code[code] for code in sorted(by_code)]
    known = {departement.code: departement for departement in choices}
    wanted = [code for code in (application.departement_id, application.chosen_departement_id) if code]
    stored = {code: known[code] for code in wanted if code in known}
    if len(stored) < len(wanted):
        stored = {
            departement.code: departement
            for departement in Departement.objects.filter(
                code__in=[application.departement_id, application.chosen_departement_id]
            ).select_related("region")
        }
    chosen = stored.get(application.chosen_departement_id or "")
    current = stored.get(application.departement_id or "")
    settled = application.status != Application.Status.DRAFT
    if settled or not choices:
        departement = current
    elif len(choices) == 1:
        departement = choices[0]
    else:
        departement = chosen if chosen in choices else None
    return Territory(departement=departement, choices=choices, chosen=chosen, settled=settled)


def dossier_recipients(application: Application, *, side: str) -> list[str]:
    """Who hears about a dossier, on one side of it (`Message.Side`): sorted addresses, no duplicates.

    The applicant side: the dossier's author and every member of its lead structure. The
    instruction side: the instructors assigned to it who declared no conflict of interest, or,
    while none is assigned, the instructors whose territory covers its département (a message
    posted before the assignment reaches someone). Only active accounts with an address: a
    deactivated account hears of nothing. Every e-mail about a dossier is addressed through this
    one rule (receipts, messages, corrections, decisions, agreements, payments, reports).
    """
    return sorted(set(_dossier_people(application, side).exclude(email="").values_list("email", flat=True)))


def dossier_recipient_ids(application: Application, *, side: str) -> list[int]:
    """`dossier_recipients`' rule, as the people's ids: who is notified in the portal's centre."""
    return sorted(set(_dossier_people(application, side).values_list("pk", flat=True)))


def _dossier_people(application: Application, side: str) -> QuerySet[User]:
    if side == Message.Side.APPLICANT:
        people = User.objects.filter(
            Q(pk=application.created_by_id)
            | Q(
                memberships__organisation__application_memberships__application=application,
                memberships__organisation__application_memberships__is_lead=True,
            )
        )
    elif side == Message.Side.INSTRUCTION:
        people = User.objects.filter(
            assignments__application=application, assignments__conflict_of_interest=False
        )
        if not people.exists() and application.departement is not None:
            people = instructors_covering(departement=application.departement)
    else:
        raise ValueError(side)
    return people.filter(is_active=True)


def message_thread(application: Application) -> list[Message]:
    """The dossier's thread, oldest first, with each message's author and its files as `file_list`.

    One query, and a second only when some message carries files: whether each does is read in
    the first (an EXISTS on the links), so a thread without files costs the pinned pages nothing.
    """
    links = Message.files.through.objects.filter(message_id=OuterRef("pk"))
    thread: list[Message] = list(
        application.messages.select_related("author")
        .annotate(has_files=Exists(links))
        .order_by("created_at", "pk")
    )
    with_files = [message.pk for message in thread if getattr(message, "has_files", False)]
    files: dict[int, list[MessageFile]] = {}
    if with_files:
        for link in (
            Message.files.through.objects.filter(message_id__in=with_files)
            .select_related("messagefile")
            .order_by("messagefile_id")
        ):
            files.setdefault(link.message_id, []).append(link.messagefile)
    for message in thread:
        message.file_list = files.get(message.pk, [])  # type: ignore[attr-defined]
    return thread


# --- labels --------------------------------------------------------------------------------------


def call_labels(call_id: int) -> list[Label]:
    """A call's labels in French alphabetical order, each with how many dossiers carry it
    (`dossier_count`): one query."""
    labels = Label.objects.filter(call_id=call_id).annotate(dossier_count=Count("links"))
    return french_sorted(labels, key=lambda label: label.name)


def application_label_panel(application: Application) -> list[Label]:
    """The labels of the dossier's call in French alphabetical order, each saying whether the
    dossier carries it (`carried`): the badges and the form of the instruction page, one query."""
    carried = ApplicationLabel.objects.filter(application=application, label=OuterRef("pk"))
    labels = Label.objects.filter(call_id=application.call_id).annotate(carried=Exists(carried))
    return french_sorted(labels, key=lambda label: label.name)


def workspace_labels() -> list[Label]:
    """Every label the instructors' list may filter on, with its call's title: those of the calls
    the call filter offers (not in preparation), by call (the most recently opened first, as that
    filter lists them), then in French alphabetical order."""
    labels = list(
        Label.objects.exclude(call__status=Call.Status.DRAFT)
        .select_related("call")
        .only("name", "colour", "call", "call__title", "call__opens_at")
    )
    by_name = french_sorted(labels, key=lambda label: label.name)
    return sorted(by_name, key=lambda label: (-label.call.opens_at.timestamp(), label.call_id))


# --- saved views ---------------------------------------------------------------------------------


def saved_views_of(user: User) -> QuerySet[SavedView]:
    """The user's own saved views: the only ones they may open, rename or delete (any other id is a 404)."""
    return SavedView.objects.filter(user=user) if user.is_authenticated else SavedView.objects.none()


def saved_view_tabs(user: User) -> list[SavedView]:
    """The user's saved views in French alphabetical order (« Mes vues » above the list): one query."""
    return french_sorted(saved_views_of(user).only("pk", "name", "query"), key=lambda view: view.name)
