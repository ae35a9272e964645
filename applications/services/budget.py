"""The dossier's budget: per year, the grant asked, other funding and the total operating cost."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from applications.models import Application, BudgetYear
from applications.rules import BUDGET_FIELDS, budget_errors
from applications.services.dossiers import ensure_editable


@transaction.atomic
def application_set_budget(
    *, application: Application, years: dict[int, dict[str, Decimal]], actor: User
) -> list[BudgetYear]:
    """Replace the whole budget at once: all years valid and the total within the call's bounds."""
    application = Application.objects.select_for_update().select_related("call").get(pk=application.pk)
    ensure_editable(application)
    errors = budget_errors(call=application.call, years=years)
    if errors:
        raise ValidationError(errors)
    rows = []
    for year_index, amounts in sorted(years.items()):
        row, _created = BudgetYear.objects.get_or_create(application=application, year_index=year_index)
        for field in BUDGET_FIELDS:
            setattr(row, field, amounts[field])
        row.full_clean()
        row.save()
        rows.append(row)
    return rows
