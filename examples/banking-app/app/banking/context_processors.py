from django.conf import settings


def bank(request):
    return {
        "tenant": getattr(request, "tenant", None),
        "role": getattr(request, "role", None),
        "release": settings.BANKAPP_RELEASE,
        "app_version": settings.BANKAPP_VERSION,
    }
