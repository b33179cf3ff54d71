import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('sync', '0013_operations'),
    ]

    operations = [
        migrations.CreateModel(
            name='HourlyStat',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField(help_text='The start of the hour (UTC).')),
                ('scope', models.CharField(max_length=100)),
                ('received', models.PositiveIntegerField(default=0)),
                ('synced', models.PositiveIntegerField(default=0)),
                ('failed', models.PositiveIntegerField(default=0)),
                ('dead', models.PositiveIntegerField(default=0)),
                ('ignored', models.PositiveIntegerField(default=0)),
                ('latency_buckets', models.JSONField(blank=True, default=dict, help_text='{upper bound in ms: events}.')),
                ('latency_total_ms', models.PositiveBigIntegerField(default=0)),
                ('salesforce_calls', models.PositiveIntegerField(default=0)),
                ('bigcommerce_calls', models.PositiveIntegerField(default=0)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('store', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='hourly_stats', to='sync.store')),
            ],
            options={
                'ordering': ['-hour', 'scope'],
                'indexes': [models.Index(fields=['hour'], name='hourlystat_hour')],
                'constraints': [models.UniqueConstraint(fields=('store', 'hour', 'scope'), name='hourlystat_unique')],
            },
        ),
    ]
