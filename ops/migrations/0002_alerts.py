from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ops', '0001_hourly_stats'),
    ]

    operations = [
        migrations.CreateModel(
            name='Alert',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('dead_events', 'dead events'), ('failure_rate', 'failure rate'), ('backlog_age', 'backlog age'), ('auth_failures', 'authentication failures'), ('api_budget', 'Salesforce API budget')], max_length=32)),
                ('key', models.CharField(blank=True, help_text='What the alert is about (a store, a scope).', max_length=200)),
                ('state', models.CharField(choices=[('open', 'Open'), ('resolved', 'Resolved')], default='open', max_length=16)),
                ('summary', models.TextField()),
                ('opened_at', models.DateTimeField(auto_now_add=True)),
                ('last_seen_at', models.DateTimeField()),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('last_notified_at', models.DateTimeField(blank=True, null=True)),
                ('notifications', models.PositiveIntegerField(default=0)),
                ('occurrences', models.PositiveIntegerField(default=1)),
            ],
            options={
                'ordering': ['-last_seen_at'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('state', 'open')), fields=('kind', 'key'), name='alert_one_open_per_kind_key')],
            },
        ),
    ]
