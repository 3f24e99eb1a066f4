"""Soft credit alerts: one mail per level of `settings.CREDIT_ALERT_LEVELS` (80 % and 100 % unless
set) a budget reaches, per calendar month, with the month's end at its pace so far;
and the admins' alert when Runway asks more for a model than the price table says (`price_drift`).

Checked after a hold or a settlement commits, outside its locks. Each level is claimed with a
compare-and-set on `CreditMonth.alerted_percent`, so two processes that see the same crossing send
one mail between them. An alert never blocks or fails a spend: errors are logged and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from generation.mail import one_line
from generation.models import CreditMonth, PriceDrift, Take

logger = logging.getLogger(__name__)


def check_after_commit(*, user_id: int, project_ids: Iterable[int | None] = ()) -> None:
    """Check the user's and the projects' budgets once the current transaction commits."""
    project_ids = sorted({pk for pk in project_ids if pk is not None})
    transaction.on_commit(lambda: check(user_id=user_id, project_ids=project_ids))


def check(*, user_id: int, project_ids: Iterable[int] = ()) -> None:
    """Send the alerts due for the user's budget and each capped project's, at most once each."""
    try:
        _check_user(user_id)
        for project_id in project_ids:
            _check_project(project_id)
    except Exception:
        logger.exception("Credit alert check failed for user %s, projects %s", user_id, project_ids)


def levels() -> list[int]:
    """The alert levels in percent, highest first (`settings.CREDIT_ALERT_LEVELS`)."""
    return sorted({int(level) for level in settings.CREDIT_ALERT_LEVELS if int(level) > 0}, reverse=True)


def level_reached(spent: int, total: int | None) -> int:
    """The highest alert level that `spent` of `total` reaches, or 0."""
    if not total or total <= 0:
        return 0
    return next((level for level in levels() if spent * 100 >= total * level), 0)


def _pace(summary, *, is_project: bool) -> str:
    """The forecast line of the meters ("At this pace ... runs out on the 19th."), for the mail."""
    from projects import usage

    words = usage.forecast_words(usage.forecast_of(summary), is_project=is_project)
    return f"{words}\n" if words else ""


def _claim(*, level: int, month, user_id: int | None = None, project_id: int | None = None) -> bool:
    """Record that `level` was sent this month; True for exactly one caller per level and month."""
    row, _ = CreditMonth.objects.get_or_create(user_id=user_id, project_id=project_id, month=month)
    if row.alerted_percent >= level:
        return False
    return bool(
        CreditMonth.objects.filter(pk=row.pk, alerted_percent__lt=level).update(alerted_percent=level)
    )


def _check_user(user_id: int) -> None:
    from generation import credits

    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    summary = credits.month_summary(user)
    spent = summary.used + summary.held
    level = level_reached(spent, summary.total)
    if not level or not _claim(level=level, month=summary.period_start.date(), user_id=user_id):
        return
    if not user.email:
        return
    period = f"{summary.period_start:%B %Y}"
    _send(
        subject=f"You have used {level}% of your credits for {period}",
        body=(
            f"Hello {one_line(user.get_username())},\n\n"
            f"You have used or reserved {spent} of your {summary.total} credits for {period} "
            f"({summary.used} used, {summary.held} held); {max(summary.available, 0)} are left.\n"
            + _pace(summary, is_project=False)
            + _advice(level, "ask an admin for more credits")
        ),
        to=[user.email],
    )


def _check_project(project_id: int) -> None:
    from generation import credits
    from projects.models import Membership, Project

    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return
    summary = credits.project_summary(project)
    spent = summary.used + summary.held
    level = level_reached(spent, summary.limit)
    if not level or not _claim(level=level, month=summary.period_start.date(), project_id=project_id):
        return
    owners = list(
        Membership.objects.filter(project=project, role=Membership.Role.OWNER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not owners:
        return
    period = f"{summary.period_start:%B %Y}"
    name = one_line(project.name)  # typed by its owner; one line, so it cannot add a header or a line
    _send(
        subject=f"Project '{name}' has used {level}% of its credit cap for {period}",
        body=(
            f"The project '{name}' has used or reserved {spent} of its monthly cap of "
            f"{summary.limit} credits for {period} ({summary.used} used, {summary.held} held); "
            f"{max(summary.available or 0, 0)} are left.\n"
            + _pace(summary, is_project=True)
            + _advice(level, "raise the project's cap")
        ),
        to=owners,
    )


def _advice(level: int, remedy: str) -> str:
    if level >= 100:
        return f"\nNew generations will be refused until next month unless you {remedy}.\n"
    return f"\nWhen the credits run out, new generations are refused; to avoid that, {remedy}.\n"


def _send(*, subject: str, body: str, to: list[str]) -> None:
    try:
        send_mail(one_line(subject), body, settings.DEFAULT_FROM_EMAIL, to)
    except Exception:
        # The level stays claimed: a mail server that is down does not make every later spend
        # try again, and the meters on the pages show the same figures.
        logger.exception("Could not send the credit alert %r to %s", subject, to)


def price_drift(*, take: Take, model: str, asked: int, held: int) -> bool:
    """Record that Runway asked `asked` credits for `take` where the price table made `held`, and
    mail the admins once per model (True when this call sent the mail). The model's row is claimed
    by compare-and-set on `mailed_at`, so takes failing together mail once; correcting the model's
    price in admin forgets the row, so a later drift is mailed again. Never raises."""
    try:
        row, created = _drift_row(model=model, asked=asked, held=held, take=take)
        if not created:
            PriceDrift.objects.filter(pk=row.pk).update(
                asked_credits=asked, held_credits=held, take=take, noticed_at=timezone.now()
            )
        if not PriceDrift.objects.filter(pk=row.pk, mailed_at__isnull=True).update(mailed_at=timezone.now()):
            return False
        from generation.reconcile import admin_emails

        recipients = admin_emails()
        if not recipients:
            logger.warning("Runway asks %s for a %s take where the table says %s; no admin to mail", asked,
                           model, held)  # fmt: skip
            return True
        _send(
            subject=f"Runway's price for {model} is above the price table",
            body=(
                f"Runway now asks up to {asked} credits for this {take.output_word} ({model}); "
                f"our table says {held}.\n\n"
                "The task was deleted before it started and nothing was charged. Until the price is "
                f"corrected, every {model} take is refused the same way: set the model's price in "
                "Django admin (Generation > Model prices), and the next estimate uses it.\n"
            ),
            to=recipients,
        )
        return True
    except Exception:
        logger.exception("Price drift alert for %s failed", model)
        return False


def _drift_row(*, model: str, asked: int, held: int, take: Take) -> tuple[PriceDrift, bool]:
    try:
        with transaction.atomic():
            return PriceDrift.objects.get_or_create(
                model=model, defaults={"asked_credits": asked, "held_credits": held, "take": take}
            )
    except IntegrityError:  # created by another process at the same moment
        return PriceDrift.objects.get(model=model), False
