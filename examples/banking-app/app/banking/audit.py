"""The one place that writes the audit trail."""
import logging

from banking.models import AuditLog

log = logging.getLogger("banking.audit")


def record(action, *, tenant="", actor="", obj=None, object_type="", object_id="", **details):
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id or str(obj.pk)
    tenant_slug = getattr(tenant, "slug", tenant) or ""
    actor_name = getattr(actor, "username", actor) or ""
    entry = AuditLog(tenant=tenant_slug, actor=actor_name, action=action,
                     object_type=object_type, object_id=str(object_id), details=details)
    entry.save()
    log.info("audit", extra={"audit_action": action, "tenant": tenant_slug, "actor": actor_name,
                             "object": f"{object_type}:{object_id}"})
    return entry
