from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("communications", "0008_suppression_lifts"),
    ]

    operations = [
        migrations.AddField(
            model_name="sendingclaim",
            name="hand_over_order",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="sendingclaim",
            name="outcomes",
            field=models.TextField(blank=True),
        ),
    ]
