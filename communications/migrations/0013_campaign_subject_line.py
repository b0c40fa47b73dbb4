from django.db import migrations


class Migration(migrations.Migration):
    """``subject`` means the data subject everywhere else: a campaign's is its subject line."""

    dependencies = [
        ("communications", "0012_delivery_kind_recipient_notice"),
    ]

    operations = [
        migrations.RenameField(
            model_name="campaign",
            old_name="subject",
            new_name="subject_line",
        ),
    ]
