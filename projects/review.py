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
import json
import logging
import math
import re
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from generation import audit
from generation.mail import one_line, quoted
from generation.models import Take
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


class NoSuchComment(ReviewRefused):
    def __init__(self) -> None:
        super().__init__("That comment is not on this version of the film.")


class BadDrawing(ValueError):
    """A drawing that is not a short list of known shapes in normalised coordinates."""


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
        link, token = ShareLink.issue(
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
        audit.record(
            actor=created_by,
            action=audit.AuditEntry.Action.LINK_CREATED,
            obj=link,
            description=f"none -> link for {sequence.title!r} ({allowed_text(link)})",
        )
        return link, token


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
        if link.kind == ShareLink.Kind.STORYBOARD:
            what = f"the storyboard of “{title}”"
        elif link.version_id:
            what = f"version {link.version.number} of “{title}”"
        else:
            what = f"“{title}”"
        lines = [f"Hello {one_line(link.recipient_name)}," if link.recipient_name else "Hello,", ""]
        lines += [f"{sender} shared {what} with you.", "", url, ""]
        if link.kind == ShareLink.Kind.STORYBOARD:
            lines.append("Through this link you may comment on each shot and approve the storyboard.")
        else:
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
    if link.kind == ShareLink.Kind.STORYBOARD:
        return FilmVersion.objects.none()
    versions = FilmVersion.objects.filter(sequence_id=link.sequence_id).sent()
    if link.version_id:
        versions = versions.filter(pk=link.version_id)
    return versions.order_by("-number")


def shown_list(link: ShareLink) -> list[FilmVersion]:
    """`shown_versions`, read once for this instance of the link (one request's)."""
    if not hasattr(link, "_shown_versions"):
        link._shown_versions = list(shown_versions(link))
    return link._shown_versions


def current_version(link: ShareLink) -> FilmVersion | None:
    """What the link shows when no version is asked for; None when it shows nothing."""
    versions = shown_list(link)
    return versions[0] if versions else None


def version_for(link: ShareLink, *, number: int) -> FilmVersion:
    """The version numbered `number` if `link` shows it (see `shown_versions`). Raises NoSuchVersion."""
    version = shown_versions(link).filter(number=number).first()
    if version is None:
        raise NoSuchVersion()
    return version


def add_comment(
    link: ShareLink,
    *,
    number: int,
    author_name: str,
    body: str,
    at_seconds: float,
    drawing: list | None = None,
    reply_to: int | None = None,
) -> ReviewComment:
    """The client's comment on a version at a time in the film (clamped to the film's length), with
    an optional drawing (`clean_drawing`'s shapes); or, with `reply_to`, a reply to a comment the
    client can see on that version (a reply to a reply joins its thread), at its time. Raises
    ReviewRefused when the link takes no comments, does not show that version, or the comment
    replied to is not one of its own."""
    if not link.can_comment:
        raise CommentsNotAllowed()
    version = version_for(link, number=number)
    parent = None
    if reply_to is not None:
        parent = _thread_of(ReviewComment.objects.for_client(), version=version, pk=reply_to)
    return _create_comment(
        version,
        share_link=link,
        author_name=author_name,
        body=body,
        at_seconds=at_seconds,
        drawing=drawing,
        parent=parent,
    )


def add_staff_comment(
    version: FilmVersion,
    *,
    user,
    body: str,
    at_seconds: float,
    is_internal: bool,
    drawing: list | None = None,
    reply_to: int | None = None,
) -> ReviewComment:
    """A staff member's comment on a version (or reply to any comment on it). An internal one is
    never shown to clients, nor are replies to it: a reply in an internal thread is internal too.
    Raises NoSuchComment for a `reply_to` not on the version."""
    parent = None
    if reply_to is not None:
        parent = _thread_of(ReviewComment.objects.all(), version=version, pk=reply_to)
        is_internal = is_internal or parent.is_internal
    return _create_comment(
        version,
        author=user,
        author_name=(user.get_full_name() or user.get_username())[:80],
        body=body,
        at_seconds=at_seconds,
        drawing=drawing,
        parent=parent,
        is_internal=is_internal,
    )


def _thread_of(comments: QuerySet[ReviewComment], *, version: FilmVersion, pk: int) -> ReviewComment:
    comment = comments.filter(version=version, pk=pk).select_related("parent").first()
    if comment is None:
        raise NoSuchComment()
    return comment.parent or comment


def _create_comment(version: FilmVersion, *, at_seconds: float, drawing, parent, **fields) -> ReviewComment:
    if parent is not None:
        at_seconds, drawing = parent.at_seconds, []
    elif version.duration:
        at_seconds = min(at_seconds, version.duration)
    return ReviewComment.objects.create(
        version=version, parent=parent, at_seconds=max(at_seconds, 0.0), drawing=drawing or [], **fields
    )


def resolve_comment(comment: ReviewComment, *, resolved: bool) -> None:
    """Mark a thread resolved (or open again): its top comment carries the state."""
    (comment.parent or comment).set_resolved(resolved)


def comment_for_link(link: ShareLink, pk: int) -> ReviewComment:
    """A comment the link's client can see (on a version the link shows). Raises NoSuchComment."""
    comment = (
        ReviewComment.objects.for_client()
        .filter(pk=pk, version__in=shown_versions(link))
        .select_related("parent", "version")
        .first()
    )
    if comment is None:
        raise NoSuchComment()
    return comment


def note_for_retake(shot_pk: int, comment_pk: str) -> dict | None:
    """The comment a retake of the shot answers, as the retake confirmation shows it beside the
    prompt: a comment (or its thread's first) on a version of the shot's sequence. None otherwise."""
    if not str(comment_pk).isdigit():
        return None
    comment = (
        ReviewComment.objects.select_related("version", "parent")
        .filter(pk=int(comment_pk), version__sequence__shots__pk=shot_pk)
        .first()
    )
    if comment is None:
        return None
    comment = comment.parent or comment
    return {
        "pk": comment.pk,
        "author": comment.author_name,
        "body": comment.body,
        "at_text": timecode(comment.at_seconds),
        "version_number": comment.version.number,
        "is_internal": comment.is_internal,
        "has_drawing": bool(comment.drawing),
    }


# --- drawings ------------------------------------------------------------------------------------

DRAWING_KINDS = {"arrow": (2, 2), "box": (2, 2), "pen": (2, 400)}
DRAWING_MAX_SHAPES = 20
DRAWING_MAX_POINTS = 2000
DRAWING_MAX_BYTES = 32_000
DRAWING_COLOURS = {"red", "yellow", "blue", "white"}


def clean_drawing(text: str) -> list[dict]:
    """The shapes of a drawing sent as JSON: a list of at most 20 `{"kind": "arrow"|"box"|"pen",
    "points": [[x, y], ...], "colour": ...}`, each point a pair of numbers from 0 to 1 (a fraction of
    the frame's width and height, so a drawing fits the frame at any size). An arrow or a box has
    two points (from, to; two corners), a pen line 2 to 400. Coordinates are rounded to 4 places.
    Raises BadDrawing for anything else, or for more than 32 kB. Empty text is no drawing."""
    if not text or not text.strip():
        return []
    if len(text) > DRAWING_MAX_BYTES:
        raise BadDrawing("The drawing is too large.")
    try:
        data = json.loads(text)
    except ValueError:
        raise BadDrawing("The drawing could not be read.") from None
    if not isinstance(data, list) or len(data) > DRAWING_MAX_SHAPES:
        raise BadDrawing(f"A drawing is a list of at most {DRAWING_MAX_SHAPES} shapes.")
    shapes, total = [], 0
    for shape in data:
        if not isinstance(shape, dict) or set(shape) - {"kind", "points", "colour"}:
            raise BadDrawing("A shape has a kind, its points and a colour.")
        kind, points = shape.get("kind"), shape.get("points")
        if kind not in DRAWING_KINDS or not isinstance(points, list):
            raise BadDrawing("A shape is an arrow, a box or a pen line.")
        fewest, most = DRAWING_KINDS[kind]
        if not fewest <= len(points) <= most:
            raise BadDrawing(f"A {kind} has {fewest} to {most} points.")
        total += len(points)
        clean = []
        for point in points:
            if not (isinstance(point, list) and len(point) == 2):
                raise BadDrawing("A point is a pair of numbers.")
            if not all(
                isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n) and 0 <= n <= 1
                for n in point
            ):
                raise BadDrawing("A point's coordinates are fractions of the frame, from 0 to 1.")
            clean.append([round(float(point[0]), 4), round(float(point[1]), 4)])
        colour = shape.get("colour", "red")
        if colour not in DRAWING_COLOURS:
            raise BadDrawing("A shape's colour is one of red, yellow, blue and white.")
        shapes.append({"kind": kind, "points": clean, "colour": colour})
    if total > DRAWING_MAX_POINTS:
        raise BadDrawing("The drawing has too many points.")
    return shapes


