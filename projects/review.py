"""Film versions and the client's review of them: publishing a version to the client, what a
share link shows, comments pinned to a time in the film, approvals and requests for changes, the
mails (to a link's recipient, to reviewers when a version is sent, to the project's owners and
editors on a decision), and the versions list on the sequence page.

A version is a draft for staff until someone sends it to the client. A share link shows only sent
versions: its pinned one, or, on an "always the latest" link, every version sent, the newest
first. Nothing unsent is reachable through a link, by `?v=` or otherwise. Comments and decisions
belong to the version the client was shown, which is named in the form they send: a version sent
while a client watches an older one never takes over their feedback.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

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
            "This link is for watching the film only. Please send your feedback to the person who "
            "shared it with you."
        )


class CommentsNotAllowed(ReviewRefused):
    def __init__(self) -> None:
        super().__init__("Comments are not taken through this link.")


class ApprovalNotAllowed(ReviewRefused):
    def __init__(self) -> None:
        super().__init__(
            "Decisions are not taken through this link. Please tell the person who shared it with you."
        )


class NothingToShare(Exception):
    """A link would show nothing: no version has been sent to the client."""

    def __init__(self) -> None:
        super().__init__(
            "Send a version to the client first (or make a link to one version): a link shows only the "
            "versions sent to the client."
        )


# --- publishing ----------------------------------------------------------------------------------


def send_version(version: FilmVersion, *, by, note: str = "") -> bool:
    """Send `version` to the client with an optional `note`: every "always the latest" link shows it
    from now on, and their recipients are mailed (after commit; a failing mail server loses the
    mail, never the sending). Sending a version sent already changes nothing and returns False."""
    with transaction.atomic():
        sent = version.send(by=by, note=note)
        if sent:
            transaction.on_commit(lambda: mail_reviewers_of_version(version.pk))
    return sent


def mail_reviewers_of_version(version_pk: int) -> int:
    """Tell the recipients of the usable "always the latest" links of the version's sequence that a
    new version is waiting at the link they have. Only the link's own address can carry its token,
    which is kept nowhere, so the mail names the film, not the link. Returns how many were mailed;
    errors are logged, not raised."""
    try:
        version = FilmVersion.objects.select_related("sequence__project").get(pk=version_pk)
        links = (
            ShareLink.objects.active()
            .filter(sequence_id=version.sequence_id, version__isnull=True)
            .exclude(recipient_email="")
            .order_by("pk")
        )
        title = one_line(version.sequence.title)
        count = 0
        for link in links:
            lines = [f"Hello {one_line(link.recipient_name)}," if link.recipient_name else "Hello,", ""]
            lines += [f"Version {version.number} of “{title}” is ready for you.", ""]
            if version.sent_note:
                lines += ["What changed:", *quoted(version.sent_note), ""]
            lines += ["Open the link you were sent for this film to watch it.", ""]
            send_mail(
                one_line(f"Version {version.number} of “{title}” is ready for you"),
                "\n".join(lines),
                settings.DEFAULT_FROM_EMAIL,
                [link.recipient_email],
            )
            count += 1
        return count
    except Exception:
        log.exception("Could not mail the reviewers of version %s", version_pk)
        return 0


def issue_link(
    sequence: Sequence,
    *,
    created_by,
    expires_in_days: int | None = None,
    version_number: int | None = None,
    recipient_name: str = "",
    recipient_email: str = "",
    can_comment: bool = True,
    can_approve: bool = True,
    can_download: bool = True,
    can_download_master: bool = True,
    password: str = "",
) -> tuple[ShareLink, str]:
    """A new share link and its token, which is stored nowhere: this is the only time it is known.
    It shows version `version_number` only (which is sent to the client with it, if it was not
    yet), or, when None, every version sent, the latest first. Raises NoSuchVersion for a number
    the sequence does not have, and NothingToShare for an "always the latest" link while no version
    has been sent; nothing is made then."""
    expires_at = timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    with transaction.atomic():
        version = None
        if version_number is not None:
            version = sequence.versions.filter(number=version_number).first()
            if version is None:
                raise NoSuchVersion()
            version.send(by=created_by)
        elif not sequence.versions.sent().exists():
            raise NothingToShare()
        return ShareLink.issue(
            sequence,
            created_by=created_by,
            expires_at=expires_at,
            version=version,
            recipient_name=recipient_name,
            recipient_email=recipient_email,
            can_comment=can_comment,
            can_approve=can_approve,
            can_download=can_download,
            can_download_master=can_download_master,
            password_hash=ShareLink.hash_password(password),
        )


def mail_link(link: ShareLink, *, url: str) -> bool:
    """Mail the link to its recipient, from the studio. `url` is the link's address (with the token,
    known only when the link is made). The password, if any, is not in the mail: it is given some
    other way. Returns whether the mail went; errors are logged, not raised."""
    if not link.recipient_email:
        return False
    try:
        sequence = link.sequence
        title = one_line(sequence.title)
        sender = one_line(link.created_by.get_full_name() or link.created_by.get_username())
        what = f"version {link.version.number} of “{title}”" if link.version_id else f"“{title}”"
        lines = [f"Hello {one_line(link.recipient_name)}," if link.recipient_name else "Hello,", ""]
        lines += [f"{sender} shared {what} with you.", "", url, ""]
        lines.append(f"Through this link you may {allowed_text(link)}.")
        if link.expires_at:
            lines.append(f"The link works until {timezone.localtime(link.expires_at):%d %B %Y, %H:%M}.")
        if link.has_password:
            lines.append(f"It asks for a password, which {sender} will give you.")
        lines.append("")
        send_mail(
            one_line(f"{sender} shared {what} with you"),
            "\n".join(lines),
            settings.DEFAULT_FROM_EMAIL,
            [link.recipient_email],
        )
        return True
    except Exception:
        log.exception("Could not mail share link %s", link.pk)
        return False


def allowed_text(link: ShareLink) -> str:
    """What the client may do through the link, in words: "watch it, comment on it and download it"."""
    may = ["watch it"]
    if link.can_comment:
        may.append("comment on it")
    if link.can_approve:
        may.append("approve it or ask for changes")
    if link.can_download:
        may.append("download it")
    if link.can_download_master:
        may.append("download its 4K master when there is one")
    return may[0] if len(may) == 1 else ", ".join(may[:-1]) + " and " + may[-1]


# --- what a link shows ---------------------------------------------------------------------------


def shown_versions(link: ShareLink) -> QuerySet[FilmVersion]:
    """The versions the link shows, the newest first: sent ones only, and only its pinned one."""
    versions = FilmVersion.objects.filter(sequence_id=link.sequence_id).sent()
    if link.version_id:
        versions = versions.filter(pk=link.version_id)
    return versions.order_by("-number")


def current_version(link: ShareLink) -> FilmVersion | None:
    """What the link shows when no version is asked for; None when it shows nothing."""
    return shown_versions(link).first()


def version_for(link: ShareLink, *, number: int) -> FilmVersion:
    """The version numbered `number` if `link` shows it (see `shown_versions`). Raises NoSuchVersion."""
    version = shown_versions(link).filter(number=number).first()
    if version is None:
        raise NoSuchVersion()
    return version


def add_comment(
    link: ShareLink, *, number: int, author_name: str, body: str, at_seconds: float
) -> ReviewComment:
    """The client's comment on a version at a time in the film (clamped to the film's length).
    Raises ReviewRefused when the link takes no comments or does not show that version."""
    if not link.can_comment:
        raise CommentsNotAllowed()
    version = version_for(link, number=number)
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
    decision). `sequence_url` is the absolute address of the sequence page for the mail. Raises
    ReviewRefused when the link takes no decisions or does not show that version."""
    if not link.can_approve:
        raise ApprovalNotAllowed()
    version = version_for(link, number=number)
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


