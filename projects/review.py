"""Film versions and the client's review of them: what a share link shows, comments pinned to a
time in the film, approvals and requests for changes, the mail that tells the project's owners and
editors, and the versions list on the sequence page.

A share link shows its pinned version, or the sequence's latest when it has none. Comments and
decisions belong to the version the client was shown, which is named in the form they send: a new
version assembled while a client watches an older one never takes over their feedback.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models import Count, OuterRef, Subquery

from generation.mail import one_line, quoted
from projects.models import (
    FilmVersion,
    Membership,
    Project,
    ReviewComment,
    ReviewDecision,
    Sequence,
    ShareLink,
)

log = logging.getLogger(__name__)

Verdict = ReviewDecision.Verdict
ACCENT_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class ReviewRefused(Exception):
    """The link may not send feedback now; the message says why, in words for the client."""


class NoSuchVersion(ReviewRefused):
    def __init__(self) -> None:
        super().__init__("That version of the film is not shown through this link.")


class ReviewNotAllowed(ReviewRefused):
    def __init__(self) -> None:
        super().__init__(
            "This link is for watching and downloading the film only. Please send your feedback to the "
            "person who shared it with you."
        )


@dataclass(frozen=True)
class Shown:
    """What a share link shows: a version, or (for a sequence assembled before versions existed)
    only the sequence's own film, which cannot be reviewed."""

    version: FilmVersion | None
    film: models.FieldFile
    poster: models.FieldFile
    duration: float | None


def latest_version(sequence: Sequence) -> FilmVersion | None:
    return sequence.versions.order_by("-number").first()


def shown_by(link: ShareLink) -> Shown | None:
    """What the link shows now, or None when it shows nothing (the film is gone or not made yet).
    A pinned version shows whatever the sequence is doing; "always the latest" shows the newest
    version, also while a newer one is being made."""
    sequence = link.sequence
    version = link.version if link.version_id else latest_version(sequence)
    if version is not None:
        return Shown(
            version=version,
            film=version.film,
            poster=version.poster,
            duration=version.duration,
        )
    if sequence.is_shareable:
        return Shown(
            version=None,
            film=sequence.film,
            poster=sequence.poster,
            duration=sequence.film_duration,
        )
    return None


def version_for(link: ShareLink, *, number: int) -> FilmVersion:
    """The version numbered `number` if `link` may show it: its pinned version, or, on an "always
    the latest" link, any of the sequence's versions (the client may have had an older one open when
    a new one was assembled). Raises NoSuchVersion."""
    if link.version_id:
        if link.version.number != number:
            raise NoSuchVersion()
        return link.version
    version = link.sequence.versions.filter(number=number).first()
    if version is None:
        raise NoSuchVersion()
    return version


def reviewable_version(link: ShareLink, *, number: int) -> FilmVersion:
    """The version numbered `number` that the client may comment on through `link` (see
    `version_for`). Raises ReviewRefused."""
    if not link.can_review:
        raise ReviewNotAllowed()
    return version_for(link, number=number)


def add_comment(
    link: ShareLink, *, number: int, author_name: str, body: str, at_seconds: float
) -> ReviewComment:
    """The client's comment on a version at a time in the film (clamped to the film's length)."""
    version = reviewable_version(link, number=number)
    if version.duration:
        at_seconds = min(at_seconds, version.duration)
    return ReviewComment.objects.create(
        version=version, share_link=link, author_name=author_name, body=body, at_seconds=max(at_seconds, 0.0)
    )


def decide(
    link: ShareLink, *, number: int, author_name: str, verdict: str, note: str, sequence_url: str
) -> ReviewDecision:
    """The client approves the version or asks for changes. The project's owners and editors are
    mailed once the decision is saved (after commit; a failing mail server loses the mail, never the
    decision). `sequence_url` is the absolute address of the sequence page for the mail."""
    version = reviewable_version(link, number=number)
    with transaction.atomic():
        decision = ReviewDecision.objects.create(
            version=version, share_link=link, author_name=author_name, verdict=Verdict(verdict), note=note
        )
        transaction.on_commit(lambda: mail_decision(decision.pk, sequence_url=sequence_url))
    return decision


