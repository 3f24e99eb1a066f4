"""Streaming stored files with byte ranges, so that browsers can seek in videos and resume downloads.

Django's FileResponse always sends the whole file; video players ask for ranges (Safari refuses to
play at all without 206 responses). This serves one range per request, which is what players and
download managers send; a request for several ranges gets the whole file, as RFC 9110 allows.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Iterator

from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date

CHUNK_SIZE = 64 * 1024
_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


def _position(digits: str, size: int) -> int:
    """The byte position `digits` stand for, capped at `size`.

    A number with more digits than the size has is larger than it whatever the digits are, and is
    not converted: Python refuses to convert more than 4300 digits, and the time grows with their
    square.
    """
    digits = digits.lstrip("0") or "0"
    if len(digits) > len(str(size)):
        return size
    return min(int(digits), size)


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """The inclusive (start, end) of a single-range header within `size` bytes.

    Returns None when the header is absent, malformed or asks for several ranges (serve the whole
    file), and False when it is well formed but cannot be satisfied (answer 416).
    """
    match = _RANGE_RE.match(header.strip().replace(" ", "")) if header else None
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        # A suffix range: the last N bytes.
        length = _position(last, size)
        if length == 0:
            return False
        return size - length, size - 1
    start = _position(first, size)
    if start >= size:
        return False
    end = _position(last, size) if last else size - 1
    if end < start:
        return None
    return start, min(end, size - 1)


def starts_a_fetch(request: HttpRequest, size: int) -> bool:
    """Whether this GET begins fetching the file: no Range header, or a first range (from byte 0).

    Later ranges are seeks and resumed downloads of a fetch already counted; a malformed or
    unsatisfiable range begins nothing. Safari probes with `bytes=0-1` before it asks for the real
    range, so that probe is not a fetch either.
    """
    if request.method != "GET":
        return False
    header = request.headers.get("Range", "")
    if not header:
        return True
    byte_range = parse_range(header, size)
    if not byte_range:
        return False
    start, end = byte_range
    return start == 0 and not (end == 1 and size > 2)


def _chunks(file: FieldFile, start: int, length: int) -> Iterator[bytes]:
    try:
        file.open("rb")
        file.seek(start)
        remaining = length
        while remaining > 0:
            chunk = file.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        file.close()


def _validators(file: FieldFile, size: int) -> tuple[str, float | None]:
    """A strong ETag and the modification time (None where the storage cannot tell) of a file.

    Stored names are never reused (the storage picks a free name), so name, size and time identify
    the content without reading it.
    """
    try:
        modified = file.storage.get_modified_time(file.name).timestamp()
    except (NotImplementedError, OSError):
        modified = None
    digest = hashlib.sha256(f"{file.name}\n{size}\n{modified}".encode()).hexdigest()[:32]
    return f'"{digest}"', modified


def _range_still_applies(request: HttpRequest, *, etag: str, last_modified: str | None) -> bool:
    """If-Range: resume only the same file; any other validator asks for the whole file anew."""
    if_range = request.headers.get("If-Range", "").strip()
    return not if_range or if_range == etag or if_range == last_modified


def ranged_file_response(
    request: HttpRequest,
    file: FieldFile,
    *,
    filename: str,
    as_attachment: bool,
    content_type: str | None = None,
    cache_control: str = "private, no-cache",
) -> HttpResponse:
    """Answer GET or HEAD for a stored file: 200 with the whole file, 206 with one range, 304 when
    the browser's copy is current, or 416.

    Staff media are `no-cache` by default: a browser keeps them but asks again each time, so the
    view checks membership on every use (a removed member gets 404) and a current copy costs a 304.
    """
    size = file.size
    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    etag, modified = _validators(file, size)
    last_modified = http_date(modified) if modified is not None else None
    validators = HttpResponse(content_type=content_type)
    validators["ETag"] = etag
    if last_modified:
        validators["Last-Modified"] = last_modified
    validators["Cache-Control"] = cache_control
    conditional = get_conditional_response(
        request, etag=etag, last_modified=int(modified) if modified is not None else None, response=validators
    )
    if conditional is not validators:
        return conditional

    header = request.headers.get("Range", "")
    if header and not _range_still_applies(request, etag=etag, last_modified=last_modified):
        header = ""
    byte_range = parse_range(header, size)
    if byte_range is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        response["Cache-Control"] = cache_control
        return response

    start, end = byte_range if byte_range else (0, size - 1)
    length = max(end - start + 1, 0)
    if request.method == "HEAD":
        response: HttpResponse | StreamingHttpResponse = validators
    else:
        response = StreamingHttpResponse(_chunks(file, start, length), content_type=content_type)
        for name in ("ETag", "Last-Modified", "Cache-Control"):
            if name in validators:
                response[name] = validators[name]
    if byte_range:
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(as_attachment, filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response
