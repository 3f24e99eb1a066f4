"""Share links, the client's share page and review, film versions (and sending them to the client),
and the share pages' branding."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from projects import page_cache, review, storyboard_review, throttle
from projects.downloads import ranged_file_response, starts_a_fetch
from projects.forms import (
    ProjectBrandingForm,
    ReviewCommentForm,
    ReviewDecisionForm,
    ReviewNameForm,
    SendVersionForm,
    ShareLinkForm,
    SharePasswordForm,
    StaffCommentForm,
    StoryboardApprovalForm,
    StoryboardCommentForm,
    StoryboardLinkForm,
)
from projects.models import (
    FilmVersion,
    Project,
    ReviewComment,
    Sequence,
    ShareLink,
    token_digest,
)
from projects.views.common import (
    EDIT,
    OWN,
    VIEW,
    _can_edit,
    _confirm,
    _film_filename,
    _get_for_user,
    _get_project_for_user,
    _get_sequence_for_user,
    _get_share_link_for_user,
    _pk_url,
)
from projects.views.projects import _project_context

# --- sharing -------------------------------------------------------------------------------------

# The token of a link just made, kept for a few minutes in a signed cookie that only the link's own
# staff page reads: the page can be reloaded (post/redirect/get) and the link copied, while the
# token is still stored nowhere on the server.
NEW_LINK_COOKIE = "new_share_link"
NEW_LINK_SALT = "projects.new-share-link"
NEW_LINK_MAX_AGE = 15 * 60


def _show_new_link(request: HttpRequest, link, token: str) -> HttpResponse:
    """After a link is made: mail it to its recipient if it names one, and redirect to the link's
    own page, which alone may read the token (kept briefly in a signed cookie), so that a reload
    shows the same link and never makes another."""
    url = request.build_absolute_uri(reverse("shared_film", args=[token]))
    if link.recipient_email:
        if review.mail_link(link, url=url):
            messages.success(request, f"The link was mailed to {link.recipient_email}.")
        else:
            messages.error(request, f"The link could not be mailed to {link.recipient_email}: copy it below.")
    page = reverse("share_link", args=[link.pk])
    response = redirect(page)
    response.set_signed_cookie(
        NEW_LINK_COOKIE,
        f"{link.pk}:{token}",
        salt=NEW_LINK_SALT,
        max_age=NEW_LINK_MAX_AGE,
        path=page,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return response


@require_POST
@login_required
def create_share_link(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk]) + "#sharing"
    form = ShareLinkForm(request.POST, sequence=sequence)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()
        )
        messages.error(request, f"No link was made. {problems}")
        return redirect(back)
    data = form.cleaned_data
    try:
        link, token = review.issue_link(
            sequence,
            created_by=request.user,
            expires_in_days=data["expires_in_days"],
            version_number=data["version"],
            recipient_name=data["recipient_name"],
            recipient_email=data["recipient_email"],
            can_comment=data["can_comment"],
            can_approve=data["can_approve"],
            can_download=data["can_download"],
            can_download_master=data["can_download_master"],
            password=data["password"],
        )
    except (review.NoSuchVersion, review.NothingToShare) as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    return _show_new_link(request, link, token)


def _new_token(request: HttpRequest, link: ShareLink) -> str:
    """The token of `link` if it was made moments ago in this browser, else ""."""
    try:
        value = request.get_signed_cookie(NEW_LINK_COOKIE, salt=NEW_LINK_SALT, max_age=NEW_LINK_MAX_AGE)
    except (KeyError, signing.BadSignature):
        return ""
    pk, _, token = value.partition(":")
    if pk != str(link.pk) or not constant_time_compare(token_digest(token), link.token_digest):
        return ""
    return token


@require_safe
@login_required
def share_link(request: HttpRequest, pk: int) -> HttpResponse:
    """A link's page for staff: whom it is for, what it allows, how it is used, and, for a few
    minutes after it was made, the link itself with a Copy button."""
    link = _get_share_link_for_user(request, pk, EDIT)
    sequence = link.sequence
    token = _new_token(request, link)
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "link": link,
        "number": sequence.share_links.filter(pk__lte=link.pk).count(),
        "url": request.build_absolute_uri(reverse("shared_film", args=[token])) if token else "",
        "allowed": review.allowed_text(link),
        "minutes": NEW_LINK_MAX_AGE // 60,
        "back": reverse("sequence_detail", args=[sequence.pk]) + "#sharing",
    }
    response = render(request, "projects/share_link.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_POST
@login_required
def revoke_share_link(request: HttpRequest, pk: int) -> HttpResponse:
    link = _get_share_link_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[link.sequence_id]) + "#sharing"
    confirmation = _confirm(
        request,
        title="Revoke share link",
        question=f"Revoke this share link for “{link.sequence.title}”?",
        details=["Anyone who has the link will no longer be able to watch or download the film."],
        button="Revoke link",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    link.revoke()
    messages.success(request, "Share link revoked.")
    return redirect(back)


# --- the client's pages --------------------------------------------------------------------------

SHARED_CACHE_CONTROL = "private, no-store"
REVIEW_NAME_COOKIE = "review_name"
REVIEW_NAME_SALT = "projects.review-name"
REVIEW_NAME_MAX_AGE = 365 * 24 * 3600
# A password given once opens the link in that browser for a week (until the password changes).
UNLOCK_COOKIE = "share_unlocked_{}"
UNLOCK_SALT = "projects.share-unlock"
UNLOCK_MAX_AGE = 7 * 24 * 3600
# Wrong passwords per address before it must wait: Django's hashers make each guess slow, this
# makes guessing a link's password as slow as guessing an account's.
PASSWORD_LIMIT = 10
PASSWORD_WINDOW = 600


def _private_headers(response: HttpResponse) -> HttpResponse:
    # The token is the whole secret: keep it out of Referer headers and search engines. Same-origin,
    # not no-referrer: with no-referrer a browser sends "Origin: null" with the page's own review
    # forms, which CSRF protection rightly refuses; other sites still get no Referer.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    # Nothing is kept by the browser, so a revoked link stops working there too.
    response["Cache-Control"] = SHARED_CACHE_CONTROL
    return response


def _client_page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    return _private_headers(render(request, template, {"hide_nav": True, **context}, status=status))


def _share_link_or_gone(
    request: HttpRequest, token: str
) -> tuple[ShareLink | None, FilmVersion | None, HttpResponse | None]:
    """The link, the version it shows now, or the response that says it shows nothing (429, 404,
    410)."""
    ip = throttle.client_ip(request)
    if throttle.is_blocked("share-miss", ip, limit=settings.SHARE_LINK_MISS_LIMIT):
        return (
            None,
            None,
            render(request, "projects/shared_film_throttled.html", {"hide_nav": True}, status=429),
        )
    link = ShareLink.find(token)
    if link is None:
        throttle.record_failure("share-miss", ip, window=settings.SHARE_LINK_MISS_WINDOW)
        raise Http404("No such link.")
    if link.kind == ShareLink.Kind.STORYBOARD and link.is_active:
        return link, None, None  # a storyboard link shows no film version
    current = review.current_version(link) if link.is_active else None
    if current is None:
        context = {"link": link, "brand": review.branding(link.sequence.project)}
        return None, None, _client_page(request, "projects/shared_film_gone.html", context, status=410)
    return link, current, None


def _is_unlocked(request: HttpRequest, link: ShareLink) -> bool:
    if not link.has_password:
        return True
    value = request.get_signed_cookie(
        UNLOCK_COOKIE.format(link.pk), default="", salt=UNLOCK_SALT, max_age=UNLOCK_MAX_AGE
    )
    return constant_time_compare(value, link.password_fingerprint)


def _password_page(
    request: HttpRequest,
    token: str,
    link: ShareLink,
    *,
    form: SharePasswordForm | None = None,
    status: int = 200,
) -> HttpResponse:
    # Nothing of the film (title, version, poster) before the password: only the studio's branding.
    context = {
        "brand": review.branding(link.sequence.project),
        "token": token,
        "form": form or SharePasswordForm(),
    }
    return _client_page(request, "projects/shared_film_password.html", context, status=status)


def _open_link(
    request: HttpRequest, token: str, *, locked_status: int = 403, storyboard: bool = False
) -> tuple[ShareLink | None, FilmVersion | None, HttpResponse | None]:
    """As `_share_link_or_gone`, and the password page while the link's password has not been given
    in this browser. A storyboard link opens only the pages that take one (`storyboard`)."""
    link, current, gone = _share_link_or_gone(request, token)
    if gone:
        return None, None, gone
    if current is None and not storyboard:
        raise Http404("This link shows a storyboard, not a film.")
    if not _is_unlocked(request, link):
        return None, None, _password_page(request, token, link, status=locked_status)
    return link, current, None


@require_POST
def unlock_shared_film(request: HttpRequest, token: str) -> HttpResponse:
    """The client gives the link's password; checked by Django's password hashers, throttled per
    address."""
    ip = throttle.client_ip(request)
    if throttle.is_blocked("share-password", ip, limit=PASSWORD_LIMIT):
        return _client_page(request, "projects/shared_film_throttled.html", {}, status=429)
    link, _current, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    page = redirect(reverse("shared_film", args=[token]))
    if not link.has_password:
        return page
    form = SharePasswordForm(request.POST)
    if form.is_valid() and link.check_password(form.cleaned_data["password"]):
        throttle.clear("share-password", ip)
        page.set_signed_cookie(
            UNLOCK_COOKIE.format(link.pk),
            link.password_fingerprint,
            salt=UNLOCK_SALT,
            max_age=UNLOCK_MAX_AGE,
            path="/s/",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return page
    throttle.record_failure("share-password", ip, window=PASSWORD_WINDOW)
    if form.is_valid():
        form.add_error("password", "That is not the password of this link.")
    return _password_page(request, token, link, form=form, status=403)


def _review_name(request: HttpRequest) -> str:
    return request.get_signed_cookie(REVIEW_NAME_COOKIE, default="", salt=REVIEW_NAME_SALT)[:80]


def _file_url(name: str, token: str, version: FilmVersion, extra: str = "") -> str:
    return reverse(name, args=[token]) + f"?v={version.number}{extra}"


def _shared_film_page(
    request: HttpRequest,
    token: str,
    link: ShareLink,
    version: FilmVersion,
    *,
    comment_form: ReviewCommentForm | None = None,
    decision_form: ReviewDecisionForm | None = None,
    name_form: ReviewNameForm | None = None,
) -> HttpResponse:
    """The page of one version the link shows, with the link's version history beside it."""
    name = _review_name(request)
    history, decisions_by_version = review.history_rows(link)
    this = next(row for row in history if row["number"] == version.number)
    number = version.number
    decisions = decisions_by_version[version.pk]
    fps = review.frame_rate(version)
    others = [row["number"] for row in history if row["number"] != number]
    context = {
        "link": link,
        "token": token,
        "sequence": link.sequence,
        "brand": review.branding(link.sequence.project),
        "version": version,
        "this": this,
        "is_current": history[0]["number"] == number,
        "history": history if len(history) > 1 else [],
        "page_url": reverse("shared_film", args=[token]),
        "film_url": _file_url("shared_film_download", token, version) if link.can_download else "",
        "play_url": _file_url("shared_film_download", token, version, "&inline=1"),
        "poster_url": _file_url("shared_film_poster", token, version) if version.poster else "",
        "master_url": _file_url("shared_film_master", token, version)
        if link.can_download_master and version.master
        else "",
        "can_review": link.can_review,
        "can_comment": link.can_comment,
        "can_approve": link.can_approve,
        "review_name": name,
        "reviewers": review.reviewer_rows(decisions),
        "comments_html": _client_comments(
            request, token, link, version, fps=fps, comments=this["client_comments"]
        ),
        "fps": fps,
        "compare_url": reverse("shared_compare", args=[token]) + f"?a={others[0]}&b={number}"
        if others
        else "",
        "compare_base": reverse("shared_compare", args=[token]),
    }
    if link.can_review:
        context.update(
            {
                "name_form": name_form or ReviewNameForm(initial={"name": name}),
                "comment_form": comment_form or ReviewCommentForm(initial={"version": number}),
                "decision_form": decision_form or ReviewDecisionForm(initial={"version": number}),
                "decisions": decisions[:5],
            }
        )
    return _client_page(request, "projects/shared_film.html", context)


