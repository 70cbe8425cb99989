from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clients.models import BudgetExhausted, Scope
from clients.services import InvalidClient, api_client_create


class Command(BaseCommand):
    help = "Register an API client and print its new key (alone, on the last line; shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="a slug naming the client, recorded in the audit log")
        parser.add_argument("--scopes", nargs="+", required=True, choices=Scope.values, metavar="SCOPE")
        parser.add_argument("--rate", default="", help="e.g. 6000/min (default: API_CLIENT_DEFAULT_RATE)")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--budget",
            default="",
            help="spend per UTC period, AMOUNT/PERIOD: e.g. 25/month or 0.50/day (default: none)",
        )
        parser.add_argument(
            "--on-budget-exhausted",
            default=BudgetExhausted.REFUSE,
            choices=BudgetExhausted.values,
            help="refuse: 422 budget_exhausted (default); cheapest: the cheapest compliant provider",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["budget"] and getattr(settings, "CHANGE_APPROVAL", "off") == "required":
            raise CommandError(
                "CHANGE_APPROVAL=required: nothing was created. A budget changes only through a change request: "
                "create the client without --budget, then propose its budget with import_policies FILE --propose "
                '(a "budgets" entry; see docs/changes.md).'
            )
        try:
            client, key = api_client_create(
                name=options["name"],
                scopes=options["scopes"],
                rate=options["rate"],
                description=options["description"],
                budget=options["budget"],
                on_budget_exhausted=options["on_budget_exhausted"],
            )
        except InvalidClient as exc:
            raise CommandError(exc.message) from exc
        budget = f", budget {options['budget']} ({options['on_budget_exhausted']})" if options["budget"] else ""
        self.stderr.write(f"Created API client {client.name} with scopes {', '.join(client.scopes)}{budget}; its key:")
        self.stdout.write(key)
