"""The write-back poll's checkpoint, and its schedule: every minute (django-q2's floor); the poll itself waits
writeback_poll_seconds and costs nothing while its flags are off."""

from django.db import migrations, models

from sync.schedules import ScheduleSeed, schedules_operation


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0003_catalog_products'),
        ('django_q', '0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more'),
    ]

    operations = [
        migrations.CreateModel(
            name='WritebackCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('org_id', models.CharField(max_length=18, unique=True, verbose_name='Salesforce org Id')),
                ('modstamp', models.DateTimeField(blank=True, help_text='Changes up to here are in the inbox.', null=True)),
                ('polled_at', models.DateTimeField(blank=True, null=True)),
                ('polls', models.PositiveBigIntegerField(default=0)),
                ('requests', models.PositiveBigIntegerField(default=0, help_text='Salesforce requests the polls spent.')),
                ('changes', models.PositiveBigIntegerField(default=0, help_text='Changes stored as inbox events.')),
            ],
            options={
                'verbose_name': 'write-back checkpoint',
            },
        ),
        schedules_operation(
            ScheduleSeed("b2s: Salesforce order changes poll", "orders.tasks.salesforce_orders_poll_task", "I", minutes=1),
        ),
    ]