def changes(contents: dict, previous: dict | None) -> list[str]:
    """What a version changed from the one before it, from what each is made of (`film_contents`):
    "shot 2: take 3", "shot 4 added", "narration added", "shot 3 stale". Empty when either was
    assembled before versions kept their contents."""
    if not contents:
        return []
    shots = contents.get("shots", [])
    if previous is None:
        lines = ["first version"]
        before: dict = {}
    elif not previous:
        return []
    else:
        lines = []
        before = {row["shot"]: row for row in previous.get("shots", [])}
    for number, row in enumerate(shots, start=1):
        take = f"take {row['take_number']}" if row.get("take_number") else "no take"
        old = before.get(row["shot"])
        if previous is not None and old is None:
            lines.append(f"shot {number} added ({take})")
        elif old is not None and old.get("take") != row.get("take"):
            lines.append(f"shot {number}: {take}")
        if row.get("is_stale"):
            lines.append(f"shot {number} stale")
    if previous is not None:
        gone = len(set(before) - {row["shot"] for row in shots})
        if gone:
            lines.append(f"{gone} shot{'s' if gone != 1 else ''} removed")
        kept = [row["shot"] for row in shots if row["shot"] in before]
        if kept != [pk for pk in before if pk in set(kept)]:
            lines.append("shots reordered")
        was, now = previous.get("narration"), contents.get("narration")
        if now and not was:
            lines.append("narration added")
        elif was and not now:
            lines.append("narration removed")
        elif was != now:
            lines.append("narration changed")
    elif contents.get("narration"):
        lines.append("narration")
    if previous is not None and not lines:
        lines.append("assembled again, nothing changed")
    return lines


def _decision_row(d: ReviewDecision) -> dict:
    return {
        "author": d.author_name,
        "verdict": d.verdict,
        "verdict_label": d.get_verdict_display(),
        "badge": "badge-ok" if d.verdict == Verdict.APPROVED else "badge-warn",
        "note": d.note,
        "created_at": d.created_at,
    }