def _recipients(project_id: int) -> list[str]:
    emails = (
        Membership.objects.filter(project_id=project_id, role__in=Membership.EDITING_ROLES)
        .exclude(user__email="")
        .filter(user__is_active=True)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    return list(dict.fromkeys(emails))


def mail_decision(decision_pk: int, *, sequence_url: str) -> None:
    """Tell the project's owners and editors what the client decided. Errors are logged, not raised."""
    try:
        decision = ReviewDecision.objects.select_related("version__sequence__project").get(pk=decision_pk)
        sequence = decision.version.sequence
        to = _recipients(sequence.project_id)
        if not to:
            return
        number = decision.version.number
        # Names and titles are typed by people (the client's name by anyone with the link): each is
        # kept to one line, so that none can add a header or a line that reads like one of ours.
        author, title = one_line(decision.author_name), one_line(sequence.title)
        if decision.verdict == Verdict.APPROVED:
            subject = f"{author} approved “{title}” version {number}"
        else:
            subject = f"{author} asked for changes to “{title}” version {number}"
        lines = [
            f"Project: {one_line(sequence.project.name)}",
            f"Sequence: {title}",
            f"Version: {number}",
            f"Client: {author}",
            f"Verdict: {decision.get_verdict_display()}",
        ]
        if decision.note:
            lines += ["", "Note:", *quoted(decision.note)]
        lines += ["", f"See the feedback on the sequence page: {sequence_url}#versions", ""]
        send_mail(one_line(subject), "\n".join(lines), settings.DEFAULT_FROM_EMAIL, to)
    except Exception:
        log.exception("Could not mail review decision %s", decision_pk)


# --- what the pages show -------------------------------------------------------------------------


def timecode(seconds: float) -> str:
    """0:03, 1:05, 1:02:03: how a time in the film is written on the pages."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def comment_rows(comments) -> list[dict]:
    return [
        {
            "author": c.author_name,
            "body": c.body,
            "at": c.at_seconds,
            "at_text": timecode(c.at_seconds),
            "seek": f"{c.at_seconds:.2f}",
            "created_at": c.created_at,
        }
        for c in comments
    ]


def version_rows(sequence: Sequence, *, urls: dict) -> list[dict]:
    """The sequence page's versions, newest first, each with its approval state (the latest decision),
    its comments and its decisions. Three queries whatever the number of versions and comments.
    `urls` maps "film", "poster" and "master" to functions of a version pk."""
    last_decision = ReviewDecision.objects.filter(version=OuterRef("pk")).order_by("-created_at", "-pk")
    versions = list(
        sequence.versions.annotate(
            comment_count=Count("comments", distinct=True),
            verdict=Subquery(last_decision.values("verdict")[:1]),
        ).order_by("-number")
    )
    pks = [v.pk for v in versions]
    comments: dict[int, list] = {pk: [] for pk in pks}
    decisions: dict[int, list] = {pk: [] for pk in pks}
    if pks:
        for c in ReviewComment.objects.filter(version_id__in=pks).order_by("at_seconds", "created_at", "pk"):
            comments[c.version_id].append(c)
        for d in ReviewDecision.objects.filter(version_id__in=pks).order_by("-created_at", "-pk"):
            decisions[d.version_id].append(d)
    labels = dict(Verdict.choices)
    rows = []
    for index, v in enumerate(versions):
        film = urls["film"](v.pk)
        rows.append(
            {
                "pk": v.pk,
                "number": v.number,
                "is_latest": index == 0,
                "created_at": v.created_at,
                "duration": v.duration,
                "verdict": v.verdict or "",
                "verdict_label": labels.get(v.verdict, "Awaiting review"),
                "badge": {"approved": "badge-ok", "changes": "badge-warn"}.get(v.verdict, "badge-muted"),
                "comment_count": v.comment_count,
                "film_url": film,
                "download_url": film + "?download=1",
                "poster_url": urls["poster"](v.pk) if v.poster else "",
                "master_url": urls["master"](v.pk) + "?download=1" if v.master else "",
                "comments": comment_rows(comments[v.pk]),
                "decisions": [
                    {
                        "author": d.author_name,
                        "verdict": d.verdict,
                        "verdict_label": labels.get(d.verdict, d.verdict),
                        "badge": "badge-ok" if d.verdict == Verdict.APPROVED else "badge-warn",
                        "note": d.note,
                        "created_at": d.created_at,
                    }
                    for d in decisions[v.pk]
                ],
            }
        )
    return rows


def branding(project: Project) -> dict:
    """What the share pages show of the project instead of the app's header."""
    accent = project.accent_color if ACCENT_COLOR.match(project.accent_color or "") else ""
    return {"name": project.client_name, "has_logo": bool(project.logo), "accent": accent}


def save_branding(project: Project, *, client_name: str, accent_color: str, logo=None) -> Project:
    """Set what the share pages show: `logo` is a new (checked, re-encoded) file, False to clear it,
    or None to keep it. Writes only these fields, so nothing else written meanwhile is put back. A
    logo replaced or cleared is deleted after the row is saved (a file left behind is harmless, a
    row without its file is not)."""
    old = Project.objects.filter(pk=project.pk).values_list("logo", flat=True).first() or ""
    project.client_name = client_name
    project.accent_color = accent_color
    fields = ["client_name", "accent_color"]
    if logo is False:
        project.logo = None
        fields.append("logo")
    elif logo is not None:
        project.logo = logo
        fields.append("logo")
    project.save(update_fields=fields)
    if "logo" in fields and old and old != project.logo.name:
        project.logo.storage.delete(old)
    return project