# --- frames and shots ----------------------------------------------------------------------------

DEFAULT_FRAME_RATE = 24.0


def frame_rate(version: FilmVersion) -> float:
    """The version's frames per second, probed from its film (with ffmpeg, outside any transaction)
    the first time it is asked for and kept on the row. A film that cannot be read counts as 24."""
    if version.frame_rate:
        return version.frame_rate
    from generation import media

    try:
        try:
            fps = media.probe(version.film.path).fps
        except NotImplementedError:  # storage without local paths (S3): probe a copy
            with tempfile.TemporaryDirectory(prefix="probe-") as workdir:
                local = Path(workdir) / "film.mp4"
                with version.film.open("rb") as source, local.open("wb") as out:
                    shutil.copyfileobj(source, out)
                fps = media.probe(local).fps
    except Exception as error:
        # Kept as the default: a version's file never changes, so asking again would fail again.
        log.info("Could not probe the frame rate of version %s: %s", version.pk, error)
        fps = 0.0
    if not fps or fps <= 0:
        fps = DEFAULT_FRAME_RATE
    FilmVersion.objects.filter(pk=version.pk).update(frame_rate=fps)
    version.frame_rate = fps
    return fps


def shot_spans(versions: list[FilmVersion]) -> dict[int, list[dict]]:
    """Where each shot plays in each version's film, by version pk: `{"shot": pk, "take": pk,
    "number": 1.., "start": s, "end": s}` in film order, from the version's contents and its clips'
    durations (the film is its clips back to back). One query. Empty for a version assembled before
    versions kept their contents."""
    take_pks = {row.get("take") for v in versions for row in v.contents.get("shots", []) if row.get("take")}
    durations = dict(Take.objects.filter(pk__in=take_pks).values_list("pk", "duration")) if take_pks else {}
    spans: dict[int, list[dict]] = {}
    for v in versions:
        start, rows = 0.0, []
        for number, row in enumerate(v.contents.get("shots", []), start=1):
            length = durations.get(row.get("take")) or 0.0
            if not length:
                continue  # a shot without a clip is not in the film
            rows.append(
                {
                    "shot": row["shot"],
                    "take": row.get("take"),
                    "number": number,
                    "start": start,
                    "end": start + length,
                }
            )
            start += length
        spans[v.pk] = rows
    return spans


