"""The Privacy Officer places and releases legal holds and reads the retention jobs' run
records (``accounts.staff_roles``)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = (
    "view_legalhold",
    "add_legalhold",
    "change_legalhold",
    "view_retentionrun",
)


def grant(apps, schema_editor):
    app_config = apps.get_app_config("retention")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Privacy Officer").first()
    if group is None:
        return
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="retention", codename__in=PERMISSIONS)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name="Privacy Officer").first()
    if group is not None:
        group.permissions.remove(
            *apps.get_model("auth", "Permission").objects.filter(
                content_type__app_label="retention", codename__in=PERMISSIONS
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_alter_auditevent_source"),
        ("accounts", "0007_staff_roles"),
        ("retention", "0002_holds_kept_and_nightly_jobs"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
