from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0016_roles_support_coupon_limits'),
    ]

    operations = [
        migrations.AddField(
            model_name='member',
            name='sign_in_version',
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False),
        ),
    ]
