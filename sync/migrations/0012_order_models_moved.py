from django.db import migrations


class Migration(migrations.Migration):
    """The order feature's models live in the orders app now (``orders.0001_initial``): state only, tables kept."""

    dependencies = [
        ("sync", "0011_seed_inbox_batch"),
        ("orders", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SyncedOrderItem"),
                migrations.DeleteModel(name="SyncedOrder"),
                migrations.DeleteModel(name="KnownProduct"),
                migrations.DeleteModel(name="BackfillRun"),
            ],
            database_operations=[],
        ),
    ]
