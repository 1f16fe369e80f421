"""The one place that writes the audit trail (r07: to the log files only)."""
import logging

log = logging.getLogger("banking.audit")


def record(action, *, tenant="", actor="", obj=None, object_type="", object_id="", **details):
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id or str(obj.pk)
    tenant_slug = getattr(tenant, "slug", tenant) or ""
    actor_name = getattr(actor, "username", actor) or ""
    log.info("audit", extra={"audit_action": action, "tenant": tenant_slug, "actor": actor_name,
                             "object": f"{object_type}:{object_id}", "details": details})
