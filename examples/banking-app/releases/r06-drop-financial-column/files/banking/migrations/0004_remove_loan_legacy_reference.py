from django.db import migrations


class Migration(migrations.Migration):
    """DESTRUCTIVE: drops the column fin_loan.legacy_reference (financial table).
    Django's reverse re-adds the column (empty); the data comes back only from a backup."""

    dependencies = [("banking", "0003_deposit_channel")]

    operations = [
        migrations.RemoveField(model_name="loan", name="legacy_reference"),
    ]
