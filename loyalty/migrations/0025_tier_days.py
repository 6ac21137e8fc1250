"""A member's tier points by day (``TierDay``), filled from the ledger as it stands: the
counting entries (earnings, reversals, grants flagged to count) by the UTC day they count
from, an order's placing or else the entry's writing (``loyalty.rules.tiers``)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0024_tier_perk'),
    ]

    operations = [
        migrations.CreateModel(
            name='TierDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('points', models.BigIntegerField()),
            ],
        ),
        migrations.AddIndex(
            model_name='ledgerentry',
            index=models.Index(condition=models.Q(('order__isnull', True)), fields=['member', 'created_at'], name='ledger_member_orderless_idx'),
        ),
        migrations.AddField(
            model_name='tierday',
            name='member',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.member'),
        ),
        migrations.AddField(
            model_name='tierday',
            name='program',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.program'),
        ),
        migrations.AddConstraint(
            model_name='tierday',
            constraint=models.UniqueConstraint(fields=('member', 'day', 'program'), name='tier_day_unique'),
        ),
        migrations.RunSQL(
            """
            INSERT INTO loyalty_tierday (program_id, member_id, day, points)
            SELECT x.program_id, x.member_id, (x.at AT TIME ZONE 'UTC')::date, SUM(x.points)
            FROM (
                SELECT e.program_id, e.member_id, COALESCE(o.placed_at, e.created_at) AS at,
                       e.points
                FROM loyalty_ledgerentry e LEFT JOIN loyalty_order o ON o.id = e.order_id
                WHERE e.kind IN ('earn', 'reversal')
                   OR (e.kind = 'grant' AND (e.details -> 'counts_for_tier') = 'true'::jsonb)
            ) x
            GROUP BY 1, 2, 3
            """,
            migrations.RunSQL.noop,
        ),
    ]
