"""On PostgreSQL, refuse UPDATE and DELETE on the register's change log and the disclosure log.

The one update let through is erasure's: a disclosure's ``reference`` (the order or request it
was for, which could lead back to the person) emptied, every other column unchanged, and never
for a disclosure the law required: that reference is the proof it was lawful.
"""

from django.db import migrations

CREATE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION sharing_thirdpartychange_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION sharing_disclosure_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.reference = ''
        AND OLD.legal_basis <> 'legal_obligation'
        AND to_jsonb(NEW) - 'reference' = to_jsonb(OLD) - 'reference'
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

TRIGGERS = {
    "sharing_thirdpartychange": "sharing_thirdpartychange_refuse_change",
    "sharing_disclosure": "sharing_disclosure_refuse_change",
}


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A plain cursor: the function bodies' "%" placeholders are PL/pgSQL's, not parameters.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE_FUNCTIONS)
        for table, function in TRIGGERS.items():
            cursor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}();"
            )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, function in TRIGGERS.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}();")


class Migration(migrations.Migration):
    dependencies = [("sharing", "0001_register_and_disclosure_log")]

    operations = [migrations.RunPython(install, remove)]
