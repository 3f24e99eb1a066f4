"""What waits for a user: client feedback they have not seen, runs under way with their progress,
and what finished since their last visit; and the visits and looks that say what is new."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from generation.models import Take
from projects.models import (
    Membership,
    ReviewComment,
    ReviewDecision,
    Sequence,
    SequenceLook,
    StudioVisit,
)

# A first visit lists what finished in the week before it.
FIRST_VISIT_WINDOW = dt.timedelta(days=7)
FEEDBACK_SHOWN = 20
FINISHED_SHOWN = 12
# What a run ends in and is told about: a cancel is the user's own doing.
ENDS = (Sequence.Status.DONE, Sequence.Status.FAILED, Sequence.Status.NEEDS_ATTENTION)


def record_visit(user, *, studio_url: str = "", now: dt.datetime | None = None) -> dt.datetime | None:
    """Note a dashboard view and return when the visit before this one was (None for a first).
    Views less than StudioVisit.GAP apart are one visit, so a reload lists the same things.
    `studio_url` is the address the user reached the studio at, for links in mail."""
    now = now or timezone.now()
    visit, created = StudioVisit.objects.get_or_create(
        user=user, defaults={"seen_at": now, "studio_url": studio_url[:300]}
    )
    if created:
        return None
    fields = {"seen_at": now}
    if now - visit.seen_at > StudioVisit.GAP:
        fields["previous_at"] = visit.seen_at
    if studio_url and studio_url != visit.studio_url:
        fields["studio_url"] = studio_url[:300]
    StudioVisit.objects.filter(pk=visit.pk).update(**fields)
    return fields.get("previous_at", visit.previous_at)


def record_look(user, sequence: Sequence, *, studio_url: str = "") -> None:
    """Note that `user` has `sequence`'s page open now (its page says so while it is shown)."""
    SequenceLook.objects.update_or_create(user=user, sequence=sequence, defaults={"seen_at": timezone.now()})
    if studio_url:
        StudioVisit.objects.filter(user=user).exclude(studio_url=studio_url).update(
            studio_url=studio_url[:300]
        )


def looked_lately(user_id: int, sequence_id: int, *, within: dt.timedelta) -> bool:
    since = timezone.now() - within
    return SequenceLook.objects.filter(user_id=user_id, sequence_id=sequence_id, seen_at__gte=since).exists()


@dataclass(frozen=True)
class Feedback:
    kind: str  # "comment" or "decision"
    sequence: Sequence
    number: int  # the film version's
    author: str
    text: str
    at: dt.datetime
    verdict: str = ""


def _unseen(queryset, user):
    """Feedback on the versions of sequences the user edits, newer than their last look at the sequence."""
    look = SequenceLook.objects.filter(user=user, sequence=OuterRef("version__sequence")).values("seen_at")[
        :1
    ]
    editing = Membership.objects.filter(user=user, role__in=Membership.EDITING_ROLES).values("project")
    return (
        queryset.filter(version__sequence__project__in=editing)
        .annotate(looked_at=Subquery(look))
        .filter(Q(looked_at__isnull=True) | Q(created_at__gt=F("looked_at")))
        .select_related("version__sequence__project")
        .order_by("-created_at", "-pk")
    )


def feedback_waiting(user) -> list[Feedback]:
    """Client comments and decisions the user has not seen on the sequence's page, newest first."""
    comments = [
        Feedback("comment", c.version.sequence, c.version.number, c.author_name, c.body, c.created_at)
        # Clients' comments only: staff's own (internal or not) are not waiting for anyone.
        for c in _unseen(ReviewComment.objects.filter(author__isnull=True), user)[:FEEDBACK_SHOWN]
    ]
    decisions = [
        Feedback(
            "decision",
            d.version.sequence,
            d.version.number,
            d.author_name,
            d.note,
            d.created_at,
            verdict=d.get_verdict_display(),
        )
        for d in _unseen(ReviewDecision.objects.all(), user)[:FEEDBACK_SHOWN]
    ]
    return sorted(comments + decisions, key=lambda f: f.at, reverse=True)[:FEEDBACK_SHOWN]


def _visible(user):
    return Sequence.objects.filter(project__memberships__user=user).select_related("project")


def runs_under_way(user) -> list[Sequence]:
    """The user's projects' runs that are generating, assembling or waiting for someone, each with
    `clips_done` and `clips_total`: the clips of this run (made since it started), not earlier ones."""
    this_run = Q(takes__kind=Take.Kind.CLIP, takes__created_at__gte=F("started_at"))
    return list(
        _visible(user)
        .filter(status__in=Sequence.UNFINISHED)
        .annotate(
            clips_total=Count("takes", filter=this_run),
            clips_done=Count("takes", filter=this_run & Q(takes__status=Take.Status.SUCCEEDED)),
        )
        .order_by("-started_at", "-pk")
    )


def progress_words(sequence: Sequence) -> str:
    """What a run under way is doing, in words for the dashboard."""
    if sequence.status == Sequence.Status.ASSEMBLING:
        return "Assembling the film"
    if sequence.status == Sequence.Status.NEEDS_ATTENTION:
        return "Stopped: needs your attention"
    total = getattr(sequence, "clips_total", 0)
    if not total:
        return "Starting"
    return f"{sequence.clips_done} of {total} clip{'s' if total != 1 else ''} made"


def finished_since(user, since: dt.datetime | None) -> list[Sequence]:
    """Runs of the user's projects that ended (done, failed, needing attention) after `since`."""
    since = since or timezone.now() - FIRST_VISIT_WINDOW
    return list(
        _visible(user)
        .filter(status__in=ENDS, finished_at__gt=since)
        .order_by("-finished_at")[:FINISHED_SHOWN]
    )
