"""Every version of a purpose's words, append-only: the seeded words become each purpose's
first row, and on PostgreSQL a trigger refuses UPDATE and DELETE on the table."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION consent_purposetext_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def first_texts(apps, schema_editor):
    Purpose = apps.get_model("consent", "Purpose")
    PurposeText = apps.get_model("consent", "PurposeText")
    from django.utils import timezone

    now = timezone.now()
    PurposeText.objects.bulk_create(
        PurposeText(
            purpose=purpose,
            name=purpose.name,
            wording=purpose.wording,
            mandatory_reason=purpose.mandatory_reason,
            reason="The words in force when their history began.",
            policy_version_id=purpose.introduced_in_id,
            created_at=now,
        )
        for purpose in Purpose.objects.all()
    )


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A plain cursor: the function body's "%" placeholders are PL/pgSQL's, not parameters.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE_FUNCTION)
        cursor.execute(
            "CREATE TRIGGER consent_purposetext_append_only BEFORE UPDATE OR DELETE "
            "ON consent_purposetext FOR EACH ROW "
            "EXECUTE FUNCTION consent_purposetext_refuse_change();"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS consent_purposetext_append_only ON consent_purposetext;"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS consent_purposetext_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0006_pseudonymise_on_erasure"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PurposeText",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("wording", models.TextField()),
                ("mandatory_reason", models.TextField(blank=True)),
                ("reason", models.TextField(help_text="Why the words were set or changed.")),
                ("created_at", models.DateTimeField(db_index=True)),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        help_text="The member of staff who set the words; empty for the "
                        "seeded ones.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "policy_version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="consent.policyversion",
                    ),
                ),
                (
                    "purpose",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="texts",
                        to="consent.purpose",
                    ),
                ),
            ],
            options={"ordering": ["-id"]},
        ),
        migrations.RunPython(first_texts, migrations.RunPython.noop),
        migrations.RunPython(install, remove),
    ]
