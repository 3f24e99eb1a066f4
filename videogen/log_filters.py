"""What the logs may say: share-link tokens shortened to four characters, client errors in one line.

A share link's token is its whole secret, and it is in the link's path (`/s/<token>/...`), which
Django names in its warnings ("Not Found: /s/...", "Forbidden (CSRF cookie not set.): /s/...") and
gunicorn in its access log (the request line, the Referer of the share page's own requests, the
Location of its redirects). Four characters are enough to tell links apart in a log and far too few
to use one.

Django's logging is set up in settings.LOGGING; gunicorn's access log takes
`--logger-class videogen.log_filters.GunicornLogger` (or `logger_class` in its config file).
Nothing here reads Django's settings, so gunicorn can load it before Django starts.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger as _GunicornBaseLogger

# A token is `secrets.token_urlsafe(32)`: 43 URL-safe characters. Anything longer than the four
# characters kept is shortened, so a mistyped or guessed token is not logged whole either.
_SHARE_PATH = re.compile(r"(/s/[A-Za-z0-9_-]{4})[A-Za-z0-9_-]+")


def redact_share_tokens(text: str) -> str:
    """`text` with every share-link path's token cut to its first four characters and `...`."""
    return _SHARE_PATH.sub(r"\1...", text)


class RedactShareTokens(logging.Filter):
    """Rewrites a record's message without share-link tokens (the message is formatted here, once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_share_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class OneLineClientErrors(logging.Filter):
    """Drops the traceback of a logged 4xx response.

    Django logs a PermissionDenied (403), a BadRequest or an unparsable body (400) with the
    exception's traceback, which for a refusal that works as intended is only noise: the status
    and path say all there is.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class QuietPings(logging.Filter):
    """Drops django-q's routine lines about the supervisor's health pings (queued, processing,
    processed), which would otherwise fill the log every few seconds; their failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or "generation.tasks.ping" not in record.getMessage()


class GunicornLogger(_GunicornBaseLogger):
    """gunicorn's logger, with share-link tokens shortened in every access log atom and error message."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.error_log.addFilter(RedactShareTokens())

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: timedelta) -> dict:
        return {
            name: redact_share_tokens(value) if isinstance(value, str) else value
            for name, value in super().atoms(resp, req, environ, request_time).items()
        }