def _client_comments(
    request: HttpRequest, token: str, link: ShareLink, version: FilmVersion, *, fps: float, comments=None
) -> str:
    """The client's comment threads of `version` (from `comments` when they were read already),
    rendered once for the threads as they are (the longest part of the share page) and kept under
    them (`page_cache.kept_markup`)."""
    threads = review.comment_rows(version.comments.for_client() if comments is None else comments, fps=fps)
    context = {
        "comments": threads,
        "token": token,
        "version": version,
        "can_comment": link.can_comment,
        "seek_base": _file_url("shared_film_download", token, version, "&inline=1"),
    }
    key = ("client-comments", link.pk, link.can_comment, version.pk, version.number, fps, threads)
    return page_cache.kept_markup(
        key, "projects/_shared_comments.html", context, request=request, token=token
    )


def _asked_version(request: HttpRequest, link: ShareLink, current: FilmVersion, number: str) -> FilmVersion:
    """The version `number` names (from `?v=` or a form) if the link shows it, else 404; without a
    number, what the link shows now. The page names the version it was rendered with in every file
    and form URL, so a version sent meanwhile never swaps the film under the player."""
    if not number:
        return current
    if not number.isdigit():
        raise Http404("No such version.")
    if int(number) == current.number:
        return current
    try:
        return review.version_for(link, number=int(number))
    except review.NoSuchVersion:
        raise Http404("No such version.") from None


