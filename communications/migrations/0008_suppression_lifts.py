"""The record of lifted suppressions, append-only: on PostgreSQL a trigger refuses UPDATE and
DELETE on it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION communications_suppressionlift_refuse_change() RETURNS trigger AS $$
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
            "CREATE TRIGGER communications_suppressionlift_append_only BEFORE UPDATE OR DELETE "
            "ON communications_suppressionlift FOR EACH ROW "
            "EXECUTE FUNCTION communications_suppressionlift_refuse_change();"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS communications_suppressionlift_append_only "
        "ON communications_suppressionlift;"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS communications_suppressionlift_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [
        ("communications", "0007_sending_claims_and_retries"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SuppressionLift",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("address_hash", models.CharField(db_index=True, max_length=64)),
                (
                    "suppressed_reason",
                    models.CharField(
                        choices=[
                            ("hard_bounce", "Hard bounce"),
                            ("soft_bounces", "Repeated soft bounces"),
                            ("complaint", "Spam complaint"),
                            ("rejected", "Rejected by the provider"),
                            ("erasure", "Account erased"),
                            ("manual", "Added by staff"),
                        ],
                        max_length=20,
                    ),
                ),
                ("suppressed_detail", models.CharField(blank=True, max_length=300)),
                ("suppressed_at", models.DateTimeField()),
                ("reason", models.TextField(help_text="Why it was lifted: who asked, and how.")),
                ("lifted_at", models.DateTimeField(db_index=True)),
                (
                    "lifted_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-id"]},
        ),
        migrations.RunPython(install, remove),
    ]
