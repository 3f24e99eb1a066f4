"""A run that ends tells the user who started it: by mail, unless they had its page open.

While the page is open, the page itself tells them (static/js/notify.js, a browser notification
when its live progress turns final) and says every half minute that it is being looked at
(`projects.home.record_look`); a run that ends within LOOK_WINDOW of such a look is not mailed.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from generation.mail import one_line
from projects import home
from projects.models import FinishNotice, Sequence, StudioVisit

log = logging.getLogger(__name__)

LOOK_WINDOW = dt.timedelta(minutes=1)

_SUBJECTS = {
    Sequence.Status.DONE: "“{title}” is ready",
    Sequence.Status.FAILED: "“{title}” could not be finished",
    Sequence.Status.NEEDS_ATTENTION: "“{title}” stopped and needs your attention",
}


def run_ended(sequence_pk: int) -> None:
    """Queue the finish mail of the sequence's run once the current transaction commits (at once
    outside one). Called where a sequence reaches DONE, FAILED or NEEDS_ATTENTION."""
    transaction.on_commit(lambda: _queue(sequence_pk))


def _queue(sequence_pk: int) -> None:
    if settings.PIPELINE_INLINE:
        mail_run_end(sequence_pk)
        return
    from django_q.tasks import async_task

    async_task("generation.notifications.mail_run_end", sequence_pk, group="mail_run_end")


def mail_run_end(sequence_pk: int) -> None:
    """Task: mail the user who started the sequence's run how it ended, with a link to its page.

    Nothing is sent when the sequence has moved on (another run started), when the user has no
    address, or when they looked at the page in the last LOOK_WINDOW. Idempotent: the run's end
    is claimed by one FinishNotice row, so a task that runs twice mails once. A failing mail
    server loses the mail, not the run (logged)."""
    sequence = Sequence.objects.select_related("project", "started_by").filter(pk=sequence_pk).first()
    if sequence is None or sequence.status not in _SUBJECTS or sequence.finished_at is None:
        return
    user = sequence.started_by
    if user is None:
        return
    _, claimed = FinishNotice.objects.get_or_create(sequence=sequence, finished_at=sequence.finished_at)
    if not claimed or not user.email or not user.is_active:
        return
    if home.looked_lately(user.pk, sequence.pk, within=LOOK_WINDOW):
        return
    try:
        subject, body = finish_mail(sequence)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:
        log.exception("Could not mail the end of sequence %s", sequence_pk)
        return
    FinishNotice.objects.filter(sequence=sequence, finished_at=sequence.finished_at).update(is_mailed=True)


def finish_mail(sequence: Sequence) -> tuple[str, str]:
    """The subject and body of a run's finish mail. Titles, names and messages are typed by people
    or carry Runway's words: each is kept to one line (generation/mail.py)."""
    from generation.pipeline import run_charges

    title = one_line(sequence.title)
    subject = one_line(_SUBJECTS[sequence.status].format(title=title))
    lines = [f"Project: {one_line(sequence.project.name)}", f"Sequence: {title}"]
    if sequence.status == Sequence.Status.DONE:
        lines.append("The film is assembled from the chosen takes.")
        if sequence.film_duration:
            lines.append(f"Length: {sequence.film_duration:.1f} s")
    elif sequence.status_message:
        lines.append(f"What happened: {one_line(sequence.status_message)}")
    # The same words as the sequence page, the usage page and the command line (charges_words).
    lines.append(f"This run: {run_charges(sequence).words}.")
    base = (
        StudioVisit.objects.filter(user_id=sequence.started_by_id)
        .values_list("studio_url", flat=True)
        .first()
    )
    path = reverse("sequence_detail", args=[sequence.pk])
    lines += [
        "",
        f"Open it in the studio: {base.rstrip('/')}{path}" if base else f"Open it in the studio at {path}",
        "",
    ]
    return subject, "\n".join(lines)