def reviewer_rows(decisions: list[ReviewDecision]) -> list[dict]:
    """Each reviewer's standing decision on a version (their latest), from `decisions` newest first.
    A reviewer is the name they gave, whichever link they came through."""
    latest: dict[str, ReviewDecision] = {}
    for d in decisions:
        latest.setdefault(d.author_name.casefold(), d)
    return sorted((_decision_row(d) for d in latest.values()), key=lambda row: row["author"].casefold())


def _verdict_summary(reviewers: list[dict]) -> tuple[str, str, str]:
    """The version's state from its reviewers' standing decisions: verdict, label and badge."""
    if not reviewers:
        return "", "Awaiting review", "badge-muted"
    approved = sum(1 for r in reviewers if r["verdict"] == Verdict.APPROVED)
    if approved == len(reviewers):
        label = "Approved" if approved == 1 else f"Approved by all {approved}"
        return Verdict.APPROVED, label, "badge-ok"
    if approved:
        return (
            Verdict.CHANGES_REQUESTED,
            f"Changes requested ({approved} of {len(reviewers)} approved)",
            "badge-warn",
        )
    return Verdict.CHANGES_REQUESTED, "Changes requested", "badge-warn"


def version_rows(sequence: Sequence, *, urls: dict) -> list[dict]:
    """The sequence page's versions, newest first, each with whether it was sent to the client, what
    changed, each reviewer's standing decision, and its comments and decisions. Three queries
    whatever the number of versions and comments. `urls` maps "film", "poster" and "master" to
    functions of a version pk."""
    versions = list(
        sequence.versions.select_related("sent_by")
        .annotate(comment_count=Count("comments", distinct=True))
        .order_by("-number")
    )
    pks = [v.pk for v in versions]
    comments: dict[int, list] = {pk: [] for pk in pks}
    decisions: dict[int, list] = {pk: [] for pk in pks}
    if pks:
        for c in ReviewComment.objects.filter(version_id__in=pks).order_by("at_seconds", "created_at", "pk"):
            comments[c.version_id].append(c)
        for d in ReviewDecision.objects.filter(version_id__in=pks).order_by("-created_at", "-pk"):
            decisions[d.version_id].append(d)
    rows = []
    for index, v in enumerate(versions):
        film = urls["film"](v.pk)
        previous = versions[index + 1].contents if index + 1 < len(versions) else None
        reviewers = reviewer_rows(decisions[v.pk])
        verdict, label, badge = _verdict_summary(reviewers)
        rows.append(
            {
                "pk": v.pk,
                "number": v.number,
                "is_latest": index == 0,
                "created_at": v.created_at,
                "duration": v.duration,
                "is_sent": v.is_sent,
                "sent_at": v.sent_at,
                "sent_by": (v.sent_by.get_full_name() or v.sent_by.get_username()) if v.sent_by else "",
                "sent_note": v.sent_note,
                "changes": changes(v.contents, previous),
                "verdict": verdict,
                "verdict_label": label if v.is_sent else "Draft: not sent",
                "badge": badge if v.is_sent else "badge-muted",
                "reviewers": reviewers,
                "comment_count": v.comment_count,
                "film_url": film,
                "download_url": film + "?download=1",
                "poster_url": urls["poster"](v.pk) if v.poster else "",
                "master_url": urls["master"](v.pk) + "?download=1" if v.master else "",
                "comments": comment_rows(comments[v.pk]),
                "decisions": [_decision_row(d) for d in decisions[v.pk]],
            }
        )
    return rows


def history_rows(link: ShareLink) -> tuple[list[dict], dict[int, list[ReviewDecision]]]:
    """The versions the link shows (newest first), each with what changed, each reviewer's standing
    decision and its comment count: the client's version history; and every decision on them, by
    version pk, newest first. Two queries."""
    versions = list(shown_versions(link).annotate(comment_count=Count("comments")))
    pks = [v.pk for v in versions]
    decisions: dict[int, list] = {pk: [] for pk in pks}
    for d in ReviewDecision.objects.filter(version_id__in=pks).order_by("-created_at", "-pk"):
        decisions[d.version_id].append(d)
    rows = []
    for index, v in enumerate(versions):
        # Against the version sent before it (the client never saw the drafts between); the first
        # version sent says what it is made of only when it is the film's first.
        if index + 1 < len(versions):
            changed = changes(v.contents, versions[index + 1].contents)
        else:
            changed = changes(v.contents, None) if v.number == 1 else []
        reviewers = reviewer_rows(decisions[v.pk])
        verdict, label, badge = _verdict_summary(reviewers)
        rows.append(
            {
                "version": v,
                "number": v.number,
                "sent_at": v.sent_at,
                "sent_note": v.sent_note,
                "changes": changed,
                "reviewers": reviewers,
                "verdict": verdict,
                "verdict_label": label,
                "badge": badge,
                "is_approved": any(r["verdict"] == Verdict.APPROVED for r in reviewers),
                "comment_count": v.comment_count,
            }
        )
    return rows, decisions


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
