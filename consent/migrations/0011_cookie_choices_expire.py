"""The one DELETE the consent ledger's append-only trigger lets through: the retention
schedule's ``cookie_choices`` rule removing a cookie choice older than its cutoff. The job
names its rule and cutoff in transaction-local settings (``retention.engine``); any other
delete, of any row of either table, is still refused, as is any update but erasure's and the
schedule's removal of the network details."""

from django.db import migrations

ALLOW_SCHEDULE = """
CREATE OR REPLACE FUNCTION consent_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND NEW.ip_address IS NULL AND NEW.user_agent = ''
        AND to_jsonb(NEW) - 'ip_address' - 'user_agent'
            = to_jsonb(OLD) - 'ip_address' - 'user_agent'
    THEN
        RETURN NEW;
    END IF;
    -- Nested: OLD.created_at exists only on consent_cookieconsent, and PL/pgSQL reads every
    -- field an IF names before it tests any of its conditions.
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'consent_cookieconsent' THEN
        IF current_setting('privacy_site.retention_rule', true) = 'cookie_choices'
            AND coalesce(current_setting('privacy_site.retention_cutoff', true), '') <> ''
            AND current_setting('privacy_site.retention_cutoff', true)::timestamptz <= now()
            AND OLD.created_at
                < current_setting('privacy_site.retention_cutoff', true)::timestamptz
        THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

ERASURE_ONLY = """
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


def _replace_function(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("consent", "0010_published_policy_unchangeable")]

    operations = [
        migrations.RunPython(_replace_function(ALLOW_SCHEDULE), _replace_function(ERASURE_ONLY))
    ]
