"""Create a dossier and fill its project sections."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from applications.models import Application, BudgetYear, Call, Member, ReferenceCounter
from applications.selectors import PROJECT_TEXTS
from applications.workflow import EDITABLE_STATES
from fabriques.models import Organisation, OrganisationMembership

# The project section: its texts are those the instruction page and the completeness check read.
SECTION_FIELDS = ("title", "kind", *PROJECT_TEXTS, "jobs_fte")


def _next_reference(call: Call) -> str:
    """FDT-2026-00042: the call's prefix, the year, a number counted under a row lock."""
    year = timezone.localdate().year
    counter, _created = ReferenceCounter.objects.get_or_create(prefix=call.reference_prefix, year=year)
    counter = ReferenceCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return f"{call.reference_prefix}-{year}-{counter.last_number:05d}"


def ensure_editable(application: Application) -> None:
    if application.status not in EDITABLE_STATES:
        raise ValidationError(
            _("Ce dossier est « %(status)s » : il ne peut plus être modifié.")
            % {"status": Application.Status(application.status).label},
            code="not_editable",
        )


@transaction.atomic
def application_create(
    *,
    call: Call,
    lead_organisation: Organisation,
    title: str,
    kind: str = Application.Kind.FT,
    previous_application: Application | None = None,
    actor: User,
) -> Application:
    """Open a draft dossier for a structure the actor acts for, with its lead and empty budget."""
    if not OrganisationMembership.objects.filter(organisation=lead_organisation, user=actor).exists():
        raise ValidationError(
            {
                "lead_organisation": _(
                    "Vous ne pouvez déposer un dossier que pour une structure dont vous êtes membre."
                )
            }
        )
    if not call.is_open_for_submission():
        raise ValidationError({"call": _("Cet appel n'est pas ouvert aux dépôts.")}, code="call_closed")
    if previous_application is not None:
        if previous_application.status != Application.Status.REFUSED:
            raise ValidationError(
                {
                    "previous_application": _(
                        "Seul un dossier refusé peut être repris dans une nouvelle candidature."
                    )
                }
            )
        if not previous_application.members.filter(organisation=lead_organisation).exists():
            raise ValidationError(
                {
                    "previous_application": _(
                        "Le dossier précédent doit avoir été porté par la même structure."
                    )
                }
            )
    application = Application(
        call=call,
        reference=_next_reference(call),
        title=title.strip(),
        kind=kind,
        previous_application=previous_application,
        departement_id=lead_organisation.departement_id,
        created_by=actor,
    )
    application.full_clean()
    application.save()
    lead = Member(
        application=application,
        organisation=lead_organisation,
        is_lead=True,
        role=_("Chef de file"),
        share_percent=100,
    )
    lead.full_clean()
    lead.save()
    BudgetYear.objects.bulk_create(
        [BudgetYear(application=application, year_index=year) for year in call.years]
    )
    audit_record(actor=actor, action="application.create", target=application)
    return application


@transaction.atomic
def application_update_sections(*, application: Application, actor: User, **fields: Any) -> Application:
    """Save the project's sections. Empty sections are fine in a draft: completeness says what is left."""
    unknown = set(fields) - set(SECTION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown section fields: {sorted(unknown)}")
    application = Application.objects.select_for_update().get(pk=application.pk)
    ensure_editable(application)
    for name, value in fields.items():
        setattr(application, name, value.strip() if isinstance(value, str) else value)
    application.full_clean()
    application.save(update_fields=[*fields, "updated_at"])
    return application
