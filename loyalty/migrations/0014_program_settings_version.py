"""Every change to a program's cached settings raises its ``settings_version``, below Python.

``loyalty.snapshot`` keeps a program's earning rules, campaigns, tiers and reward
thresholds (with their coupon templates) across requests while the version stays put.
Row triggers on those tables raise the version of the program(s) a changed row belongs
to, in the same transaction as the change, whoever writes it: the admin, the API, a
service, a queryset ``update()``/``delete()``, raw SQL. A row moved to another program
raises both; a coupon template also raises every program whose thresholds use it. A save
of a program loaded before a change never takes the version back.
"""

from django.db import migrations, models

SETTINGS_TABLES = (
    "loyalty_earningrule",
    "loyalty_campaign",
    "loyalty_tier",
    "rewards_rewardthreshold",
)

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_settings_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE loyalty_program SET settings_version = settings_version + 1
        WHERE id = OLD.program_id;
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE loyalty_program SET settings_version = settings_version + 1
        WHERE id = NEW.program_id;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.program_id IS DISTINCT FROM OLD.program_id THEN
            UPDATE loyalty_program SET settings_version = settings_version + 1
            WHERE id = NEW.program_id;
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION loyalty_coupon_template_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE loyalty_program SET settings_version = settings_version + 1
        WHERE id = OLD.program_id
           OR id IN (SELECT program_id FROM rewards_rewardthreshold WHERE template_id = OLD.id);
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE loyalty_program SET settings_version = settings_version + 1
        WHERE id = NEW.program_id;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.program_id IS DISTINCT FROM OLD.program_id THEN
            UPDATE loyalty_program SET settings_version = settings_version + 1
            WHERE id = NEW.program_id;
        END IF;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION loyalty_settings_version_kept() RETURNS trigger AS $$
BEGIN
    IF NEW.settings_version < OLD.settings_version THEN
        NEW.settings_version := OLD.settings_version;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_settings_version_kept
    BEFORE UPDATE OF settings_version ON loyalty_program
    FOR EACH ROW EXECUTE FUNCTION loyalty_settings_version_kept();

CREATE TRIGGER loyalty_settings_changed
    AFTER INSERT OR UPDATE OR DELETE ON rewards_coupontemplate
    FOR EACH ROW EXECUTE FUNCTION loyalty_coupon_template_changed();
""" + "".join(
    f"""
CREATE TRIGGER loyalty_settings_changed
    AFTER INSERT OR UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION loyalty_settings_changed();
"""
    for table in SETTINGS_TABLES
)

DROP = (
    "".join(
        f"DROP TRIGGER IF EXISTS loyalty_settings_changed ON {table};\n"
        for table in (*SETTINGS_TABLES, "rewards_coupontemplate")
    )
    + """
DROP TRIGGER IF EXISTS loyalty_settings_version_kept ON loyalty_program;
DROP FUNCTION IF EXISTS loyalty_settings_changed();
DROP FUNCTION IF EXISTS loyalty_coupon_template_changed();
DROP FUNCTION IF EXISTS loyalty_settings_version_kept();
"""
)


def forwards(apps, schema_editor):
    schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0013_idempotency_response_text"),
        ("rewards", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="program",
            name="settings_version",
            field=models.BigIntegerField(db_default=0, default=0, editable=False),
        ),
        migrations.RunPython(forwards, backwards),
    ]
