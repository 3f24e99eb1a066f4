"""Mail that carries what people typed (a client's name and note, project and sequence names).

A carriage return or line feed in a subject would start a header of its own (Django refuses to
send it, so the mail is lost), and in the body it makes a line that reads like one of ours
("Verdict: Approved"). Every subject and every line built from user input goes through `one_line`;
free text that keeps its lines (a client's note) goes through `quoted`.
"""

from __future__ import annotations

import re

# C0 and C1 controls (CR, LF, tab, NUL, ESC, NEL), DEL, the Unicode line and paragraph separators,
# and the bidirectional overrides and isolates that reorder how the rest of a line is shown.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def one_line(text: object) -> str:
    """`text` on one line: each run of control characters becomes one space."""
    return CONTROL_CHARACTERS.sub(" ", str(text)).strip()


def quoted(text: str) -> list[str]:
    """Free text as mail lines, each cleaned by `one_line` and indented, so that none can pass for a
    line of the mail around it."""
    return [f"    {one_line(line)}".rstrip() for line in str(text).splitlines()]
