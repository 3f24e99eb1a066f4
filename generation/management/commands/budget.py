from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import audit, credits
from generation.models import CreditBudget, LedgerEntry


class Command(BaseCommand):
    help = "Show a user's credits this month, set their monthly limit, or grant credits."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--limit", type=int, help="Set the monthly limit in credits.")
        parser.add_argument("--grant", type=int, help="Grant credits for this month (negative takes away).")
        parser.add_argument("--reason", help="Why the credits are granted (required with --grant).")

    def handle(
        self, *args, username: str, limit: int | None, grant: int | None, reason: str | None, **options
    ) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if limit is not None and limit < 0:
            raise CommandError("--limit must be zero or more.")
        if grant is not None and (not reason or not reason.strip()):
            raise CommandError("--grant needs --reason TEXT.")
        # Both amounts are checked before either is written.
        try:
            if limit is not None:
                credits.check_credits_in_range(
                    limit, model=CreditBudget, field="monthly_limit", what="--limit"
                )
            if grant is not None:
                credits.check_credits_in_range(grant, model=LedgerEntry, field="credits", what="--grant")
        except credits.CreditsOutOfRange as error:
            raise CommandError(str(error)) from None
        # The audit log says these changes came from the command line.
        with audit.source("command line: budget"):
            if limit is not None:
                credits.set_monthly_limit(user, credits=limit)
                self.stdout.write(f"Monthly limit of {username} set to {limit} credits.")
            if grant is not None:
                try:
                    credits.grant(user, credits=grant, reason=reason)
                except credits.CreditsOutOfRange as error:
                    raise CommandError(str(error)) from None
                self.stdout.write(f"Granted {grant} credits to {username}: {reason}")
        summary = credits.month_summary(user)
        self.stdout.write(
            f"{username}, {summary.period_start:%B %Y}: limit {summary.limit}, granted {summary.granted}, "
            f"used {summary.used}, held {summary.held}, available {summary.available}"
        )
