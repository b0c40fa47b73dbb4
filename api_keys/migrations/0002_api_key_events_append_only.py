"""The audit of API keys is append-only: on PostgreSQL a trigger refuses UPDATE and DELETE."""

from django.db import migrations

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION api_keys_apikeyevent_refuse_change() RETURNS trigger AS $$
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
        cursor.execute(
            "CREATE TRIGGER api_keys_apikeyevent_append_only BEFORE UPDATE OR DELETE "
            "ON api_keys_apikeyevent FOR EACH ROW "
            "EXECUTE FUNCTION api_keys_apikeyevent_refuse_change();"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS api_keys_apikeyevent_append_only ON api_keys_apikeyevent;"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS api_keys_apikeyevent_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [("api_keys", "0001_system_api_keys_and_events")]

    operations = [migrations.RunPython(install, remove)]
