import json

from django.core.management.base import BaseCommand, CommandError

from banking import services
from banking.models import FeatureFlag


def flag_rows():
    stored = {f.name: f for f in FeatureFlag.objects.all()}
    rows = []
    for name in services.ALL_FLAGS:
        f = stored.get(name)
        rows.append({"name": name, "enabled": services.flag_enabled(name),
                     "reason": f.reason if f else "", "updated_by": f.updated_by if f else "",
                     "updated_at": f.updated_at.isoformat() if f else None})
    return rows


class Command(BaseCommand):
    help = "Switch a module feature flag (posting, payments, loans) on or off, or list flags."

    def add_arguments(self, parser):
        parser.add_argument("flag", nargs="?", choices=services.ALL_FLAGS)
        parser.add_argument("state", nargs="?", choices=["on", "off"])
        parser.add_argument("--reason", default="")
        parser.add_argument("--actor", default="manage.py")
        parser.add_argument("--list", action="store_true", help="list all flags")
        parser.add_argument("--json", action="store_true", help="JSON output")

    def handle(self, *args, **opts):
        if opts["list"] or opts["flag"] is None:
            rows = flag_rows()
            if opts["json"]:
                self.stdout.write(json.dumps({"flags": rows}))
            else:
                for r in rows:
                    self.stdout.write(f"{r['name']:12} {'on' if r['enabled'] else 'off':4} {r['reason']}")
            return
        if opts["state"] is None:
            raise CommandError("give a state: on or off")
        flag = services.set_flag(opts["flag"], opts["state"] == "on", opts["reason"], opts["actor"])
        result = {"name": flag.name, "enabled": flag.enabled, "reason": flag.reason}
        self.stdout.write(json.dumps(result) if opts["json"] else f"{flag.name} is now {opts['state']}")
