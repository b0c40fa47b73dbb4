from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [
        ("communications", "0006_delivery_status_skipped_unverified"),
    ]

    operations = [
        migrations.CreateModel(
            name="SendingClaim",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("worker", models.CharField(max_length=200)),
                ("db_pid", models.IntegerField(blank=True, null=True)),
                ("db_session_started", models.DateTimeField(blank=True, null=True)),
                ("claimed_at", models.DateTimeField()),
                ("in_flight", models.BigIntegerField(blank=True, null=True)),
                ("all_in_flight", models.BooleanField(default=False)),
            ],
        ),
        migrations.AddField(
            model_name="delivery",
            name="claim",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="communications.sendingclaim",
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
