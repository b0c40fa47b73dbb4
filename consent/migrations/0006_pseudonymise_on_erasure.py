"""Erasure source for ledger rows, and the one UPDATE the append-only triggers let through:
erasure removing the network details (IP address prefix, user agent) from a person's rows,
every other column unchanged. What was agreed, when and under which words stays provable."""

from django.db import migrations, models

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION consent_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.ip_address IS NULL AND NEW.user_agent = ''
        AND to_jsonb(NEW) - 'ip_address' - 'user_agent'
            = to_jsonb(OLD) - 'ip_address' - 'user_agent'
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

REFUSE_ALL = """
CREATE OR REPLACE FUNCTION consent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def _replace_function(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        # A plain cursor: the function body's "%" placeholders are PL/pgSQL's.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0005_alter_consentevent_source"),
    ]

    operations = [
        migrations.AlterField(
            model_name="consentevent",
            name="source",
            field=models.CharField(
                choices=[
                    ("signup_form", "Sign-up form"),
                    ("newsletter_form", "Newsletter form"),
                    ("order_form", "Order form"),
                    ("preference_centre", "Preference centre"),
                    ("unsubscribe_link", "Unsubscribe link"),
                    ("one_click", "One-click unsubscribe header"),
                    ("provider_complaint", "Provider complaint"),
                    ("provider_unsubscribe", "Provider unsubscribe"),
                    ("mailto_unsubscribe", "Unsubscribe by email"),
                    ("staff", "Staff"),
                    ("api", "API"),
                    ("import", "Import"),
                    ("reconsent", "Re-consent"),
                    ("erasure", "Account erased"),
                ],
                max_length=30,
            ),
        ),
        migrations.RunPython(_replace_function(CREATE_FUNCTION), _replace_function(REFUSE_ALL)),
    ]
