# The dossier counts gain the wave and the kind of fabrique, so the review workspace's tabs are
# read from them when its filters are the call, the wave, the département, the kind or the state;
# and an index of the assignments still to score, for the staff's to-do.

from importlib import import_module
from typing import Any

from django.db import migrations, models

# The triggers of 0007, for going back (and to drop them going forward).
COUNTS = import_module("applications.migrations.0007_dossier_counts")

KEY = "call_id, wave_key, departement_code, kind, status"
# A dossier's key in the counts, from a row of the dossiers table (`{row}.` on SQLite).
ROW_KEY = "{row}call_id, COALESCE({row}wave_id, 0), COALESCE({row}departement_id, ''), {row}kind, {row}status"

# As in 0007: one aggregated upsert per statement on PostgreSQL (transition tables), in key order
# so two transactions lock shared counters in the same order; one per row on SQLite.
POSTGRES_FORWARD = f"""
CREATE FUNCTION applications_dossier_count_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO applications_dossiercount ({KEY}, count)
        SELECT {ROW_KEY.format(row="")}, COUNT(*)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT ({KEY})
        DO UPDATE SET count = applications_dossiercount.count + EXCLUDED.count;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO applications_dossiercount ({KEY}, count)
        SELECT {ROW_KEY.format(row="")}, -COUNT(*)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT ({KEY})
        DO UPDATE SET count = applications_dossiercount.count + EXCLUDED.count;
    ELSE
        -- Only the moves: a save that keeps the key writes nothing.
        INSERT INTO applications_dossiercount ({KEY}, count)
        SELECT {KEY}, SUM(delta)
        FROM (
            SELECT {ROW_KEY.format(row="")}, -1 AS delta FROM old_rows
            UNION ALL
            SELECT {ROW_KEY.format(row="")}, 1 FROM new_rows
        ) AS moves (call_id, wave_key, departement_code, kind, status, delta)
        GROUP BY 1, 2, 3, 4, 5 HAVING SUM(delta) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT ({KEY})
        DO UPDATE SET count = applications_dossiercount.count + EXCLUDED.count;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER applications_dossier_count_insert AFTER INSERT ON applications_application
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION applications_dossier_count_apply();
CREATE TRIGGER applications_dossier_count_update AFTER UPDATE ON applications_application
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION applications_dossier_count_apply();
CREATE TRIGGER applications_dossier_count_delete AFTER DELETE ON applications_application
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION applications_dossier_count_apply();
"""  # noqa: S608 (constant text: column names, no value)

POSTGRES_BACKWARD = COUNTS.POSTGRES_BACKWARD

SQLITE_UPSERT = f"""
    INSERT INTO applications_dossiercount ({KEY}, count)
    VALUES ({{key}}, {{delta}})
    ON CONFLICT ({KEY}) DO UPDATE SET count = count + {{delta}};
"""  # noqa: S608 (constant text: column names, no value)


def _sqlite_upsert(row: str, delta: int) -> str:
    return SQLITE_UPSERT.format(key=ROW_KEY.format(row=f"{row}."), delta=delta)


SQLITE_FORWARD = [
    "CREATE TRIGGER applications_dossier_count_insert AFTER INSERT ON applications_application "
    "BEGIN" + _sqlite_upsert("NEW", 1) + "END;",
    "CREATE TRIGGER applications_dossier_count_update "
    "AFTER UPDATE OF call_id, wave_id, departement_id, kind, status ON applications_application "
    "WHEN OLD.call_id IS NOT NEW.call_id OR OLD.wave_id IS NOT NEW.wave_id "
    "OR OLD.departement_id IS NOT NEW.departement_id OR OLD.kind IS NOT NEW.kind "
    "OR OLD.status IS NOT NEW.status "
    "BEGIN" + _sqlite_upsert("OLD", -1) + _sqlite_upsert("NEW", 1) + "END;",
    "CREATE TRIGGER applications_dossier_count_delete AFTER DELETE ON applications_application "
    "BEGIN" + _sqlite_upsert("OLD", -1) + "END;",
]

SQLITE_BACKWARD = COUNTS.SQLITE_BACKWARD

FILL = f"""
INSERT INTO applications_dossiercount ({KEY}, count)
SELECT {ROW_KEY.format(row="")}, COUNT(*)
FROM applications_application GROUP BY 1, 2, 3, 4, 5
"""  # noqa: S608 (constant text: column names, no value)


def drop_triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)
    else:
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


def create_triggers(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)
    else:
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    schema_editor.execute("DELETE FROM applications_dossiercount")
    schema_editor.execute(FILL)


def drop_triggers_and_counts(apps: Any, schema_editor: Any) -> None:
    # Going back, the finer rows would collide under the old key: they are recounted by 0007's fill.
    drop_triggers(apps, schema_editor)
    schema_editor.execute("DELETE FROM applications_dossiercount")


def create_old_triggers(apps: Any, schema_editor: Any) -> None:
    # Going back: the counts of 0007, by (call, département, state), recounted.
    COUNTS.create_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0013_labels"),
    ]

    operations = [
        migrations.RunPython(drop_triggers, create_old_triggers),
        migrations.RemoveConstraint(
            model_name="dossiercount",
            name="applications_dossier_count_key",
        ),
        migrations.AddField(
            model_name="dossiercount",
            name="kind",
            field=models.CharField(blank=True, default="", max_length=3, verbose_name="type de fabrique"),
        ),
        migrations.AddField(
            model_name="dossiercount",
            name="wave_key",
            field=models.IntegerField(default=0, verbose_name="vague"),
        ),
        migrations.AddConstraint(
            model_name="dossiercount",
            constraint=models.UniqueConstraint(
                fields=("call", "wave_key", "departement_code", "kind", "status"),
                name="applications_dossier_count_full_key",
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers_and_counts),
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(
                condition=models.Q(("conflict_of_interest", False), ("scores_submitted_at__isnull", True)),
                fields=["instructor", "assigned_at"],
                name="applications_to_score",
            ),
        ),
    ]
