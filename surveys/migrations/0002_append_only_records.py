"""On PostgreSQL, refuse UPDATE and DELETE on the surveys' records: the staff audit
(``SurveyEvent``), the numbered sponsor statements entries point at, and the draws (what anyone
needs to run a draw again)."""

from django.db import migrations

FUNCTION = "surveys_refuse_change"
TABLES = ["surveys_surveyevent", "surveys_sponsorstatement", "surveys_draw"]

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE_FUNCTION)
        for table in TABLES:
            cursor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}();"
            )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}();")


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_surveys_contests_entries_draws")]

    operations = [migrations.RunPython(install, remove)]
