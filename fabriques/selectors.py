"""Reads on territories."""

from typing import Any

from django.db.models import Case, F, Q, QuerySet, Value, When

from accounts.models import Role, User
from fabriques.models import Departement, InstructorScope, Organisation, SiretStatus, TiersLieu
from fabriques.search import search_words


def instructor_scopes(*, instructor: User) -> QuerySet[InstructorScope]:
    return InstructorScope.objects.filter(instructor=instructor).select_related(
        "region", "departement__region"
    )


def departements_in_scope(*, instructor: User) -> QuerySet[Departement]:
    """Every département an instructor reviews, through whole régions or one by one.

    Built once per user object and handed out as a clone (see applications_reviewable_by): its
    SQL depends only on the instructor's id, the scopes being read by the database each time.
    """
    memo: tuple[int, QuerySet[Departement]] | None = getattr(instructor, "_departements_in_scope", None)
    if memo is None or memo[0] != instructor.pk:
        # The codes as a UNION of the two kinds of scope (a région's départements through a join,
        # single départements) rather than an OR of two subqueries: PostgreSQL estimates the
        # union at its size (a dozen départements) where it took the OR for three quarters of
        # France, and then scanned every dossier of a state instead of the territory's (the
        # staff's to-do, the scoped counts: docs/performance.md).
        scopes = InstructorScope.objects.filter(instructor=instructor)
        by_region = scopes.filter(region__isnull=False).values("region__departements__code")
        by_code = scopes.filter(departement__isnull=False).values("departement")
        memo = (
            instructor.pk,
            Departement.objects.filter(code__in=by_region.union(by_code, all=True))
            .select_related("region")
            .order_by("code"),
        )
        setattr(instructor, "_departements_in_scope", memo)  # noqa: B010 (a per-request cache, not a field)
    return memo[1].all()


def organisations_of(*, user: User) -> QuerySet[Organisation]:
    """The structures a user acts for."""
    return (
        Organisation.objects.filter(memberships__user=user)
        .select_related("legal_category", "departement")
        .order_by("name")
    )


def instructors_covering(*, departement: Departement) -> QuerySet[User]:
    """The active instructors whose scope covers a département (by its région or by itself)."""
    return (
        User.objects.filter(groups__name=Role.INSTRUCTOR.value, is_active=True)
        .filter(
            Q(territorial_scopes__departement=departement)
            | Q(territorial_scopes__region_id=departement.region_id)
        )
        .distinct()
        .order_by("last_name", "first_name", "email")
    )


# Census places shown for one search: beyond that, the applicant narrows the search.
CENSUS_RESULTS = 20


def census_search(*, query: str, departement: Departement | None = None) -> list[TiersLieu]:
    """Places of the national census matching every word of `query`, whole words first.

    Accents and case are ignored on both sides (the stored `search_text`), so « gers », « Gers »,
    « 32 » and « Auch » find the places of the Gers; a place whose name or commune merely contains
    the word (« Rive Gauche » for « auch ») comes after those where it is a whole word. With a
    département and no words: that département's places, commune or not. One query, at most
    CENSUS_RESULTS + 1 rows (the extra one tells the page there are more).
    """
    words = search_words(query)
    if not words and departement is None:
        return []
    places = TiersLieu.objects.filter(source=TiersLieu.Source.CGET_2019)
    if departement is not None:
        places = places.filter(departement=departement)
    whole_words: list[Any] = []
    for word in words:
        places = places.filter(search_text__contains=word)
        whole_words.append(Case(When(search_text__contains=f" {word} ", then=Value(1)), default=Value(0)))
    if whole_words:
        places = places.annotate(whole_words=sum(whole_words[1:], whole_words[0])).order_by(
            "-whole_words", "name", "pk"
        )
    else:
        places = places.order_by("name", "pk")
    return list(places.select_related("departement")[: CENSUS_RESULTS + 1])


def organisations_siret_to_recheck(*, limit: int) -> list[int]:
    """Structures flagged « à vérifier », the longest waiting first (never checked, then oldest)."""
    return list(
        Organisation.objects.filter(siret_status=SiretStatus.TO_VERIFY)
        .order_by(F("siret_checked_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:limit]
    )
