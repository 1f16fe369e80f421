from django.db import migrations, models


class Migration(migrations.Migration):
    """Additive and reversible: a new nullable column fin_deposit.channel."""

    dependencies = [("banking", "0002_audit_log_append_only")]

    operations = [
        migrations.AddField(
            model_name="deposit",
            name="channel",
            field=models.CharField(blank=True, choices=[("branch", "Branch"), ("online", "Online"), ("atm", "ATM")],
                                   max_length=16, null=True),
        ),
    ]
