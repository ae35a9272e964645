"""Reads for the programme's steering pages."""

from django.db.models import Count, Q, QuerySet

from accounts.models import Role, User
from applications.models import Application, Call
from fabriques.models import Departement, Region


def programme_overview() -> dict[str, int]:
    """Head counts shown to programme admins: accounts per role and the reference geography."""
    users = User.objects.aggregate(
        applicants=Count("pk", filter=Q(groups__name=Role.APPLICANT.value), distinct=True),
        instructors=Count("pk", filter=Q(groups__name=Role.INSTRUCTOR.value), distinct=True),
        admins=Count("pk", filter=Q(groups__name=Role.ADMIN.value), distinct=True),
        unconfirmed=Count("pk", filter=Q(is_active=False, email_confirmed_at__isnull=True), distinct=True),
    )
    return {**users, "regions": Region.objects.count(), "departements": Departement.objects.count()}


def calls_envelopes() -> QuerySet[Call]:
    """Each call with its envelope counters (kept under the awards' lock) and its dossier counts."""
    return Call.objects.annotate(
        submitted=Count("applications", filter=~Q(applications__status=Application.Status.DRAFT)),
        in_review=Count(
            "applications",
            filter=Q(applications__status__in=[Application.Status.IN_REVIEW, Application.Status.CORRECTIONS]),
        ),
    ).order_by("-opens_at")
