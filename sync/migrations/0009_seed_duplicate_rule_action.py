from django.db import migrations

from sync.seeds import duplicate_rule_seed


class Migration(migrations.Migration):
    """The admin's ``duplicate_rule_action`` setting: how a write an org duplicate rule flags is saved or failed."""

    dependencies = [("sync", "0008_guest_keys_and_match_rules")]

    operations = [migrations.RunPython(duplicate_rule_seed, migrations.RunPython.noop)]
