"""audit_log is append-only at the database level too: a trigger raises on UPDATE,
DELETE and TRUNCATE. Also inserts the default feature flags."""
from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log;
DROP FUNCTION IF EXISTS audit_log_append_only();
"""

FLAGS = {"posting": True, "payments": True, "loans": True, "maintenance": False}


def add_flags(apps, schema_editor):
    FeatureFlag = apps.get_model("banking", "FeatureFlag")
    for name, enabled in FLAGS.items():
        FeatureFlag.objects.get_or_create(name=name, defaults={"enabled": enabled, "updated_by": "migration"})


class Migration(migrations.Migration):
    dependencies = [("banking", "0001_initial")]

    operations = [
        migrations.RunSQL(FORWARD, reverse_sql=REVERSE),
        migrations.RunPython(add_flags, reverse_code=migrations.RunPython.noop),
    ]
