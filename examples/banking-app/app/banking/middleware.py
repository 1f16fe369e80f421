import logging
import time

from django.http import JsonResponse
from django.shortcuts import render

from banking.models import Membership

log = logging.getLogger("banking.request")
MAINTENANCE_EXEMPT = ("/healthz", "/static/")


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.monotonic()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        log.info("request", extra={
            "method": request.method, "path": request.path, "status": response.status_code,
            "ms": round((time.monotonic() - start) * 1000, 1),
            "user": user.username if user is not None and user.is_authenticated else "",
        })
        return response


class MaintenanceModeMiddleware:
    """Maintenance mode: 503 for everything except /healthz and static files."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(MAINTENANCE_EXEMPT):
            from banking.services import MAINTENANCE, flag_enabled
            if flag_enabled(MAINTENANCE):
                if request.headers.get("Accept", "").startswith("application/json"):
                    return JsonResponse({"status": "maintenance"}, status=503)
                resp = render(request, "banking/maintenance.html", status=503)
                resp["Retry-After"] = "120"
                return resp
        return self.get_response(request)


class TenantMiddleware:
    """Attach the user's tenant and role (a user belongs to exactly one tenant)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.role = None
        if request.user.is_authenticated:
            m = Membership.objects.select_related("tenant").filter(user=request.user).first()
            if m is not None:
                request.tenant, request.role = m.tenant, m.role
        return self.get_response(request)
