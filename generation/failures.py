"""Runway's task failure codes (runway-api.md section 6.3) in words a user can act on: the one table.

Runway's own `failure` text is diagnostic and not meant for users, so it is never shown. The codes
are an open set; a code is matched by its longest known prefix (whole dotted segments).
"""

from __future__ import annotations

_PROMPT_REJECTED = "Runway's moderation rejected the prompt. Reword it and retake the shot."

# Longer prefixes first: the first match wins.
_MESSAGES: tuple[tuple[str, str], ...] = (
    ("SAFETY.INPUT.TEXT", _PROMPT_REJECTED),
    ("INPUT_PREPROCESSING.SAFETY.TEXT", _PROMPT_REJECTED),
    (
        "SAFETY.INPUT.IMAGE",
        "Runway's moderation rejected a keyframe image. Choose another image and retake the shot.",
    ),
    (
        "SAFETY.INPUT",
        "Runway's moderation rejected the input. Change the prompt or images and retake the shot.",
    ),
    (
        "SAFETY.OUTPUT",
        "Runway's moderation rejected the generated video. Change the prompt and retake the shot.",
    ),
    ("SAFETY", "Runway's moderation rejected this shot. Change the prompt or images and retake it."),
    (
        "INTERNAL.BAD_OUTPUT",
        "Runway could not make a usable video from this input (text in an image is a common cause). "
        "Retake the shot, or try another image.",
    ),
    ("ASSET", "Runway could not use a keyframe image. Choose another image and retake the shot."),
    ("THIRD_PARTY.UNAVAILABLE", "The model's provider was unavailable. Retake the shot a little later."),
    ("INPUT_PREPROCESSING", "Runway could not prepare the input. Retake the shot."),
    ("INTERNAL", "Runway failed to generate this shot several times. Retake it later."),
)
UNKNOWN = "Runway could not generate this shot. Retake it, or change the prompt."


def user_message(code: str | None) -> str:
    """What to tell a user about a FAILED task with this `failureCode`."""
    code = (code or "").strip().upper()
    for prefix, words in _MESSAGES:
        if code == prefix or code.startswith(prefix + "."):
            return words
    return UNKNOWN