@require_safe
def shared_film(request: HttpRequest, token: str) -> HttpResponse:
    link, current, refusal = _open_link(request, token, locked_status=200, storyboard=True)
    if refusal:
        return refusal
    if current is None:
        return _storyboard_page(request, token, link)
    version = _asked_version(request, link, current, request.GET.get("v", ""))
    return _shared_film_page(request, token, link, version)


def _filename(link: ShareLink, version: FilmVersion, suffix: str = "mp4", *, kind: str = "") -> str:
    """`tour-v4.mp4`, `tour-v4-4k.mp4`: the client's file names say which version they are."""
    stem = _film_filename(link.sequence, suffix).rsplit(".", 1)[0]
    return f"{stem}-v{version.number}{kind}.{suffix}"


def _not_offered(request: HttpRequest, token: str, link: ShareLink, what: str) -> HttpResponse:
    context = {
        "brand": review.branding(link.sequence.project),
        "token": token,
        "reason": f"{what} is not offered through this link. Please ask the person who shared it with you.",
    }
    return _client_page(request, "projects/shared_film_review_refused.html", context, status=403)


@require_safe
def shared_film_download(request: HttpRequest, token: str) -> HttpResponse:
    """The film for a client; `?inline=1` is the page's player, counted as a play, not a download
    (and served whether or not the link offers downloads)."""
    link, current, refusal = _open_link(request, token)
    if refusal:
        return refusal
    version = _asked_version(request, link, current, request.GET.get("v", ""))
    is_inline = request.GET.get("inline") == "1"
    if not is_inline and not link.can_download:
        return _not_offered(request, token, link, "Downloading the film")
    if starts_a_fetch(request, version.film.size):
        link.count_fetch(is_play=is_inline)
    response = ranged_file_response(
        request,
        version.film,
        filename=_filename(link, version),
        as_attachment=not is_inline,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_safe
def shared_film_master(request: HttpRequest, token: str) -> HttpResponse:
    """The version's 4K master, when one was made and the link offers it; counted as a download."""
    link, current, refusal = _open_link(request, token)
    if refusal:
        return refusal
    version = _asked_version(request, link, current, request.GET.get("v", ""))
    if not version.master:
        raise Http404("No 4K master.")
    if not link.can_download_master:
        return _not_offered(request, token, link, "The 4K master")
    if starts_a_fetch(request, version.master.size):
        link.count_fetch(is_play=False)
    response = ranged_file_response(
        request,
        version.master,
        filename=_filename(link, version, kind="-4k"),
        as_attachment=True,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_safe
def shared_film_poster(request: HttpRequest, token: str) -> HttpResponse:
    link, current, refusal = _open_link(request, token)
    if refusal:
        return refusal
    version = _asked_version(request, link, current, request.GET.get("v", ""))
    if not version.poster:
        raise Http404("No poster.")
    extension = version.poster.name.rsplit(".", 1)[-1]
    response = ranged_file_response(
        request,
        version.poster,
        filename=_filename(link, version, extension),
        as_attachment=False,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_safe
def shared_film_logo(request: HttpRequest, token: str) -> HttpResponse:
    # The studio's branding is on the password page too.
    link, _current, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    return _logo_response(request, link.sequence.project)


def _logo_response(request: HttpRequest, project: Project) -> HttpResponse:
    if not project.logo:
        raise Http404("No logo.")
    extension = project.logo.name.rsplit(".", 1)[-1]
    # Revalidated on every use, so a revoked link or a removed member stops seeing it at once.
    response = ranged_file_response(
        request,
        project.logo,
        filename=f"logo.{extension}",
        as_attachment=False,
        cache_control="private, no-cache",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- the client's review -------------------------------------------------------------------------


def _review_post(
    request: HttpRequest, token: str, *, storyboard: bool = False
) -> tuple[ShareLink | None, FilmVersion | None, HttpResponse | None]:
    """The link a review form was sent through and the version the form names (or the current one),
    or the refusal: too many posts from this address (429), an unknown link (404), a revoked or
    expired one (410), a locked one (403, the password page), one that takes no feedback (403)."""
    ip = throttle.client_ip(request)
    if throttle.is_blocked("review", ip, limit=settings.REVIEW_POST_LIMIT):
        return None, None, _client_page(request, "projects/shared_film_review_throttled.html", {}, status=429)
    link, current, refusal = _open_link(request, token, storyboard=storyboard)
    if refusal:
        return None, None, refusal
    throttle.record_failure("review", ip, window=settings.REVIEW_POST_WINDOW)
    if not link.can_review:
        return None, None, _refused(request, token, link, review.ReviewNotAllowed())
    if current is None:
        return link, None, None  # a storyboard link
    number = request.POST.get("version", "")
    try:
        version = _asked_version(request, link, current, number if number.isdigit() else "")
    except Http404:
        return None, None, _refused(request, token, link, review.NoSuchVersion())
    return link, version, None


def _back_to_page(token: str, version: FilmVersion | None = None, anchor: str = "review") -> HttpResponse:
    query = f"?v={version.number}" if version is not None else ""
    return redirect(reverse("shared_film", args=[token]) + f"{query}#{anchor}")


@require_POST
def set_review_name(request: HttpRequest, token: str) -> HttpResponse:
    link, version, refusal = _review_post(request, token, storyboard=True)
    if refusal:
        return refusal
    form = ReviewNameForm(request.POST)
    if not form.is_valid():
        if version is None:
            return _storyboard_page(request, token, link, name_form=form)
        return _shared_film_page(request, token, link, version, name_form=form)
    response = _back_to_page(token, version if version and request.POST.get("version") else None)
    response.set_signed_cookie(
        REVIEW_NAME_COOKIE,
        form.cleaned_data["name"],
        salt=REVIEW_NAME_SALT,
        max_age=REVIEW_NAME_MAX_AGE,
        path="/s/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def _refused(
    request: HttpRequest, token: str, link: ShareLink, refusal: review.ReviewRefused
) -> HttpResponse:
    context = {"brand": review.branding(link.sequence.project), "token": token, "reason": str(refusal)}
    return _client_page(request, "projects/shared_film_review_refused.html", context, status=403)


def _wants_fragment(request: HttpRequest) -> bool:
    """Whether the form was sent by the page's script (review.js), which takes JSON with the parts
    of the page to replace and keeps the player as it is; without the script, post/redirect/get."""
    return request.headers.get("X-Requested-With") == "fetch" or "application/json" in request.headers.get(
        "Accept", ""
    )


def _fragment_response(
    request: HttpRequest,
    *,
    message: str = "",
    error: str = "",
    fragments: dict | None = None,
    status: int = 200,
) -> JsonResponse:
    rendered = {
        name: part if isinstance(part, str) else render_to_string(part[0], part[1], request=request)
        for name, part in (fragments or {}).items()
    }
    response = JsonResponse(
        {"ok": not error, "message": message, "error": error, "fragments": rendered}, status=status
    )
    return _private_headers(response)


def _form_problems(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _client_comments_fragment(
    request: HttpRequest, token: str, link: ShareLink, version: FilmVersion
) -> dict:
    return {"comments": _client_comments(request, token, link, version, fps=review.frame_rate(version))}


@require_POST
def add_review_comment(request: HttpRequest, token: str) -> HttpResponse:
    link, version, refusal = _review_post(request, token)
    if refusal:
        return refusal
    fragment = _wants_fragment(request)
    name = _review_name(request)
    if not name:
        text = "Give your name first: it is shown beside your comments."
        if fragment:
            return _fragment_response(request, error=text, status=400)
        messages.error(request, text)
        return _back_to_page(token, version)
    form = ReviewCommentForm(request.POST)
    if not form.is_valid():
        if fragment:
            return _fragment_response(request, error=_form_problems(form), status=400)
        return _shared_film_page(request, token, link, version, comment_form=form)
    data = form.cleaned_data
    try:
        comment = review.add_comment(
            link,
            number=data["version"],
            author_name=name,
            body=data["body"],
            at_seconds=data["at"],
            drawing=data["drawing"],
            reply_to=data["reply_to"],
        )
    except review.ReviewRefused as error:
        if fragment:
            return _fragment_response(request, error=str(error), status=403)
        return _refused(request, token, link, error)
    if comment.parent_id:
        text = f"Reply added to the comment at {review.timecode(comment.at_seconds)}."
    else:
        text = f"Comment added at {review.timecode(comment.at_seconds)}."
    if fragment:
        return _fragment_response(
            request, message=text, fragments=_client_comments_fragment(request, token, link, comment.version)
        )
    messages.success(request, text)
    return _back_to_page(token, comment.version, "comments")


@require_POST
def resolve_review_comment(request: HttpRequest, token: str, pk: int) -> HttpResponse:
    """The client marks a thread they can see resolved, or open again (`resolved=0`)."""
    link, version, refusal = _review_post(request, token)
    if refusal:
        return refusal
    fragment = _wants_fragment(request)
    try:
        if not link.can_comment:
            raise review.CommentsNotAllowed()
        comment = review.comment_for_link(link, pk)
    except review.ReviewRefused as error:
        if fragment:
            return _fragment_response(request, error=str(error), status=403)
        return _refused(request, token, link, error)
    resolved = request.POST.get("resolved", "1") != "0"
    review.resolve_comment(comment, resolved=resolved)
    text = "Marked resolved." if resolved else "Opened again."
    if fragment:
        return _fragment_response(
            request, message=text, fragments=_client_comments_fragment(request, token, link, comment.version)
        )
    messages.success(request, text)
    return _back_to_page(token, comment.version, "comments")


@require_POST
def decide_review(request: HttpRequest, token: str) -> HttpResponse:
    link, version, refusal = _review_post(request, token)
    if refusal:
        return refusal
    fragment = _wants_fragment(request)
    name = _review_name(request)
    if not name:
        text = "Give your name first: it is shown beside your decision."
        if fragment:
            return _fragment_response(request, error=text, status=400)
        messages.error(request, text)
        return _back_to_page(token, version)
    form = ReviewDecisionForm(request.POST)
    if not form.is_valid():
        if fragment:
            return _fragment_response(request, error=_form_problems(form), status=400)
        return _shared_film_page(request, token, link, version, decision_form=form)
    data = form.cleaned_data
    try:
        decision = review.decide(
            link,
            number=data["version"],
            author_name=name,
            verdict=data["verdict"],
            note=data["note"],
            sequence_url=request.build_absolute_uri(reverse("sequence_detail", args=[link.sequence_id])),
        )
    except review.ReviewRefused as error:
        if fragment:
            return _fragment_response(request, error=str(error), status=403)
        return _refused(request, token, link, error)
    number = decision.version.number
    if decision.verdict == review.Verdict.APPROVED:
        text = f"Thank you: version {number} is approved."
    else:
        text = f"Thank you: your request for changes to version {number} was sent."
    if fragment:
        history, decisions_by_version = review.history_rows(link)
        decisions = decisions_by_version[decision.version_id]
        context = {
            "decisions": decisions[:5],
            "reviewers": review.reviewer_rows(decisions),
            "version": decision.version,
        }
        return _fragment_response(
            request, message=text, fragments={"decision": ("projects/_shared_decision.html", context)}
        )
    messages.success(request, text)
    return _back_to_page(token, decision.version)


# --- the storyboard, before generating -----------------------------------------------------------


def _storyboard_page(
    request: HttpRequest,
    token: str,
    link: ShareLink,
    *,
    name_form: ReviewNameForm | None = None,
    approval_form: StoryboardApprovalForm | None = None,
) -> HttpResponse:
    """The storyboard for the client: each shot with its first frame, prompt, duration and
    comments, the estimate, and the approval."""
    sequence = link.sequence
    board = storyboard_review.storyboard(sequence)
    name = _review_name(request)
    image = reverse("shared_storyboard_image", args=[token, "KIND", 0]).replace("KIND/0/", "")
    for row in board["rows"]:
        row["image_url"] = f"{image}{row['frame_kind']}/{row['frame_pk']}/" if row["frame_pk"] else ""
    state = storyboard_review.approval_state(sequence)
    context = {
        "link": link,
        "token": token,
        "sequence": sequence,
        "brand": review.branding(sequence.project),
        "board": board,
        "state": state,
        "review_name": name,
        "name_form": name_form or ReviewNameForm(initial={"name": name}),
        "approval_form": approval_form
        or StoryboardApprovalForm(initial={"credits": board["estimate_credits"], "digest": board["digest"]}),
    }
    return _client_page(request, "projects/shared_storyboard.html", context)


@require_POST
def add_storyboard_comment(request: HttpRequest, token: str) -> HttpResponse:
    link, _version, refusal = _review_post(request, token, storyboard=True)
    if refusal:
        return refusal
    back = reverse("shared_film", args=[token])
    name = _review_name(request)
    form = StoryboardCommentForm(request.POST)
    if not name or not form.is_valid():
        messages.error(request, "Give your name first." if not name else f"Not added. {_form_problems(form)}")
        return redirect(back + "#shots")
    try:
        comment = storyboard_review.add_comment(
            link, shot_pk=form.cleaned_data["shot"], author_name=name, body=form.cleaned_data["body"]
        )
    except review.ReviewRefused as error:
        return _refused(request, token, link, error)
    messages.success(request, "Comment added.")
    return redirect(back + f"#shot-{comment.shot_id}")


@require_POST
def approve_storyboard(request: HttpRequest, token: str) -> HttpResponse:
    link, _version, refusal = _review_post(request, token, storyboard=True)
    if refusal:
        return refusal
    back = reverse("shared_film", args=[token])
    name = _review_name(request)
    form = StoryboardApprovalForm(request.POST)
    if not name:
        messages.error(request, "Give your name first: it is shown beside your approval.")
        return redirect(back + "#approval")
    if not form.is_valid():
        return _storyboard_page(request, token, link, approval_form=form)
    data = form.cleaned_data
    try:
        approval = storyboard_review.approve(
            link, author_name=name, credits=data["credits"], shown_digest=data["digest"], note=data["note"]
        )
    except storyboard_review.StoryboardChanged as error:
        messages.warning(request, str(error))
        return redirect(back + "#approval")
    except review.ReviewRefused as error:
        return _refused(request, token, link, error)
    messages.success(
        request, f"Thank you: the storyboard is approved at {approval.estimate_credits} credits."
    )
    return redirect(back + "#approval")


@require_safe
def shared_storyboard_image(request: HttpRequest, token: str, kind: str, pk: int) -> HttpResponse:
    link, _current, refusal = _open_link(request, token, storyboard=True)
    if refusal:
        return refusal
    try:
        file = storyboard_review.image_file(link, kind=kind, pk=pk)
    except review.ReviewRefused:
        raise Http404("No such image.") from None
    if not file:
        raise Http404("No such image.")
    extension = file.name.rsplit(".", 1)[-1]
    response = ranged_file_response(
        request,
        file,
        filename=f"frame-{pk}.{extension}",
        as_attachment=False,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_POST
@login_required
def create_storyboard_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Share the storyboard with a client before generating: a storyboard link, shown on its own
    page (as a film link is) and mailed to its recipient."""
    sequence = _get_sequence_for_user(request, pk, EDIT)
    form = StoryboardLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"No link was made. {_form_problems(form)}")
        return redirect(reverse("sequence_detail", args=[sequence.pk]) + "#storyboard-review")
    data = form.cleaned_data
    link, token = storyboard_review.issue_link(
        sequence,
        created_by=request.user,
        recipient_name=data["recipient_name"],
        recipient_email=data["recipient_email"],
        expires_in_days=data["expires_in_days"],
    )
    return _show_new_link(request, link, token)


@require_POST
@login_required
def set_storyboard_approval_required(request: HttpRequest, pk: int) -> HttpResponse:
    """Owners: whether Generate waits for the client's approval of the storyboard in this project."""
    project = _get_project_for_user(request, pk, OWN)
    required = request.POST.get("required") == "1"
    storyboard_review.set_required(project, required=required)
    if required:
        messages.success(request, "Generate now waits for the client's approval of the storyboard.")
    else:
        messages.success(request, "Generate no longer waits for the client's approval.")
    return redirect(
        request.POST.get("next")
        if url_has_allowed_host_and_scheme(request.POST.get("next", ""), allowed_hosts={request.get_host()})
        else reverse("project_detail", args=[project.pk])
    )


# --- comparing two versions ----------------------------------------------------------------------


def _compare_sides(versions: list[FilmVersion], *, shot_pk: int | None, film_url) -> tuple[list[dict], str]:
    """The two versions' players, each starting where `shot_pk` plays in it (0 without a shot, or
    where the shot is not in the film), and the shot's title."""
    spans = review.shot_spans(versions)
    sides, title = [], ""
    for version in versions:
        span = next((sp for sp in spans[version.pk] if sp["shot"] == shot_pk), None) if shot_pk else None
        if span:
            title = f"Shot {span['number']}"
        sides.append(
            {
                "title": f"Version {version.number}",
                "number": version.number,
                "video_url": film_url(version),
                "start": f"{span['start']:.3f}" if span else "0",
                "end": f"{span['end']:.3f}" if span else "",
                "start_text": review.timecode(span["start"]) if span else "",
                "fps": review.frame_rate(version),
            }
        )
    return sides, title


def _shot_param(request: HttpRequest) -> int | None:
    value = request.GET.get("shot", "")
    return int(value) if value.isdigit() else None


@require_safe
def shared_compare(request: HttpRequest, token: str) -> HttpResponse:
    """Two versions the link shows (`?a=&b=`, numbers), side by side or one over the other with a
    slider, playing together; `&shot=` starts each where that shot plays (before and after a
    retake)."""
    link, current, refusal = _open_link(request, token)
    if refusal:
        return refusal
    numbers = [request.GET.get("a", ""), request.GET.get("b", "")]
    if not all(n.isdigit() for n in numbers) or numbers[0] == numbers[1]:
        raise Http404("Choose two versions to compare.")
    versions = [_asked_version(request, link, current, n) for n in numbers]
    sides, shot_title = _compare_sides(
        versions,
        shot_pk=_shot_param(request),
        film_url=lambda v: _file_url("shared_film_download", token, v, "&inline=1"),
    )
    context = {
        "link": link,
        "token": token,
        "sequence": link.sequence,
        "brand": review.branding(link.sequence.project),
        "sides": sides,
        "shot_title": shot_title,
        "choices": [row.number for row in review.shown_versions(link)],
        "selected": numbers,
        "back": reverse("shared_film", args=[token]) + f"?v={numbers[1]}",
    }
    return _client_page(request, "projects/shared_compare.html", context)


@require_safe
@login_required
def version_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff: two versions of the sequence (`?a=&b=`, numbers, drafts too) side by side or with a
    slider, playing together; `&shot=` starts each where that shot plays."""
    sequence = _get_sequence_for_user(request, pk)
    numbers = [request.GET.get("a", ""), request.GET.get("b", "")]
    if not all(n.isdigit() for n in numbers) or numbers[0] == numbers[1]:
        raise Http404("Choose two versions to compare.")
    found = {v.number: v for v in sequence.versions.filter(number__in=[int(n) for n in numbers])}
    if len(found) != 2:
        raise Http404("No such version.")
    film = _pk_url("version_film")
    sides, shot_title = _compare_sides(
        [found[int(n)] for n in numbers], shot_pk=_shot_param(request), film_url=lambda v: film(v.pk)
    )
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "sides": sides,
        "shot_title": shot_title,
        "choices": list(sequence.versions.order_by("-number").values_list("number", flat=True)),
        "selected": numbers,
        "back": reverse("sequence_detail", args=[sequence.pk]) + "#versions",
    }
    return render(request, "projects/version_compare.html", context)


# --- versions on the sequence page ---------------------------------------------------------------


def _get_version_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> FilmVersion:
    queryset = FilmVersion.objects.select_related("sequence")
    return _get_for_user(request, queryset, pk, project_path="sequence__project", need=need)


def versions_section(sequence: Sequence) -> dict:
    """The sequence page's versions and their feedback: three queries whatever their number."""
    urls = {
        "film": _pk_url("version_film"),
        "poster": _pk_url("version_poster"),
        "master": _pk_url("version_master"),
    }
    rows = review.version_rows(sequence, urls=urls)
    return {
        "rows": rows,
        "latest": rows[0] if rows else None,
        "compare_base": reverse("version_compare", args=[sequence.pk]),
    }


def _staff_comments_fragment(request: HttpRequest, version: FilmVersion) -> dict:
    sequence = _get_sequence_for_user(request, version.sequence_id)
    row = next(r for r in versions_section(sequence)["rows"] if r["pk"] == version.pk)
    context = {"row": row, "can_edit": _can_edit(sequence.my_role), "sequence": sequence}
    return {f"comments-{version.number}": ("projects/_version_comments.html", context)}


@require_POST
@login_required
def add_staff_comment(request: HttpRequest, pk: int) -> HttpResponse:
    """A staff member's comment on a version, or reply to a comment on it; internal unless unticked.
    Viewers may comment too: a comment changes nothing of the film."""
    version = _get_version_for_user(request, pk)
    back = reverse("sequence_detail", args=[version.sequence_id]) + f"#version-{version.number}"
    fragment = _wants_fragment(request)
    data = request.POST
    reply_to = data.get("reply_to", "")
    if reply_to.isdigit() and f"reply-body-{reply_to}" in data:
        # The sequence page's one reply form per version: the button names the comment answered,
        # and its fields are that comment's.
        data = data.copy()
        data["body"] = data[f"reply-body-{reply_to}"]
        if data.get(f"reply-internal-{reply_to}"):
            data["is_internal"] = "on"
        else:
            data.pop("is_internal", None)
    form = StaffCommentForm(data)
    if not form.is_valid():
        text = f"The comment was not added. {_form_problems(form)}"
        if fragment:
            return _fragment_response(request, error=text, status=400)
        messages.error(request, text)
        return redirect(back)
    data = form.cleaned_data
    try:
        comment = review.add_staff_comment(
            version,
            user=request.user,
            body=data["body"],
            at_seconds=data["at"],
            is_internal=data["is_internal"],
            drawing=data["drawing"],
            reply_to=data["reply_to"],
        )
    except review.ReviewRefused as error:
        if fragment:
            return _fragment_response(request, error=str(error), status=400)
        messages.error(request, str(error))
        return redirect(back)
    seen = "for staff only" if comment.is_internal else "the client sees it"
    text = f"{'Reply' if comment.parent_id else 'Comment'} added at {review.timecode(comment.at_seconds)}: {seen}."
    if fragment:
        return _fragment_response(request, message=text, fragments=_staff_comments_fragment(request, version))
    messages.success(request, text)
    return redirect(back)


@require_POST
@login_required
def resolve_staff_comment(request: HttpRequest, pk: int) -> HttpResponse:
    queryset = ReviewComment.objects.select_related("version", "parent")
    comment = _get_for_user(request, queryset, pk, project_path="version__sequence__project", need=VIEW)
    resolved = request.POST.get("resolved", "1") != "0"
    review.resolve_comment(comment, resolved=resolved)
    text = "Marked resolved." if resolved else "Opened again."
    if _wants_fragment(request):
        return _fragment_response(
            request, message=text, fragments=_staff_comments_fragment(request, comment.version)
        )
    messages.success(request, text)
    return redirect(
        reverse("sequence_detail", args=[comment.version.sequence_id]) + f"#version-{comment.version.number}"
    )


@require_POST
@login_required
def send_version(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[version.sequence_id]) + f"#version-{version.number}"
    form = SendVersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was sent: keep the note to 2000 characters.")
        return redirect(back)
    if review.send_version(version, by=request.user, note=form.cleaned_data["note"]):
        messages.success(
            request, f"Version {version.number} was sent to the client: their links show it now."
        )
    else:
        messages.info(request, f"Version {version.number} had been sent already.")
    return redirect(back)


def _version_file(
    request: HttpRequest, version: FilmVersion, file, *, suffix: str, kind: str = ""
) -> HttpResponse:
    if not file:
        raise Http404("No such file.")
    stem = _film_filename(version.sequence, suffix).rsplit(".", 1)[0]
    return ranged_file_response(
        request,
        file,
        filename=f"{stem}-v{version.number}{kind}.{suffix}",
        as_attachment=request.GET.get("download") == "1",
    )


@require_safe
@login_required
def version_film(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version_for_user(request, pk)
    return _version_file(request, version, version.film, suffix="mp4")


@require_safe
@login_required
def version_poster(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version_for_user(request, pk)
    suffix = version.poster.name.rsplit(".", 1)[-1] if version.poster else "jpg"
    return _version_file(request, version, version.poster, suffix=suffix)


@require_safe
@login_required
def version_master(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version_for_user(request, pk)
    return _version_file(request, version, version.master, suffix="mp4", kind="-4k")


# --- branding ------------------------------------------------------------------------------------


@require_POST
@login_required
def set_project_branding(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_user(request, pk, OWN)
    form = ProjectBrandingForm(request.POST, request.FILES, instance=project)
    if not form.is_valid():
        stored = _get_project_for_user(request, pk, OWN)
        context = _project_context(request, stored, branding_form=form)
        return render(request, "projects/project_detail.html", context)
    data = form.cleaned_data
    review.save_branding(
        project,
        client_name=data["client_name"],
        accent_color=data["accent_color"],
        # A new upload, False when cleared; unchanged otherwise.
        logo=data["logo"] if "logo" in form.changed_data else None,
    )
    messages.success(request, "Branding saved: the share pages show it from now on.")
    return redirect(reverse("project_detail", args=[project.pk]) + "#branding")


@require_safe
@login_required
def project_logo(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_user(request, pk)
    return _logo_response(request, project)
