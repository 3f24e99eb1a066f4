"""Refuse a request body that is too large, or declared in a charset nothing can read, before anything
reads it.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE leaves file parts out of its count and FILE_UPLOAD_MAX_MEMORY_SIZE
only decides when an upload is spooled to disk, so without this an upload of any size is read to the
end (and written to a temporary file) before the form can refuse it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

CHUNK_BYTES = 64 * 1024


def _declared_length(request: HttpRequest) -> int | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


def _counted_length(request: HttpRequest, *, limit: int) -> int:
    """The body's size without a Content-Length, reading no more than one byte past `limit`.

    Under ASGI the body is already spooled and seekable; under WSGI it is read here, up to the
    limit, into a spooled file that then stands in for the request's stream.
    """
    stream = request._stream
    if getattr(stream, "seekable", lambda: False)():
        start = stream.tell()
        size = stream.seek(0, os.SEEK_END) - start
        stream.seek(start)
        return size
    chunk = stream.read(min(CHUNK_BYTES, limit + 1))
    if not chunk:
        return 0
    spool = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    size = 0
    while chunk:
        spool.write(chunk)
        size += len(chunk)
        if size > limit:
            spool.close()
            return size
        chunk = stream.read(min(CHUNK_BYTES, limit + 1 - size))
    spool.seek(0)
    request._stream = spool
    return size


def too_large_response(request: HttpRequest, *, size: int | None, limit: int | None = None) -> HttpResponse:
    limit = settings.MAX_REQUEST_BYTES if limit is None else limit
    if limit < settings.MAX_REQUEST_BYTES:
        # Only someone signed in may upload: anyone else is told the limit, not how to upload.
        text = f"Request too large: the limit is {filesizeformat(limit)} per request. Nothing was saved.\n"
        return HttpResponse(text, status=413, content_type="text/plain; charset=utf-8")
    context = {
        "limit": filesizeformat(limit),
        "size": filesizeformat(size) if size is not None else None,
        "image_limit": filesizeformat(settings.REFERENCE_IMAGE_MAX_BYTES),
    }
    return render(request, "request_too_large.html", context, status=413)


def _limit_for(request: HttpRequest) -> int:
    """The body size this request may have: uploads need someone signed in; the pages anyone may
    post to (sign-in, password reset, share pages) take short forms only."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return settings.MAX_REQUEST_BYTES
    return min(settings.ANONYMOUS_MAX_REQUEST_BYTES, settings.MAX_REQUEST_BYTES)


class RequestSizeLimitMiddleware:
    """413 for a body above the limit for its sender, before anything reads it.

    Placed after AuthenticationMiddleware: whether someone is signed in is looked up only for a body
    larger than the small limit (or of unknown length on a method that carries one).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        small = min(settings.ANONYMOUS_MAX_REQUEST_BYTES, settings.MAX_REQUEST_BYTES)
        length = _declared_length(request)
        if length is None:
            # No view reads the body of a GET or HEAD, so theirs is held to the small limit.
            limit = small if request.method in ("GET", "HEAD", "OPTIONS") else _limit_for(request)
            length = _counted_length(request, limit=limit)
            if length > limit:
                return too_large_response(request, size=None, limit=limit)
        elif length > small:
            limit = _limit_for(request)
            if length > limit:
                return too_large_response(request, size=length, limit=limit)
        return self.get_response(request)


def charset_refusal(request: HttpRequest) -> str | None:
    """Why the body's declared charset cannot be read, or None when it can (or none is declared).

    An unknown charset would be read as UTF-8 without a word; a codec that is no text encoding
    (zlib, hex) fails deep in the multipart parser with a 500; and a urlencoded form in anything but
    UTF-8 raises a BadRequest that, with DEBUG on, fails again while the error page reads the body.
    """
    charset = request.content_params.get("charset")
    if charset is None:
        return None
    try:
        # Finds out whether the codec exists and decodes bytes to text, as the parsers need (one
        # byte: decoding nothing is answered before the codec is even looked up).
        str(b"-", charset, "replace")
    except (LookupError, ValueError):
        return f"The charset {charset!r} is not one this server can read; send UTF-8."
    if request.content_type == "application/x-www-form-urlencoded" and charset.lower() != "utf-8":
        # Django's own rule for forms (RFC 1866): exactly "utf-8", no other spelling.
        return "Forms sent as application/x-www-form-urlencoded must be UTF-8 (charset=utf-8)."
    return None


class RequestCharsetMiddleware:
    """400 for a body declared in a charset the form parsers cannot use (see charset_refusal)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = charset_refusal(request)
        if refusal:
            return HttpResponseBadRequest(refusal + "\n", content_type="text/plain; charset=utf-8")
        return self.get_response(request)