def span_at(spans: list[dict], seconds: float) -> dict | None:
    """The shot playing at `seconds` (the later shot at a cut; the last shot at the very end)."""
    for span in spans:
        if span["start"] <= seconds < span["end"]:
            return span
    return spans[-1] if spans and seconds >= spans[-1]["end"] - 1e-6 else None


def answered_by(versions: list[FilmVersion], comments: list[ReviewComment], spans: dict) -> dict[int, int]:
    """Which version answers each comment: by comment pk, the pk of the first of `versions` after
    the comment's own (by number) in which the shot playing at the comment's time has another take,
    that is, was made again. `versions` are the ones to look in (all for staff, the versions sent
    for a client); comments not answered yet are left out."""
    ordered = sorted(versions, key=lambda v: v.number)
    takes = {v.pk: {row["shot"]: row.get("take") for row in v.contents.get("shots", [])} for v in ordered}
    numbers = {v.pk: v.number for v in ordered}
    answers: dict[int, int] = {}
    for comment in comments:
        own = spans.get(comment.version_id)
        span = span_at(own, comment.at_seconds) if own else None
        if span is None:
            continue
        after = comment.version.number if comment.version_id not in numbers else numbers[comment.version_id]
        for v in ordered:
            if v.number > after and span["shot"] in takes[v.pk] and takes[v.pk][span["shot"]] != span["take"]:
                answers[comment.pk] = v.pk
                break
    return answers


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


