# The review columns' triggers (0015) lock the dossiers they recount before recounting them, in a
# statement of its own. Under READ COMMITTED an UPDATE that waits for a row lock re-checks that row
# only, with the snapshot taken before it waited: two instructors handing in their scores on one
# dossier at the same moment left it one score « awaited » (tests/integration/
# test_review_facts_concurrency.py). Locking first (in id order, so two statements touching the
# same dossiers queue up instead of deadlocking) then updating gives the UPDATE a snapshot taken
# after the other transaction committed. SQLite runs one writer at a time: nothing to change.

from importlib import import_module
from typing import Any

from django.db import migrations

FACTS = import_module("applications.migrations.0015_review_facts")


def locking_function(name: str, facts: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT application_id) INTO ids FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(DISTINCT application_id) INTO ids FROM old_rows;
    ELSE
        SELECT array_agg(DISTINCT application_id) INTO ids
        FROM (SELECT application_id FROM old_rows UNION SELECT application_id FROM new_rows) AS changed;
    END IF;
    PERFORM 1 FROM applications_application
    WHERE applications_application.id = ANY(ids) ORDER BY applications_application.id FOR NO KEY UPDATE;
    UPDATE applications_application SET {facts.format(id="applications_application.id")}
    WHERE applications_application.id = ANY(ids);
    RETURN NULL;
END;
$$;
"""  # noqa: S608 (constant text, no value)


def lock_first(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for _table, function, facts in FACTS.TRIGGERS:
            schema_editor.execute(locking_function(function, facts))


def recount_without_lock(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for _table, function, facts in FACTS.TRIGGERS:
            schema_editor.execute(
                FACTS.postgres_function(function, facts).replace(
                    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
                )
            )


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0018_messaging"),
    ]

    operations = [
        migrations.RunPython(lock_first, recount_without_lock),
    ]
