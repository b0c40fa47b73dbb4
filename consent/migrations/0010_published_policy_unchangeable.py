"""On PostgreSQL, a published policy version and the draft it came from can't be rewritten or
deleted, at the database itself: they are proof of what people were told.

The one update publishing makes to a version is retiring the one in force when the next is
published (``is_current`` true to false); every other change to a version, making an older
version current again, and any DELETE are refused. A draft may change until it is published
(the update that sets ``published_version``); after that UPDATE and DELETE are refused.
"""

from django.db import migrations

CREATE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION consent_policyversion_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND to_jsonb(NEW) - 'is_current' = to_jsonb(OLD) - 'is_current'
       AND NOT (NEW.is_current AND NOT OLD.is_current) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a published policy version is unchangeable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION consent_policydraft_refuse_change() RETURNS trigger AS $$
BEGIN
    IF OLD.published_version_id IS NULL THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a published policy draft is unchangeable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

TRIGGERS = {
    "consent_policyversion": "consent_policyversion_refuse_change",
    "consent_policydraft": "consent_policydraft_refuse_change",
}


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A plain cursor: the function bodies' "%" placeholders are PL/pgSQL's, not parameters.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE_FUNCTIONS)
        for table, function in TRIGGERS.items():
            cursor.execute(
                f"CREATE TRIGGER {table}_published BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}();"
            )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, function in TRIGGERS.items():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_published ON {table};")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}();")


class Migration(migrations.Migration):
    dependencies = [("consent", "0009_policy_drafts_and_notice_dismissals")]

    operations = [migrations.RunPython(install, remove)]
