"""On PostgreSQL, refuse UPDATE and DELETE on the audit trail at the database itself.

The one UPDATE let through is erasure's redaction: both values set to NULL and
``values_redacted`` set, every other column unchanged. The fact that a change happened, who
made it and when stay provable after the person's data is gone."""

from django.db import migrations

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION accounts_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.old_value IS NULL AND NEW.new_value IS NULL AND NEW.values_redacted
        AND (NEW.id, NEW.subject_id, NEW.actor_id, NEW.change_id, NEW.field, NEW.is_secret,
             NEW.source, NEW.occurred_at)
            IS NOT DISTINCT FROM
            (OLD.id, OLD.subject_id, OLD.actor_id, OLD.change_id, OLD.field, OLD.is_secret,
             OLD.source, OLD.occurred_at)
    THEN
        RETURN NEW;
    END IF;
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
            "CREATE TRIGGER accounts_auditevent_append_only BEFORE UPDATE OR DELETE "
            "ON accounts_auditevent FOR EACH ROW EXECUTE FUNCTION accounts_audit_refuse_change();"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS accounts_audit_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_profile_audit_verification")]

    operations = [migrations.RunPython(install, remove)]
