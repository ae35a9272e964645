"""Dossier counts per (call, wave, département, kind, state), kept by the database itself.

Triggers on `applications_application` (migration 0007, keyed by the wave and the kind since 0014)
add and subtract in the statement that inserts, moves or deletes dossiers, so the counts change
under the same row lock and in the same transaction as the dossier, whoever writes it:
`applications.workflow.transition`, the services, the admin site, bulk loads.
`applications.counters.dossier_counts_rebuild` recounts them from the dossiers. Pages that count
dossiers without a filter (the review workspace's tabs, the steering home) read these few hundred
rows instead of counting every dossier; so does the review workspace when its filters are only the
call, the wave, the département, the kind or the state.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from applications.models.calls import Call


class DossierCount(models.Model):
    # No foreign key constraint: the triggers may write a count while a flush of the database
    # (tests, `manage.py flush` on SQLite) has already emptied the calls table.
    call = models.ForeignKey(
        Call, verbose_name=_("appel"), on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # The département's code, "" for a dossier without département (a draft without place).
    departement_code = models.CharField(_("département"), max_length=3, blank=True)
    # The wave's id, 0 for a dossier without wave: a key column cannot be NULL and still be unique.
    wave_key = models.IntegerField(_("vague"), default=0)
    kind = models.CharField(_("type de fabrique"), max_length=3, blank=True, default="")
    status = models.CharField(_("état"), max_length=25)
    count = models.IntegerField(_("dossiers"), default=0)

    class Meta:
        verbose_name = _("compte de dossiers")
        verbose_name_plural = _("comptes de dossiers")
        constraints = [
            models.UniqueConstraint(
                fields=["call", "wave_key", "departement_code", "kind", "status"],
                name="applications_dossier_count_full_key",
            )
        ]
        # An instructor's counts are their départements' rows (a tenth of France for a région):
        # read through this index rather than the whole table (15 000 rows at 100 000 dossiers).
        indexes = [models.Index(fields=["departement_code", "status"], name="applications_count_dep")]

    def __str__(self) -> str:
        return (
            f"{self.call_id} {self.wave_key} {self.departement_code or '-'} {self.kind} {self.status}: "
            f"{self.count}"
        )
