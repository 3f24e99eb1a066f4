"""`manage.py reconcile_usage [--days N]`: the ledger against Runway's usage report, as a table.

Exits 0 whether or not the books agree: a difference is a finding, printed in the summary line and
mailed to the admins, not a failure of the command. It exits non-zero only when it cannot check
(Runway unreachable, a bad --days).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import reconcile, runway


class Command(BaseCommand):
    help = (
        "Compare the credits the ledger settled with Runway's usage report, per UTC day and model, "
        "for the last N days (today included); store the result and mail admins about differences."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=settings.RECONCILE_DAYS,
            help=f"UTC days to check, today included (1-{runway.USAGE_MAX_DAYS}; default RECONCILE_DAYS).",
        )
        parser.add_argument(
            "--no-mail", action="store_true", help="Print only; do not mail the admins about differences."
        )

    def handle(self, *args, days: int, no_mail: bool, **options) -> None:
        try:
            rows = reconcile.reconcile_usage(days=days, notify=not no_mail)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except runway.RunwayError as exc:
            raise CommandError(f"Could not read Runway's usage report: {exc.message}") from None
        self.stdout.write(reconcile.format_report(rows, days=days))
