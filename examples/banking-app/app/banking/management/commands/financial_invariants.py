import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from banking import services


class Command(BaseCommand):
    help = "Print the financial invariants per tenant as JSON (decimal strings)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", action="append", help="only these tenants (repeatable)")

    def handle(self, *args, **opts):
        data = services.all_invariants()
        if opts["tenant"]:
            data = {k: v for k, v in data.items() if k in opts["tenant"]}
        healthy = all(v["debits_minus_credits"] == "0.00" and v["deposits_minus_ledger"] == "0.00"
                      for v in data.values())
        self.stdout.write(json.dumps({"generated_at": timezone.now().isoformat(), "healthy": healthy,
                                      "tenants": data}, indent=2))
