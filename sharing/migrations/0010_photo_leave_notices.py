"""Leaving Jessops Photo is told to CEWE by a recipient notification (sent by a worker where
the register has CEWE's address or endpoint) instead of a state on the membership that staff
updated by hand. Each membership that had left gets its notice: the erasure notice CEWE was
already given for a membership ended by erasure, or a notice of leaving carrying what the
membership recorded (still to notify, or notified when, by whom and how)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


REFERENCE = "Jessops Photo membership {}"


def leave_notices_to_notifications(apps, schema_editor):
    Membership = apps.get_model("sharing", "PhotoServiceMembership")
    Notice = apps.get_model("sharing", "RecipientNotification")
    Step = apps.get_model("sharing", "RecipientNotificationStep")
    left = Membership.objects.filter(left_at__isnull=False, leave_notification__isnull=True)
    for membership in left.select_related("disclosure").order_by("id"):
        notice = None
        if membership.left_because == "erasure":
            notice = (
                Notice.objects.filter(
                    person_id=membership.person_id, party_id=membership.party_id, event="erasure"
                )
                .order_by("-id")
                .first()
            )
        if notice is None:
            told = membership.leave_notice == "notified"
            notice = Notice.objects.create(
                person_id=membership.person_id,
                party_id=membership.party_id,
                event="service_ended",
                categories=(
                    membership.disclosure.categories if membership.disclosure else ["name", "email"]
                ),
                references=[] if told else [REFERENCE.format(membership.pk)],
                occurred_at=membership.left_at,
                method="",
                state="notified" if told else "to_notify",
                notified_at=membership.notified_at if told else None,
                notified_by_id=membership.notified_by_id if told else None,
                result=membership.notice_detail if told else "",
            )
            Step.objects.create(
                notification=notice,
                kind="created",
                at=membership.left_at,
                detail="Left the service; the notice to the party was kept on the membership "
                "until notices of leaving became recipient notifications.",
            )
            if told:
                Step.objects.create(
                    notification=notice,
                    kind="recorded_by_hand",
                    at=membership.notified_at,
                    actor_id=membership.notified_by_id,
                    detail=membership.notice_detail,
                )
        membership.leave_notification = notice
        membership.save(update_fields=["leave_notification"])


def notifications_to_leave_notices(apps, schema_editor):
    Membership = apps.get_model("sharing", "PhotoServiceMembership")
    for membership in Membership.objects.filter(left_at__isnull=False).select_related(
        "leave_notification"
    ):
        notice = membership.leave_notification
        told = notice is not None and notice.state == "notified"
        membership.leave_notice = "notified" if told else "to_notify"
        membership.notified_at = notice.notified_at if told else None
        membership.notified_by_id = notice.notified_by_id if told else None
        membership.notice_detail = (notice.result or "")[:300] if told else ""
        membership.save(
            update_fields=["leave_notice", "notified_at", "notified_by", "notice_detail"]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("sharing", "0009_beat_aggregate_reports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="photoservicemembership",
            name="leave_notification",
            field=models.ForeignKey(
                blank=True,
                help_text="The notice that tells the party the person left: the notice of leaving, or the erasure notice when the person's data was erased (which says more).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="sharing.recipientnotification",
            ),
        ),
        migrations.AlterField(
            model_name="recipientnotification",
            name="event",
            field=models.CharField(
                choices=[
                    ("rectification", "Correction"),
                    ("erasure", "Erasure"),
                    ("service_ended", "Left the service"),
                ],
                max_length=20,
            ),
        ),
        migrations.RemoveConstraint(
            model_name="photoservicemembership",
            name="sharing_photo_notice_due_once_left",
        ),
        migrations.RemoveConstraint(
            model_name="photoservicemembership",
            name="sharing_photo_notified_when",
        ),
        migrations.RemoveIndex(
            model_name="photoservicemembership",
            name="sharing_photo_notice_due",
        ),
        migrations.RunPython(leave_notices_to_notifications, notifications_to_leave_notices),
        migrations.RemoveField(
            model_name="photoservicemembership",
            name="leave_notice",
        ),
        migrations.RemoveField(
            model_name="photoservicemembership",
            name="notice_detail",
        ),
        migrations.RemoveField(
            model_name="photoservicemembership",
            name="notified_at",
        ),
        migrations.RemoveField(
            model_name="photoservicemembership",
            name="notified_by",
        ),
        migrations.AlterModelOptions(
            name="photoservicemembership",
            options={"ordering": ["-joined_at", "-id"], "verbose_name": "Jessops Photo membership"},
        ),
        migrations.AddConstraint(
            model_name="photoservicemembership",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("leave_notification__isnull", True),
                        ("left_at__isnull", True),
                        ("left_because", ""),
                    ),
                    models.Q(
                        ("leave_notification__isnull", False),
                        ("left_at__isnull", False),
                        models.Q(("left_because", ""), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="sharing_photo_party_told_once_left",
            ),
        ),
    ]
