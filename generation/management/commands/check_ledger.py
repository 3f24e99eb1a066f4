"""Compare the running credit figures with the ledger they sum; exit non-zero when any differ."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import credits
from generation.models import LedgerEntry


class Command(BaseCommand):
    help = (
        "Recompute every budget's held credits and every month's granted and used credits from the "
        "ledger and report those that differ from the running figures (--fix rewrites them)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fix", action="store_true", help="Write the ledger's figures over the recorded ones."
        )

    def handle(self, *args, fix: bool, **options) -> None:
        mismatches = credits.recompute_figures(fix=fix)
        if not mismatches:
            entries = LedgerEntry.objects.count()
            self.stdout.write(f"The running figures match the ledger ({entries} entries).")
            return
        for mismatch in mismatches:
            self.stdout.write(str(mismatch))
        if fix:
            self.stdout.write(f"Rewrote {len(mismatches)} figure(s) from the ledger.")
            return
        raise CommandError(
            f"{len(mismatches)} running figure(s) differ from the ledger; "
            "run `manage.py check_ledger --fix` to rewrite them from it."
        )
