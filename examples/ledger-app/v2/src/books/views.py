from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from .models import Line

VERSION = "2"


def status(request):
    # "release": the release dir this code runs from (releases/<id>/src), so a deployer sees the new code serve.
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"status": "ok", "version": VERSION, "release": settings.BASE_DIR.parent.name})


def lines(request):
    return JsonResponse({"lines": Line.objects.count()})
