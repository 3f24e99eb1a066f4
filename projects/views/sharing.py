"""Share links, the client's share page and review, film versions, and the share pages' branding."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from projects import review, services, throttle
from projects.downloads import ranged_file_response, starts_a_fetch
from projects.forms import (
    ProjectBrandingForm,
    ReviewCommentForm,
    ReviewDecisionForm,
    ReviewNameForm,
    ShareLinkForm,
)
from projects.models import (
    FilmVersion,
    Project,
    Sequence,
    ShareLink,
)
from projects.views.common import (
    EDIT,
    OWN,
    VIEW,
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


@require_POST
@login_required
def create_share_link(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk]) + "#sharing"
    if not sequence.is_shareable:
        messages.error(request, str(services.NotShareable()))
        return redirect(back)
    form = ShareLinkForm(request.POST, sequence=sequence)
    if not form.is_valid():
        messages.error(
            request,
            "Give the number of days as a whole number from 1 to 365, or leave it empty, and choose a "
            "version and what the client may do.",
        )
        return redirect(back)
    try:
        link, token = services.issue_share_link(
            sequence,
            created_by=request.user,
            expires_in_days=form.cleaned_data["expires_in_days"],
            version_number=form.cleaned_data["version"],
            can_review=form.cleaned_data["access"] != ShareLinkForm.DOWNLOAD,
        )
    except services.NotShareable as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    # The token is stored nowhere (not in a message, not in the session): this response is the only
    # place it appears, so it is rendered here instead of after a redirect, and never cached.
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "link": link,
        "number": sequence.share_links.count(),
        "url": request.build_absolute_uri(reverse("shared_film", args=[token])),
        "back": back,
    }
    response = render(request, "projects/create_share_link.html", context)
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
) -> tuple[ShareLink | None, review.Shown | None, HttpResponse | None]:
    """The link, what it shows, or the response that says it shows nothing (429, 404, 410)."""
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
    shown = review.shown_by(link) if link.is_active else None
    if shown is None:
        context = {"link": link, "brand": review.branding(link.sequence.project)}
        return None, None, _client_page(request, "projects/shared_film_gone.html", context, status=410)
    return link, shown, None


def _review_name(request: HttpRequest) -> str:
    return request.get_signed_cookie(REVIEW_NAME_COOKIE, default="", salt=REVIEW_NAME_SALT)[:80]


def _shared_film_page(
    request: HttpRequest,
    token: str,
    link: ShareLink,
    shown: review.Shown,
    *,
    comment_form: ReviewCommentForm | None = None,
    decision_form: ReviewDecisionForm | None = None,
    name_form: ReviewNameForm | None = None,
) -> HttpResponse:
    version = shown.version
    name = _review_name(request)
    can_review = link.can_review and version is not None
    number = version.number if version else None
    film_url = reverse("shared_film_download", args=[token])
    if number:
        film_url += f"?v={number}"
    context = {
        "link": link,
        "token": token,
        "sequence": link.sequence,
        "brand": review.branding(link.sequence.project),
        "version": version,
        "shown": shown,
        "film_url": film_url,
        "play_url": film_url + ("&" if number else "?") + "inline=1",
        "poster_url": reverse("shared_film_poster", args=[token]) + (f"?v={number}" if number else ""),
        "master_url": reverse("shared_film_master", args=[token]) + f"?v={number}"
        if version and version.master
        else "",
        "can_review": can_review,
        "review_name": name,
    }
    if can_review:
        context.update(
            {
                "name_form": name_form or ReviewNameForm(initial={"name": name}),
                "comment_form": comment_form or ReviewCommentForm(initial={"version": number}),
                "decision_form": decision_form or ReviewDecisionForm(initial={"version": number}),
                "comments": review.comment_rows(version.comments.all()),
                "decisions": list(version.decisions.all()[:5]),
            }
        )
    return _client_page(request, "projects/shared_film.html", context)


@require_safe
def shared_film(request: HttpRequest, token: str) -> HttpResponse:
    link, shown, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    return _shared_film_page(request, token, link, shown)


def _requested_file(request: HttpRequest, link: ShareLink, shown: review.Shown) -> review.Shown:
    """What a file request asks for: `?v=N` names a version the link may show (the page names the
    version it was rendered with, so a version assembled meanwhile never swaps the film under the
    player); without it, what the link shows now."""
    number = request.GET.get("v", "")
    if not number or shown.version is None:
        return shown
    if not number.isdigit():
        raise Http404("No such version.")
    try:
        version = review.version_for(link, number=int(number))
    except review.NoSuchVersion:
        raise Http404("No such version.") from None
    return review.Shown(
        version=version,
        film=version.film,
        poster=version.poster,
        duration=version.duration,
    )


def _filename(link: ShareLink, suffix: str = "mp4", *, kind: str = "") -> str:
    stem = _film_filename(link.sequence, suffix).rsplit(".", 1)[0]
    return f"{stem}{kind}.{suffix}"


@require_safe
def shared_film_download(request: HttpRequest, token: str) -> HttpResponse:
    """The film for a client; `?inline=1` is the page's player, counted as a play, not a download."""
    link, shown, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    shown = _requested_file(request, link, shown)
    is_inline = request.GET.get("inline") == "1"
    if starts_a_fetch(request, shown.film.size):
        link.count_fetch(is_play=is_inline)
    response = ranged_file_response(
        request,
        shown.film,
        filename=_filename(link),
        as_attachment=not is_inline,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_safe
def shared_film_master(request: HttpRequest, token: str) -> HttpResponse:
    """The version's 4K master, when one was made; counted as a download."""
    link, shown, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    shown = _requested_file(request, link, shown)
    if shown.version is None or not shown.version.master:
        raise Http404("No 4K master.")
    master = shown.version.master
    if starts_a_fetch(request, master.size):
        link.count_fetch(is_play=False)
    response = ranged_file_response(
        request,
        master,
        filename=_filename(link, kind="-4k"),
        as_attachment=True,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_safe
def shared_film_poster(request: HttpRequest, token: str) -> HttpResponse:
    link, shown, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    shown = _requested_file(request, link, shown)
    if not shown.poster:
        raise Http404("No poster.")
    extension = shown.poster.name.rsplit(".", 1)[-1]
    response = ranged_file_response(
        request,
        shown.poster,
        filename=_filename(link, extension),
        as_attachment=False,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_safe
def shared_film_logo(request: HttpRequest, token: str) -> HttpResponse:
    link, _shown, gone = _share_link_or_gone(request, token)
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
    request: HttpRequest, token: str
) -> tuple[ShareLink | None, review.Shown | None, HttpResponse | None]:
    """The link a review form was sent through, or the refusal: too many posts from this address
    (429), an unknown link (404), a revoked or expired one (410), a download-only one (403)."""
    ip = throttle.client_ip(request)
    if throttle.is_blocked("review", ip, limit=settings.REVIEW_POST_LIMIT):
        return None, None, _client_page(request, "projects/shared_film_review_throttled.html", {}, status=429)
    link, shown, gone = _share_link_or_gone(request, token)
    if gone:
        return None, None, gone
    throttle.record_failure("review", ip, window=settings.REVIEW_POST_WINDOW)
    if not link.can_review or shown.version is None:
        context = {
            "brand": review.branding(link.sequence.project),
            "token": token,
            "reason": str(review.ReviewNotAllowed()),
        }
        return (
            None,
            None,
            _client_page(request, "projects/shared_film_review_refused.html", context, status=403),
        )
    return link, shown, None


def _back_to_page(token: str, anchor: str = "review") -> HttpResponse:
    return redirect(reverse("shared_film", args=[token]) + f"#{anchor}")


@require_POST
def set_review_name(request: HttpRequest, token: str) -> HttpResponse:
    link, shown, refusal = _review_post(request, token)
    if refusal:
        return refusal
    form = ReviewNameForm(request.POST)
    if not form.is_valid():
        return _shared_film_page(request, token, link, shown, name_form=form)
    response = _back_to_page(token)
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


@require_POST
def add_review_comment(request: HttpRequest, token: str) -> HttpResponse:
    link, shown, refusal = _review_post(request, token)
    if refusal:
        return refusal
    name = _review_name(request)
    if not name:
        messages.error(request, "Give your name first: it is shown beside your comments.")
        return _back_to_page(token)
    form = ReviewCommentForm(request.POST)
    if not form.is_valid():
        return _shared_film_page(request, token, link, shown, comment_form=form)
    data = form.cleaned_data
    try:
        comment = review.add_comment(
            link, number=data["version"], author_name=name, body=data["body"], at_seconds=data["at"]
        )
    except review.ReviewRefused as error:
        return _refused(request, token, link, error)
    messages.success(request, f"Comment added at {review.timecode(comment.at_seconds)}.")
    return _back_to_page(token, "comments")


@require_POST
def decide_review(request: HttpRequest, token: str) -> HttpResponse:
    link, shown, refusal = _review_post(request, token)
    if refusal:
        return refusal
    name = _review_name(request)
    if not name:
        messages.error(request, "Give your name first: it is shown beside your decision.")
        return _back_to_page(token)
    form = ReviewDecisionForm(request.POST)
    if not form.is_valid():
        return _shared_film_page(request, token, link, shown, decision_form=form)
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
        return _refused(request, token, link, error)
    if decision.verdict == review.Verdict.APPROVED:
        messages.success(request, f"Thank you: version {decision.version.number} is approved.")
    else:
        messages.success(
            request, f"Thank you: your request for changes to version {decision.version.number} was sent."
        )
    return _back_to_page(token)


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
    return {"rows": rows, "latest": rows[0] if rows else None}


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
