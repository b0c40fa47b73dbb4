"""On PostgreSQL: the staff access record and the sign-in events refuse UPDATE and DELETE at
the database itself, and a GIN index finds every access naming a person.

The one update let through is erasure's: an access row's ``search_term`` emptied (what staff
typed may have been the erased person's name or address), every other column unchanged. Who
looked at whose data, when, in which role and at which fields stays provable.
"""

from django.db import migrations

CREATE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION staff_access_staffaccess_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.search_term = ''
        AND to_jsonb(NEW) - 'search_term' = to_jsonb(OLD) - 'search_term'
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION staff_access_staffsigninevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

TRIGGERS = {
    "staff_access_staffaccess": "staff_access_staffaccess_refuse_change",
    "staff_access_staffsigninevent": "staff_access_staffsigninevent_refuse_change",
}
INDEX = "staff_access_subjects_gin"


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
        cursor.execute(
            f"CREATE INDEX {INDEX} ON staff_access_staffaccess "
            "USING gin (subject_ids jsonb_path_ops);"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX};")
    for table, function in TRIGGERS.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}();")


class Migration(migrations.Migration):
    dependencies = [("staff_access", "0001_staff_access_record_and_sign_in_events")]

    operations = [migrations.RunPython(install, remove)]
