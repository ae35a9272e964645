"""The structures' periodic task: SIRETs flagged « à vérifier » looked up again."""

from celery import shared_task

from fabriques.models import Organisation, SiretStatus
from fabriques.selectors import organisations_siret_to_recheck
from fabriques.services import organisation_siret_recheck
from fabriques.sirene import is_enabled, lookup_siret

# At most this many per run: the API's 7 requests a second are shared with the applicants' forms.
RECHECK_BATCH = 100


@shared_task(name="fabriques.tasks.organisations_siret_recheck_task")
def organisations_siret_recheck_task() -> dict[str, int]:
    """Hourly: ask the directory again about the structures flagged « à vérifier »; each answer
    clears or raises the flag (organisation_siret_recheck, idempotent), no answer waits."""
    counts = {"checked": 0, "cleared": 0, "raised": 0}
    if not is_enabled():
        return counts
    for pk in organisations_siret_to_recheck(limit=RECHECK_BATCH):
        organisation = Organisation.objects.get(pk=pk)
        after = organisation_siret_recheck(
            organisation=organisation, establishment=lookup_siret(organisation.siret, fresh=True)
        )
        counts["checked"] += 1
        if after.siret_status == SiretStatus.VERIFIED:
            counts["cleared"] += 1
        elif after.siret_status != SiretStatus.TO_VERIFY:
            counts["raised"] += 1
    return counts
