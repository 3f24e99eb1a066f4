"""Runway's task failure codes (runway-api.md section 6.3): the one table of what each means.

For each code: whether Runway refunds it, whether the pipeline tries again (never, at once with the
same request, or after a delay), and what the user should change, in words a user can act on.
Runway's own `failure` text is diagnostic and not meant for users, so it is never shown. The codes
are an open set; a code is matched by its longest known prefix (whole dotted segments).

Sources (runway-api.md section 6.3, the audit of 2026-12-04: a mirror of Runway's task-failure
page and runwayml/skills' rw-api-reference): `SAFETY.INPUT.*` is not refunded, every other code is;
`INTERNAL.BAD_OUTPUT.*` usually fails the same way again unless the prompt or input changes;
`THIRD_PARTY.UNAVAILABLE` and `INPUT_PREPROCESSING.INTERNAL` clear after a while, not at once. The
task's own `cost` stays the truth of what was charged: `is_refunded` only says what to expect.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class Code(enum.StrEnum):
    """The failure codes of our own, for what went wrong on our side of a task or between us and
    Runway (Runway's codes, the table below, are dotted: SAFETY.INPUT.TEXT, INTERNAL.BAD_OUTPUT...)."""

    SUBMIT = "SUBMIT"  # the create request could not be made or was refused before a task existed
    PRICE_DRIFT = "PRICE_DRIFT"  # Runway asked more than was held; the task was not started
    NOT_FOUND = "NOT_FOUND"  # Runway no longer knows the task
    CANCELLED = "CANCELLED"  # cancelled at Runway, not by the studio
    DOWNLOAD = "DOWNLOAD"  # Runway made the output but it could not be saved (fetched again later)
    UNCONFIRMED = "UNCONFIRMED"  # nobody can know whether Runway made (and charged) the task


class Retry(enum.Enum):
    NEVER = "never"  # the user has to change something; a new take would fail the same way
    AT_ONCE = "at once"  # a new take of the same request, straight away
    AFTER_DELAY = "after a delay"  # a new take of the same request, once RETRY_DELAY has passed


# Runway gives no figure; a provider outage or a preprocessing hiccup is taken to last minutes.
RETRY_DELAY = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Failure:
    prefix: str
    is_refunded: bool
    retry: Retry
    # What the user should change (or do), shown on the take.
    advice: str


_PROMPT_REJECTED = "Runway's moderation rejected the prompt. Reword it and retake the shot."

# Longer prefixes first: the first match wins.
TABLE: tuple[Failure, ...] = (
    Failure("SAFETY.INPUT.TEXT", False, Retry.NEVER, _PROMPT_REJECTED),
    Failure("INPUT_PREPROCESSING.SAFETY.TEXT", True, Retry.NEVER, _PROMPT_REJECTED),
    Failure(
        "SAFETY.INPUT.IMAGE",
        False,
        Retry.NEVER,
        "Runway's moderation rejected a keyframe image. Choose another image and retake the shot.",
    ),
    Failure(
        "SAFETY.INPUT",
        False,
        Retry.NEVER,
        "Runway's moderation rejected the input. Change the prompt or images and retake the shot.",
    ),
    Failure(
        "SAFETY.OUTPUT",
        True,
        Retry.NEVER,
        "Runway's moderation rejected the generated video. Change the prompt and retake the shot.",
    ),
    Failure(
        "SAFETY",
        True,
        Retry.NEVER,
        "Runway's moderation rejected this shot. Change the prompt or images and retake it.",
    ),
    Failure(
        "INTERNAL.BAD_OUTPUT",
        True,
        Retry.NEVER,
        "Runway could not make a usable video from this input (text in an image is a common cause). "
        "Change the prompt or choose another image, then retake the shot.",
    ),
    Failure(
        "ASSET",
        True,
        Retry.NEVER,
        "Runway could not use a keyframe image. Choose another image and retake the shot.",
    ),
    Failure(
        "THIRD_PARTY.UNAVAILABLE",
        True,
        Retry.AFTER_DELAY,
        "The model's provider was unavailable. Retake the shot a little later.",
    ),
    Failure(
        "INPUT_PREPROCESSING.INTERNAL",
        True,
        Retry.AFTER_DELAY,
        "Runway could not prepare the input. Retake the shot a little later.",
    ),
    Failure(
        "INPUT_PREPROCESSING",
        True,
        Retry.NEVER,
        "Runway could not prepare the input. Check the images and retake the shot.",
    ),
    Failure(
        "INTERNAL",
        True,
        Retry.AT_ONCE,
        "Runway failed to generate this shot several times. Retake it later.",
    ),
)
UNKNOWN_FAILURE = Failure(
    "", True, Retry.NEVER, "Runway could not generate this shot. Retake it, or change the prompt."
)
UNKNOWN = UNKNOWN_FAILURE.advice


def lookup(code: str | None) -> Failure:
    """The table's row for a FAILED task's `failureCode` (UNKNOWN_FAILURE for none or a new one)."""
    code = (code or "").strip().upper()
    for row in TABLE:
        if code == row.prefix or code.startswith(row.prefix + "."):
            return row
    return UNKNOWN_FAILURE


def user_message(code: str | None) -> str:
    """What to tell a user about a FAILED task with this `failureCode`."""
    return lookup(code).advice


def retry_message(code: str | None) -> str:
    """What a failed take says when a new take was started for it automatically."""
    row = lookup(code)
    if row.retry is Retry.AFTER_DELAY:
        minutes = int(RETRY_DELAY.total_seconds() // 60)
        return (
            f"Runway could not make this take now ({row.prefix or 'failure'}); a new take starts "
            f"automatically in about {minutes} minutes."
        )
    return "Runway had an internal problem; a new take was started automatically."
