from django.db import migrations


class Migration(migrations.Migration):
    """FORBIDDEN by policy: drops the audit_log table (audit trail moved to log files)."""

    dependencies = [("banking", "0003_deposit_channel")]

    operations = [
        migrations.RunSQL(
            "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log; "
            "DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log;",
            reverse_sql="CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
                        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only(); "
                        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();",
        ),
        migrations.DeleteModel(name="AuditLog"),
    ]
