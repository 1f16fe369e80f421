import json

from django.core.management.base import BaseCommand

from banking import services


class Command(BaseCommand):
    help = "Turn maintenance mode on or off (every page but /healthz answers 503 while on), or show it."

    def add_arguments(self, parser):
        parser.add_argument("state", nargs="?", choices=["on", "off", "status"], default="status")
        parser.add_argument("--reason", default="")
        parser.add_argument("--actor", default="manage.py")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        if opts["state"] != "status":
            services.set_flag(services.MAINTENANCE, opts["state"] == "on", opts["reason"], opts["actor"])
        on = services.flag_enabled(services.MAINTENANCE)
        self.stdout.write(json.dumps({"maintenance": on}) if opts["json"] else f"maintenance is {'on' if on else 'off'}")
