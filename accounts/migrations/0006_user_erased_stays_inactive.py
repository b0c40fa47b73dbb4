"""An erased account, or one on its way to erasure, is never active again: the database
refuses the row whichever path writes it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_beat_pending_erasures")]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="deactivated_at",
            field=models.DateTimeField(
                blank=True,
                help_text="Set when the person deactivated their own account: logging in again "
                "reactivates it. Staff reactivate with the admin action.",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("erased_at__isnull", True), ("erasure_requested_at__isnull", True)
                )
                | models.Q(("is_active", False)),
                name="accounts_user_erased_stays_inactive",
            ),
        ),
    ]
