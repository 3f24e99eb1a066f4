"""Share links and the client's share page."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from projects import services, throttle
from projects.downloads import ranged_file_response, starts_a_fetch
from projects.forms import (
    ShareLinkForm,
)
from projects.models import (
    ShareLink,
)
from projects.views.common import (
    EDIT,
    _confirm,
    _film_filename,
    _get_sequence_for_user,
    _get_share_link_for_user,
)

# --- sharing -------------------------------------------------------------------------------------


@require_POST
@login_required
def create_share_link(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk]) + "#sharing"
    if not sequence.is_shareable:
        messages.error(request, str(services.NotShareable()))
        return redirect(back)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the number of days as a whole number from 1 to 365, or leave it empty.")
        return redirect(back)
    try:
        link, token = services.issue_share_link(
            sequence, created_by=request.user, expires_in_days=form.cleaned_data["expires_in_days"]
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


def _share_link_or_gone(request: HttpRequest, token: str) -> tuple[ShareLink | None, HttpResponse | None]:
    ip = throttle.client_ip(request)
    if throttle.is_blocked("share-miss", ip, limit=settings.SHARE_LINK_MISS_LIMIT):
        return None, render(request, "projects/shared_film_throttled.html", {"hide_nav": True}, status=429)
    link = ShareLink.find(token)
    if link is None:
        throttle.record_failure("share-miss", ip, window=settings.SHARE_LINK_MISS_WINDOW)
        raise Http404("No such link.")
    if not link.is_usable:
        response = render(
            request, "projects/shared_film_gone.html", {"link": link, "hide_nav": True}, status=410
        )
        response["Referrer-Policy"] = "no-referrer"
        return None, response
    return link, None


SHARED_CACHE_CONTROL = "private, no-store"


def _private_headers(response: HttpResponse) -> HttpResponse:
    # The token is the whole secret: keep it out of Referer headers and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    # Nothing is kept by the browser, so a revoked link stops working there too.
    response["Cache-Control"] = SHARED_CACHE_CONTROL
    return response


@require_safe
def shared_film(request: HttpRequest, token: str) -> HttpResponse:
    link, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    context = {"link": link, "token": token, "sequence": link.sequence, "hide_nav": True}
    return _private_headers(render(request, "projects/shared_film.html", context))


@require_safe
def shared_film_download(request: HttpRequest, token: str) -> HttpResponse:
    """The film for a client; `?inline=1` is the page's player, counted as a play, not a download."""
    link, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    film = link.sequence.film
    is_inline = request.GET.get("inline") == "1"
    if starts_a_fetch(request, film.size):
        link.count_fetch(is_play=is_inline)
    response = ranged_file_response(
        request,
        film,
        filename=_film_filename(link.sequence),
        as_attachment=not is_inline,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_safe
def shared_film_poster(request: HttpRequest, token: str) -> HttpResponse:
    link, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    poster = link.sequence.poster
    if not poster:
        raise Http404("No poster.")
    extension = poster.name.rsplit(".", 1)[-1]
    response = ranged_file_response(
        request,
        poster,
        filename=_film_filename(link.sequence, extension),
        as_attachment=False,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)
