"""The audit trail is append-only below Python: PostgreSQL refuses UPDATE and DELETE on it.

Like the ledger (0002): what staff did is never rewritten, not even by a superuser's shell.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'loyalty_auditentry is append-only: %% refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_audit_append_only
    BEFORE UPDATE OR DELETE ON loyalty_auditentry
    FOR EACH ROW EXECUTE FUNCTION loyalty_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS loyalty_audit_append_only ON loyalty_auditentry;
DROP FUNCTION IF EXISTS loyalty_audit_append_only();
"""


def forwards(apps, schema_editor):
    schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0009_backoffice_audit_roles_bulk")]

    operations = [migrations.RunPython(forwards, backwards)]
