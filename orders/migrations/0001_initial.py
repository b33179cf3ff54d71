from decimal import Decimal

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MOVED = ("knownproduct", "syncedorder", "syncedorderitem", "backfillrun")


def content_types_move(apps, schema_editor):
    """The moved models' content types (and so their permissions, held by users and groups) follow them."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="orders", model=model).exists():
            ContentType.objects.filter(app_label="sync", model=model).update(app_label="orders")


def content_types_return(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="orders", model__in=MOVED).update(app_label="sync")


class Migration(migrations.Migration):
    """The order feature's models, moved from the sync app: Django's state only, the tables stay as they are."""

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("sync", "0011_seed_inbox_batch"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='BackfillRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('filters', models.JSONField(default=dict, help_text='since, until, ids, customers')),
                        ('filters_key', models.CharField(db_index=True, max_length=64)),
                        ('status', models.CharField(choices=[('running', 'Running'), ('interrupted', 'Interrupted'), ('failed', 'Failed'), ('done', 'Done')], default='running', max_length=16)),
                        ('last_customer_id', models.PositiveBigIntegerField(default=0)),
                        ('last_order_id', models.PositiveBigIntegerField(default=0)),
                        ('total', models.PositiveIntegerField(blank=True, help_text='Orders matching, when known.', null=True)),
                        ('synced', models.PositiveIntegerField(default=0)),
                        ('unchanged', models.PositiveIntegerField(default=0)),
                        ('skipped', models.PositiveIntegerField(default=0)),
                        ('failed', models.PositiveIntegerField(default=0)),
                        ('customers_synced', models.PositiveIntegerField(default=0)),
                        ('failures', models.JSONField(blank=True, default=dict, help_text='order id → reason, for orders still failing')),
                        ('salesforce_requests', models.PositiveIntegerField(default=0)),
                        ('bigcommerce_requests', models.PositiveIntegerField(default=0)),
                        ('last_error', models.TextField(blank=True)),
                        ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('store', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='backfill_runs', to='sync.store')),
                    ],
                    options={
                        'db_table': 'sync_backfillrun',
                        'ordering': ['-started_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='SyncedOrder',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('order_id', models.PositiveBigIntegerField()),
                        ('salesforce_id', models.CharField(max_length=18, verbose_name='Salesforce Order Id')),
                        ('account_key', models.CharField(max_length=400)),
                        ('account_id', models.CharField(blank=True, max_length=18, verbose_name='Salesforce Account Id')),
                        ('sf_status', models.CharField(max_length=40, verbose_name='Salesforce status')),
                        ('bc_status_id', models.PositiveSmallIntegerField(default=0)),
                        ('grand_total', models.DecimalField(decimal_places=2, default=Decimal('0'), max_digits=14)),
                        ('order_date', models.DateTimeField(blank=True, null=True)),
                        ('currency', models.CharField(blank=True, max_length=3)),
                        ('archived', models.BooleanField(default=False)),
                        ('created_event_sent', models.BooleanField(default=False)),
                        ('shipped_quantity', models.PositiveIntegerField(default=0)),
                        ('shipment_fields', models.JSONField(blank=True, default=dict)),
                        ('fingerprint', models.CharField(blank=True, max_length=64)),
                        ('synced_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('store', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='synced_orders', to='sync.store')),
                    ],
                    options={
                        'db_table': 'sync_syncedorder',
                    },
                ),
                migrations.CreateModel(
                    name='SyncedOrderItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('order_product_id', models.PositiveBigIntegerField()),
                        ('salesforce_id', models.CharField(max_length=18, verbose_name='Salesforce OrderItem Id')),
                        ('product_key', models.CharField(max_length=255)),
                        ('fingerprint', models.CharField(blank=True, max_length=64)),
                        ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='orders.syncedorder')),
                        ('store', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='synced_order_items', to='sync.store')),
                    ],
                    options={
                        'db_table': 'sync_syncedorderitem',
                    },
                ),
                migrations.CreateModel(
                    name='KnownProduct',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('product_key', models.CharField(help_text='The Product2 BigCommerceProductId__c value.', max_length=255)),
                        ('currency', models.CharField(blank=True, max_length=3)),
                        ('product2_id', models.CharField(max_length=18, verbose_name='Product2 Id')),
                        ('pricebook_entry_id', models.CharField(max_length=18, verbose_name='PricebookEntry Id')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('store', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='known_products', to='sync.store')),
                    ],
                    options={
                        'db_table': 'sync_knownproduct',
                        'constraints': [models.UniqueConstraint(fields=('store', 'product_key', 'currency'), name='knownproduct_unique')],
                    },
                ),
                migrations.AddConstraint(
                    model_name='syncedorder',
                    constraint=models.UniqueConstraint(fields=('store', 'order_id'), name='syncedorder_unique'),
                ),
                migrations.AddConstraint(
                    model_name='syncedorderitem',
                    constraint=models.UniqueConstraint(fields=('store', 'order_product_id'), name='syncedorderitem_unique'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_move, content_types_return),
    ]