def frame_timecode(seconds: float, fps: float) -> str:
    """0:03:12 is frame 12 of second 3: how the players and the comments write a time in frames."""
    frames = round(seconds * fps)
    per_second = max(round(fps), 1)
    whole, frame = divmod(frames, per_second)
    return f"{timecode(whole)}:{frame:02d}"


def _comment_row(c: ReviewComment, *, fps: float) -> dict:
    return {
        "pk": c.pk,
        "author": c.author_name,
        "is_staff": c.author_id is not None,
        "is_internal": c.is_internal,
        "body": c.body,
        "at": c.at_seconds,
        "at_text": timecode(c.at_seconds),
        "frame_text": frame_timecode(c.at_seconds, fps),
        "seek": f"{c.at_seconds:.2f}",
        "drawing": c.drawing,
        "drawing_json": json.dumps(c.drawing, separators=(",", ":")) if c.drawing else "",
        "shape_count": len(c.drawing),
        "is_resolved": c.is_resolved,
        "created_at": c.created_at,
    }


def comment_rows(comments, *, fps: float = DEFAULT_FRAME_RATE, spans: list[dict] | None = None) -> list[dict]:
    """Threads in film order: each top comment with its replies (oldest first), its time in frames,
    its drawing and, given the version's `spans`, the shot playing at its time."""
    comments = list(comments)
    replies: dict[int, list[dict]] = {}
    for c in sorted(comments, key=lambda c: (c.created_at, c.pk)):
        if c.parent_id:
            replies.setdefault(c.parent_id, []).append(_comment_row(c, fps=fps))
    rows = []
    for c in comments:
        if c.parent_id:
            continue
        row = _comment_row(c, fps=fps)
        row["replies"] = replies.get(c.pk, [])
        span = span_at(spans, c.at_seconds) if spans else None
        row["shot_number"] = span["number"] if span else None
        row["shot_pk"] = span["shot"] if span else None
        rows.append(row)
    return rows


def shot_groups(rows: list[dict], spans: list[dict]) -> list[dict]:
    """The comment threads of a version under the shot playing at their time, in film order; the
    threads that fall in no shot (a version without contents) last, under no shot."""
    groups = [
        {**span, "start_text": timecode(span["start"]), "end_text": timecode(span["end"]), "comments": []}
        for span in spans
    ]
    by_number = {g["number"]: g for g in groups}
    loose = []
    for row in rows:
        group = by_number.get(row["shot_number"])
        (group["comments"] if group else loose).append(row)
    shown = [g for g in groups if g["comments"]]
    if loose:
        shown.append({"number": None, "comments": loose})
    return shown


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


def _answer_rows(
    answers: dict[int, int], comments: dict[int, ReviewComment], versions: dict, spans: dict
) -> dict:
    """By version pk, the comments it answers: each with the version it was made on and the shot."""
    rows: dict[int, list[dict]] = {}
    for comment_pk, version_pk in answers.items():
        comment = comments[comment_pk]
        before = versions[comment.version_id]
        span = span_at(spans[before.pk], comment.at_seconds)
        rows.setdefault(version_pk, []).append(
            {
                "pk": comment.pk,
                "author": comment.author_name,
                "body": comment.body,
                "at_text": timecode(comment.at_seconds),
                "from_number": before.number,
                "shot_number": span["number"],
                "shot_pk": span["shot"],
            }
        )
    for answered in rows.values():
        answered.sort(key=lambda row: (row["from_number"], row["shot_number"], row["pk"]))
    return rows


