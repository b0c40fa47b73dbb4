"""On PostgreSQL, refuse UPDATE and DELETE on the append-only tables at the database itself."""

from django.db import migrations

TABLES = ["consent_consentevent", "consent_cookieconsent"]

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION consent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A plain cursor: the function body's "%" placeholders are PL/pgSQL's, not parameters.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE_FUNCTION)
        for table in TABLES:
            cursor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION consent_refuse_change();"
            )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS consent_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_policy_v1_and_purposes")]

    operations = [migrations.RunPython(install, remove)]
