

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_product_sync_operation'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditlog',
            name='operation',
            field=models.CharField(choices=[('ORDER_SYNC', 'Order Sync'), ('CUSTOMER_SYNC', 'Customer Sync'), ('SHIPMENT_SYNC', 'Shipment Sync'), ('REFUND_SYNC', 'Refund Sync'), ('CART_SYNC', 'Cart Sync'), ('CART_CONVERSION', 'Cart Conversion'), ('CART_EXPIRY', 'Cart Expiry'), ('PRODUCT_SYNC', 'Product Sync'), ('ANALYTICS_RECOMPUTE', 'Analytics Recompute'), ('BACKFILL', 'Backfill'), ('WEBHOOK_REGISTRATION', 'Webhook Registration'), ('ORDER_WRITEBACK', 'Order Writeback')], max_length=40),
        ),
    ]
