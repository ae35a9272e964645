"""Dossier counts per (call, département, state), kept by the database itself.

Triggers on `applications_application` (migration 0007) add and subtract in the statement that
inserts, moves or deletes dossiers, so the counts change under the same row lock and in the same
transaction as the dossier, whoever writes it: `applications.workflow.transition`, the services,
the admin site, bulk loads. `applications.counters.dossier_counts_rebuild` recounts them from the
dossiers. Pages that count dossiers without a filter (the review workspace's tabs, the steering
home) read these few hundred rows instead of counting every dossier.
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
    status = models.CharField(_("état"), max_length=25)
    count = models.IntegerField(_("dossiers"), default=0)

    class Meta:
        verbose_name = _("compte de dossiers")
        verbose_name_plural = _("comptes de dossiers")
        constraints = [
            models.UniqueConstraint(
                fields=["call", "departement_code", "status"], name="applications_dossier_count_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.call_id} {self.departement_code or '-'} {self.status}: {self.count}"
