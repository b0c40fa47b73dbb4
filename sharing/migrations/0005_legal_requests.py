"""Requests from courts and authorities (scope, order document in private storage, the
four-eyes decision, fulfilment) and their append-only steps: on PostgreSQL a trigger refuses
UPDATE and DELETE on the steps."""

import django.db.models.deletion
import sharing.private_storage
from django.conf import settings
from django.db import migrations, models

REFUSE_CHANGE = """
CREATE OR REPLACE FUNCTION sharing_legalrequeststep_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER sharing_legalrequeststep_append_only
    BEFORE UPDATE OR DELETE ON sharing_legalrequeststep
    FOR EACH ROW EXECUTE FUNCTION sharing_legalrequeststep_refuse_change();
"""


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A plain cursor: the function body's "%" placeholders are PL/pgSQL's, not parameters.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(REFUSE_CHANGE)


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS sharing_legalrequeststep_append_only ON sharing_legalrequeststep;"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS sharing_legalrequeststep_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [
        ("sharing", "0004_recipient_notifications"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LegalRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "authority_reference",
                    models.CharField(
                        help_text="The court's or authority's own reference (case, order number).",
                        max_length=200,
                    ),
                ),
                ("description", models.TextField(help_text="What the order asks for, in words.")),
                (
                    "document",
                    models.FileField(
                        editable=False,
                        max_length=200,
                        storage=sharing.private_storage.private_storage,
                        upload_to="legal-requests/",
                    ),
                ),
                (
                    "document_name",
                    models.CharField(help_text="The file's name when uploaded.", max_length=200),
                ),
                ("document_sha256", models.CharField(max_length=64)),
                ("document_size", models.PositiveIntegerField()),
                (
                    "categories",
                    models.JSONField(
                        help_text="The kinds of data asked for (DataCategory values)."
                    ),
                ),
                (
                    "period_start",
                    models.DateField(help_text="First day of the period asked about."),
                ),
                (
                    "period_end",
                    models.DateField(help_text="Last day of the period asked about (included)."),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("awaiting_approval", "Awaiting a Privacy Officer's approval"),
                            ("approved", "Approved, to fulfil"),
                            ("rejected", "Rejected"),
                            ("fulfilled", "Fulfilled"),
                        ],
                        default="awaiting_approval",
                        max_length=20,
                    ),
                ),
                ("logged_at", models.DateTimeField()),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decision_reason", models.TextField(blank=True)),
                ("fulfilled_at", models.DateTimeField(blank=True, null=True)),
                (
                    "export",
                    models.FileField(
                        blank=True,
                        editable=False,
                        help_text="What was disclosed, as handed to the authority.",
                        max_length=200,
                        storage=sharing.private_storage.private_storage,
                        upload_to="legal-requests/",
                    ),
                ),
                ("export_sha256", models.CharField(blank=True, max_length=64)),
                (
                    "authority",
                    models.ForeignKey(
                        help_text="The court or authority, a public authority in the register.",
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="legal_requests",
                        to="sharing.thirdparty",
                    ),
                ),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        help_text="The Privacy Officer who approved or rejected it (never the one who logged it).",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "fulfilled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "logged_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("people", models.ManyToManyField(related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "legal request",
                "ordering": ["-id"],
                "permissions": [
                    (
                        "approve_legalrequest",
                        "Can approve, reject and fulfil legal requests and read their documents (Privacy Officer)",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="LegalRequestStep",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("logged", "Logged"),
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                            ("fulfilled", "Fulfilled"),
                            ("document_downloaded", "Order document downloaded"),
                            ("export_downloaded", "Export downloaded"),
                        ],
                        max_length=20,
                    ),
                ),
                ("at", models.DateTimeField()),
                (
                    "note",
                    models.TextField(blank=True, help_text="The reason given, or what was done."),
                ),
                ("details", models.JSONField(blank=True, default=dict)),
                (
                    "actor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "request",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="steps",
                        to="sharing.legalrequest",
                    ),
                ),
            ],
            options={
                "verbose_name": "legal request step",
                "ordering": ["id"],
            },
        ),
        migrations.AddConstraint(
            model_name="legalrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(("period_end__gte", models.F("period_start"))),
                name="sharing_legalrequest_period_in_order",
            ),
        ),
        migrations.AddConstraint(
            model_name="legalrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("decided_by__isnull", True),
                    models.Q(("decided_by", models.F("logged_by")), _negated=True),
                    _connector="OR",
                ),
                name="sharing_legalrequest_four_eyes",
            ),
        ),
        migrations.AddConstraint(
            model_name="legalrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status", "awaiting_approval"),
                    models.Q(("decided_at__isnull", False), ("decided_by__isnull", False)),
                    _connector="OR",
                ),
                name="sharing_legalrequest_decided_by_whom",
            ),
        ),
        migrations.AddConstraint(
            model_name="legalrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "fulfilled"), _negated=True),
                    models.Q(("fulfilled_at__isnull", False), ("fulfilled_by__isnull", False)),
                    _connector="OR",
                ),
                name="sharing_legalrequest_fulfilled_by_whom",
            ),
        ),
        migrations.RunPython(install_trigger, remove_trigger),
    ]
