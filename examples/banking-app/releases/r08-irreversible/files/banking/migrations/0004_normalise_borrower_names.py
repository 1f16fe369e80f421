from django.db import migrations


class Migration(migrations.Migration):
    """IRREVERSIBLE data migration: collapse repeated whitespace in borrower names.
    No reverse_sql: the original spacing cannot be restored (harmless, but one-way)."""

    dependencies = [("banking", "0003_deposit_channel")]

    operations = [
        migrations.RunSQL(
            "UPDATE fin_loan SET borrower = btrim(regexp_replace(borrower, '\\s+', ' ', 'g')) "
            "WHERE borrower ~ '(^\\s|\\s$|\\s\\s)'"
        ),
    ]
