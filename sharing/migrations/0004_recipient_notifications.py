"""Notices to the recipients of a person's data when it is corrected or erased (Article 19),
their append-only step log (on PostgreSQL a trigger refuses UPDATE and DELETE), and the beat
job that sweeps up notices whose task was lost or whose retry is due."""

import json

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models

REFUSE_CHANGE = """
CREATE OR REPLACE FUNCTION sharing_recipientnotificationstep_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER sharing_recipientnotificationstep_append_only
    BEFORE UPDATE OR DELETE ON sharing_recipientnotificationstep
    FOR EACH ROW EXECUTE FUNCTION sharing_recipientnotificationstep_refuse_change();
"""
JOB = ("Sweep recipient notifications", "sharing.sweep_recipient_notifications", 60)


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
        "DROP TRIGGER IF EXISTS sharing_recipientnotificationstep_append_only "
        "ON sharing_recipientnotificationstep;"
    )
    schema_editor.execute(
        "DROP FUNCTION IF EXISTS sharing_recipientnotificationstep_refuse_change();"
    )


def schedule_sweep(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    name, task, seconds = JOB
    every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=name,
        defaults={"task": task, "interval": every, "args": json.dumps([]), "enabled": True},
    )


def unschedule_sweep(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=JOB[0]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("communications", "0012_delivery_kind_recipient_notice"),
        ("sharing", "0003_parties_named_in_the_policy"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="RecipientNotification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "notice_id",
                    models.UUIDField(
                        default=uuid.uuid4,
                        editable=False,
                        help_text="Sent with the notice, so the party can quote it and drop a repeat.",
                        unique=True,
                    ),
                ),
                (
                    "event",
                    models.CharField(
                        choices=[("rectification", "Correction"), ("erasure", "Erasure")],
                        max_length=20,
                    ),
                ),
                (
                    "categories",
                    models.JSONField(
                        help_text="The kinds of data concerned (DataCategory values): for a correction, those corrected that the party received; for an erasure, all it received."
                    ),
                ),
                (
                    "references",
                    models.JSONField(
                        blank=True,
                        default=list,
                        help_text="The party's own references for the person (the orders or requests it received data for); forgotten once the party is notified.",
                    ),
                ),
                (
                    "occurred_at",
                    models.DateTimeField(
                        help_text="When the person's data was corrected or erased."
                    ),
                ),
                (
                    "method",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("endpoint", "Signed HTTPS POST to its endpoint"),
                            ("email", "Email to its notification address"),
                            ("post", "By post (recorded by staff)"),
                            ("phone", "By phone (recorded by staff)"),
                        ],
                        help_text="Empty: the register has no address or endpoint, so staff notify by hand.",
                        max_length=10,
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("to_notify", "To notify"),
                            ("sending", "Sending"),
                            ("retrying", "Failed for now, will retry"),
                            ("notified", "Notified"),
                            ("failed", "Failed"),
                            ("superseded", "Superseded by an erasure notice"),
                        ],
                        default="to_notify",
                        max_length=12,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("notified_at", models.DateTimeField(blank=True, null=True)),
                (
                    "result",
                    models.TextField(
                        blank=True, help_text="What the last attempt or staff recorded."
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "delivery",
                    models.ForeignKey(
                        blank=True,
                        help_text="The email in the outbox, for a notice by email.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="communications.delivery",
                    ),
                ),
                (
                    "notified_by",
                    models.ForeignKey(
                        blank=True,
                        help_text="The member of staff who recorded a notice given by post or phone.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "party",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="notifications",
                        to="sharing.thirdparty",
                    ),
                ),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="recipient_notifications",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "recipient notification",
                "ordering": ["-id"],
                "permissions": [
                    (
                        "record_recipientnotification",
                        "Can record a recipient as notified by post or phone",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="RecipientNotificationStep",
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
                            ("created", "Created"),
                            ("sent", "Sent"),
                            ("temporary_failure", "Failed for now"),
                            ("permanent_failure", "Failed"),
                            ("released", "Claim released (worker gone)"),
                            ("recorded_by_hand", "Recorded as notified by staff"),
                            ("superseded", "Superseded by an erasure notice"),
                        ],
                        max_length=20,
                    ),
                ),
                ("at", models.DateTimeField()),
                ("detail", models.TextField(blank=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        help_text="The member of staff; empty for the system.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "notification",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="steps",
                        to="sharing.recipientnotification",
                    ),
                ),
            ],
            options={
                "verbose_name": "recipient notification step",
                "ordering": ["id"],
            },
        ),
        migrations.AddIndex(
            model_name="recipientnotification",
            index=models.Index(fields=["person", "party"], name="sharing_notice_person"),
        ),
        migrations.AddIndex(
            model_name="recipientnotification",
            index=models.Index(fields=["party", "-id"], name="sharing_notice_party"),
        ),
        migrations.AddIndex(
            model_name="recipientnotification",
            index=models.Index(
                condition=models.Q(("state__in", ["to_notify", "retrying", "sending"])),
                fields=["next_attempt_at"],
                name="sharing_notice_open",
            ),
        ),
        migrations.AddConstraint(
            model_name="recipientnotification",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state", "notified"), _negated=True),
                    ("notified_at__isnull", False),
                    _connector="OR",
                ),
                name="sharing_notice_notified_when",
            ),
        ),
        migrations.AddConstraint(
            model_name="recipientnotification",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("method", "email"), _negated=True),
                    ("delivery__isnull", False),
                    _connector="OR",
                ),
                name="sharing_notice_email_has_delivery",
            ),
        ),
        migrations.RunPython(install_trigger, remove_trigger),
        migrations.RunPython(schedule_sweep, unschedule_sweep),
    ]
