"""The data version: one number that changes whenever any data a page shows has changed.

Pages kept in the page cache (core.page_cache) are stored under the version read before they were
built; a write anywhere moves the version on, so a page built before it is never served again.

- PostgreSQL: a statement-level trigger on every table (installed by `install_data_triggers`
  after each `migrate`) inserts the writing transaction's id into `DataChange`, at most once per
  transaction (ON CONFLICT DO NOTHING on the primary key). Distinct keys in a unique index never
  wait for one another, so writers take no shared lock and cannot deadlock on it. The version is
  (generation, number of rows): it grows with each writing transaction at the moment it commits,
  in the same snapshot as its data.
- SQLite (`make demo`): one writer at a time; row triggers add one to `DataGeneration.changes`.

`data_changes_prune` empties `DataChange` now and then and bumps the generation in the same
transaction, so the count stays small and no (generation, count) pair ever comes back.
"""

from django.db import models


class DataGeneration(models.Model):
    """The single row (id 1): the generation, and SQLite's count of changes."""

    generation = models.BigIntegerField(default=0)
    changes = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "génération des données"
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.generation}.{self.changes}"


class DataChange(models.Model):
    """One row per PostgreSQL transaction that wrote to a table the pages read."""

    txid = models.BigIntegerField(primary_key=True)

    class Meta:
        verbose_name = "transaction d'écriture"
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.txid)
