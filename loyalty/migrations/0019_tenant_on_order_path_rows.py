"""The tenant on every row the order path writes, and the append-only triggers declared on
the models (django-pgtrigger) instead of raw plpgsql (0002, 0010).

Ledger entries, point lots, pending earnings, refunds and tier changes reached their program
only through a join; now they carry it: filled in from their member (a refund: its order),
then required. The raw triggers go first, so the ledger's rows can be filled in, and the
declared ones refuse UPDATE and DELETE again at the end, with the same error.
"""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0018_members_support_limits'),
        ('rewards', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(
            '''
            DROP TRIGGER IF EXISTS loyalty_ledger_append_only ON loyalty_ledgerentry;
            DROP FUNCTION IF EXISTS loyalty_ledger_append_only();
            DROP TRIGGER IF EXISTS loyalty_audit_append_only ON loyalty_auditentry;
            DROP FUNCTION IF EXISTS loyalty_audit_append_only();
            ''',
            migrations.RunSQL.noop,
        ),
        migrations.AddField(
            model_name='ledgerentry',
            name='program',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AddField(
            model_name='pendingearning',
            name='program',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AddField(
            model_name='pointlot',
            name='program',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AddField(
            model_name='refund',
            name='program',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AddField(
            model_name='tierchange',
            name='program',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.RunSQL(
            '''
            UPDATE loyalty_ledgerentry e SET program_id = m.program_id
              FROM loyalty_member m WHERE m.id = e.member_id;
            UPDATE loyalty_pointlot l SET program_id = m.program_id
              FROM loyalty_member m WHERE m.id = l.member_id;
            UPDATE loyalty_pendingearning p SET program_id = m.program_id
              FROM loyalty_member m WHERE m.id = p.member_id;
            UPDATE loyalty_refund r SET program_id = o.program_id
              FROM loyalty_order o WHERE o.id = r.order_id;
            UPDATE loyalty_tierchange t SET program_id = m.program_id
              FROM loyalty_member m WHERE m.id = t.member_id;
            ''',
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='program',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AlterField(
            model_name='pendingearning',
            name='program',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AlterField(
            model_name='pointlot',
            name='program',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AlterField(
            model_name='refund',
            name='program',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AlterField(
            model_name='tierchange',
            name='program',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AddIndex(
            model_name='ledgerentry',
            index=models.Index(fields=['program', 'created_at'], name='ledger_program_created_idx'),
        ),
        migrations.AddIndex(
            model_name='refund',
            index=models.Index(fields=['program', 'created_at'], name='refund_program_idx'),
        ),
        migrations.AddIndex(
            model_name='tierchange',
            index=models.Index(fields=['program', 'created_at'], name='tierchange_program_idx'),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='auditentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='6a1c3b9c81cd71d6eb307baac5056b035af42588', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_21235', table='loyalty_auditentry', when='BEFORE')),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='ledgerentry',
            trigger=pgtrigger.compiler.Trigger(name='append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION '% is append-only: % refused; correct with a new entry', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';", hash='a248730bb62827471bfff2dc6b21117315ec0074', operation='UPDATE OR DELETE', pgid='pgtrigger_append_only_21849', table='loyalty_ledgerentry', when='BEFORE')),
        ),
    ]
