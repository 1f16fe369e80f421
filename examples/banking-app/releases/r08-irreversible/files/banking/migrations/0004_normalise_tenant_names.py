from django.db import migrations


class Migration(migrations.Migration):
    """IRREVERSIBLE data migration: collapse repeated whitespace in tenant display names.
    No reverse_sql: the original spacing cannot be restored (harmless, but one-way).
    It touches bank_tenant, not a financial table: rewriting rows of a protected table (fin_*, audit_log)
    is forbidden outright by Steward's policy (post reversing entries instead)."""

    dependencies = [("banking", "0003_deposit_channel")]

    operations = [
        migrations.RunSQL(
            "UPDATE bank_tenant SET name = btrim(regexp_replace(name, '\\s+', ' ', 'g')) "
            "WHERE name ~ '(^\\s|\\s$|\\s\\s)'"
        ),
    ]
