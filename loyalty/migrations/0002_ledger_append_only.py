"""The ledger is append-only below Python: PostgreSQL refuses UPDATE and DELETE on it.

TRUNCATE stays possible: test runners empty tables with it, and it needs a
privilege no application role should have in production.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'loyalty_ledgerentry is append-only: %% refused; correct with a new entry', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_ledger_append_only
    BEFORE UPDATE OR DELETE ON loyalty_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION loyalty_ledger_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS loyalty_ledger_append_only ON loyalty_ledgerentry;
DROP FUNCTION IF EXISTS loyalty_ledger_append_only();
"""


def forwards(apps, schema_editor):
    schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
