import json

from django.core.management.base import BaseCommand
from django.db import connection
from django.db.migrations.loader import MigrationLoader


class Command(BaseCommand):
    help = ("Print the migration state per app: applied and unapplied migrations, and the latest applied one "
            "(the target to give `migrate <app> <name>` to return to this state; 'zero' when none).")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="JSON output (default is also JSON)")

    def handle(self, *args, **opts):
        loader = MigrationLoader(connection, ignore_no_migrations=True)
        graph = loader.graph
        apps = {}
        for app in sorted({key[0] for key in graph.nodes}):
            # all migrations of the app, in dependency order
            ordered = []
            for leaf in graph.leaf_nodes(app):
                for key in graph.forwards_plan(leaf):
                    if key[0] == app and key[1] not in ordered:
                        ordered.append(key[1])
            applied = [name for name in ordered if (app, name) in loader.applied_migrations]
            irreversible = []
            for name in ordered:
                mig = graph.nodes[(app, name)]
                if any(not op.reversible for op in mig.operations):
                    irreversible.append(name)
            apps[app] = {
                "applied": applied,
                "unapplied": [n for n in ordered if n not in applied],
                "latest_applied": applied[-1] if applied else "zero",
                "leaf": graph.leaf_nodes(app)[-1][1] if graph.leaf_nodes(app) else None,
                "irreversible": irreversible,
            }
        self.stdout.write(json.dumps({"apps": apps}, indent=2))