def version_rows(sequence: Sequence, *, urls: dict) -> list[dict]:
    """The sequence page's versions, newest first, each with whether it was sent to the client, what
    changed, each reviewer's standing decision, its comment threads (clients' and staff's, internal
    ones marked) under the shot playing at their time, and the comments of earlier versions it
    answers (it made their shot again). A few queries whatever the number of versions and comments.
    `urls` maps "film", "poster" and "master" to functions of a version pk."""
    versions = list(
        sequence.versions.select_related("sent_by")
        .annotate(comment_count=Count("comments", distinct=True))
        .order_by("-number")
    )
    pks = [v.pk for v in versions]
    comments: dict[int, list] = {pk: [] for pk in pks}
    decisions: dict[int, list] = {pk: [] for pk in pks}
    by_pk: dict[int, ReviewComment] = {}
    if pks:
        for c in ReviewComment.objects.filter(version_id__in=pks).order_by("at_seconds", "created_at", "pk"):
            comments[c.version_id].append(c)
            by_pk[c.pk] = c
        for d in ReviewDecision.objects.filter(version_id__in=pks).order_by("-created_at", "-pk"):
            decisions[d.version_id].append(d)
    spans = shot_spans(versions)
    by_version = {v.pk: v for v in versions}
    for c in by_pk.values():
        c.version = by_version[c.version_id]
    tops = [c for c in by_pk.values() if c.parent_id is None]
    answers = _answer_rows(answered_by(versions, tops, spans), by_pk, by_version, spans)
    current_shots = set(sequence.shots.values_list("pk", flat=True)) if pks else set()
    rows = []
    for index, v in enumerate(versions):
        film = urls["film"](v.pk)
        previous = versions[index + 1].contents if index + 1 < len(versions) else None
        reviewers = reviewer_rows(decisions[v.pk])
        verdict, label, badge = _verdict_summary(reviewers)
        fps = frame_rate(v) if v.film else DEFAULT_FRAME_RATE
        threads = comment_rows(comments[v.pk], fps=fps, spans=spans[v.pk])
        for thread in threads:
            thread["can_retake"] = thread["shot_pk"] in current_shots
        rows.append(
            {
                "pk": v.pk,
                "number": v.number,
                "is_latest": index == 0,
                "created_at": v.created_at,
                "duration": v.duration,
                "fps": fps,
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
                "comments": threads,
                "groups": shot_groups(threads, spans[v.pk]),
                "spans": [{"start": sp["start"], "number": sp["number"]} for sp in spans[v.pk]],
                "answers": answers.get(v.pk, []),
                "decisions": [_decision_row(d) for d in decisions[v.pk]],
            }
        )
    return rows


def history_rows(link: ShareLink) -> tuple[list[dict], dict[int, list[ReviewDecision]]]:
    """The versions the link shows (newest first), each with what changed, each reviewer's standing
    decision, its comment count (clients' comments only) and the client's comments on earlier
    versions it answers: the client's version history; and every decision on them, by version pk,
    newest first. Each row also holds the version's comments a client may read, replies included
    (`client_comments`, in the comments' order). Three queries, the versions read once per request
    (`shown_list`)."""
    versions = shown_list(link)
    pks = [v.pk for v in versions]
    by_version = {v.pk: v for v in versions}
    decisions: dict[int, list] = {pk: [] for pk in pks}
    for d in ReviewDecision.objects.filter(version_id__in=pks).order_by("-created_at", "-pk"):
        decisions[d.version_id].append(d)
    comments: dict[int, list] = {pk: [] for pk in pks}
    for c in ReviewComment.objects.for_client().filter(version_id__in=pks):
        c.version = by_version[c.version_id]
        comments[c.version_id].append(c)
    tops = [c for pk in pks for c in comments[pk] if c.parent_id is None]
    answers: dict = {}
    if len(versions) > 1:
        spans = shot_spans(versions)
        answers = _answer_rows(answered_by(versions, tops, spans), {c.pk: c for c in tops}, by_version, spans)
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
                "pk": v.pk,
                "number": v.number,
                "sent_at": v.sent_at,
                "sent_note": v.sent_note,
                "changes": changed,
                "reviewers": reviewers,
                "verdict": verdict,
                "verdict_label": label,
                "badge": badge,
                "is_approved": any(r["verdict"] == Verdict.APPROVED for r in reviewers),
                "comment_count": sum(1 for c in comments[v.pk] if c.parent_id is None),
                "client_comments": comments[v.pk],
                "answers": answers.get(v.pk, []),
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
