from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0015_lean_write_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='member',
            name='sign_in_version',
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
    ]
