from django.db import migrations

from sync.seeds import cart_recovery_seed


class Migration(migrations.Migration):
    """Seeds the Opportunity and Lead mappings cart recovery applies (reproducing what it sent before), and the
    settings of what happens to a bought cart's Lead (``lead_on_cart_conversion``, ``lead_closed_status``)."""

    dependencies = [("sync", "0005_seed_batch_collections")]

    operations = [migrations.RunPython(cart_recovery_seed, migrations.RunPython.noop)]
