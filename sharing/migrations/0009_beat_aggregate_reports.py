"""The daily job that makes last month's aggregate report for each supplier, as a
django-celery-beat row that staff can edit (time, enabled) in admin."""

import json

from django.conf import settings
from django.db import migrations

NAME = "Generate aggregate reports for suppliers"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # 04:30 every day: idempotent, so a day missed (downtime) is made up the next.
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="4",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "sharing.generate_aggregate_reports",
            "crontab": daily,
            "args": json.dumps([]),
            "enabled": True,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sharing", "0008_aggregate_reports"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
