"""Legal holds are never deleted and change only once, when released (a database trigger on
PostgreSQL); and the nightly jobs, one django-celery-beat row per rule, editable in admin."""

import json

from django.conf import settings
from django.db import migrations

# One row per rule, a few minutes apart from 02:00, so each starts on a quiet database.
RULES = [
    "unverified_accounts",
    "newsletter_requests",
    "delivery_content",
    "provider_events",
    "cookie_choices",
    "ledger_network_details",
    "survey_answers",
    "referral_tokens",
    "sign_in_log",
    "sign_in_failures",
    "sign_in_lockouts",
    "expired_sessions",
]

HOLD_FUNCTION = """
CREATE OR REPLACE FUNCTION retention_legalhold_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.released_at IS NULL
        AND NEW.released_at IS NOT NULL AND NEW.released_by_id IS NOT NULL
        AND NEW.release_reason <> ''
        AND to_jsonb(NEW) - 'released_at' - 'released_by_id' - 'release_reason'
            = to_jsonb(OLD) - 'released_at' - 'released_by_id' - 'release_reason'
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def name(key):
    return f"Retention: {key}"


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(HOLD_FUNCTION)
        cursor.execute(
            "CREATE TRIGGER retention_legalhold_append_only BEFORE UPDATE OR DELETE "
            "ON retention_legalhold FOR EACH ROW "
            "EXECUTE FUNCTION retention_legalhold_refuse_change();"
        )


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS retention_legalhold_append_only ON retention_legalhold;"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS retention_legalhold_refuse_change();")


def create_jobs(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for position, key in enumerate(RULES):
        nightly, _ = CrontabSchedule.objects.get_or_create(
            minute=str(position * 5 % 60),
            hour=str(2 + position * 5 // 60),
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=name(key),
            defaults={
                "task": "retention.run_rule",
                "crontab": nightly,
                "args": json.dumps([key]),
                "enabled": True,
                "description": f"Forget what the retention rule {key} says is due "
                "(docs/RETENTION.md).",
            },
        )


def remove_jobs(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[name(key) for key in RULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("retention", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(install_trigger, remove_trigger),
        migrations.RunPython(create_jobs, remove_jobs),
    ]
