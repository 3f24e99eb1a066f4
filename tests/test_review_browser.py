"""A review round in a real Chromium, with a real qcluster and poller against the Runway simulator.

The client, on a phone, opens the share link, gives a name, draws an arrow on the paused frame at
3 s and comments, replies to the comment and asks for changes, each without reloading: the player
stays where it was. The staff member, on a desktop, sees the comment under shot 2 (0:02 to 0:04),
its timecode seeks the player and the drawing shows over the frame; "Retake shot 2 with this note"
opens the priced retake with the note, and the film is assembled again as version 2, which answers
the comment; the client approves version 2. Screenshots of every step go to the test's temporary
directory."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core import mail

from generation import pipeline
from projects.models import ReviewComment, ReviewDecision, Sequence
from tests.helpers import assert_ledger_exact, fast_page_polls, make_sequence, wait_for
from tests.test_e2e_studio import (  # noqa: F401 (fixtures)
    CHROMIUM,
    DESKTOP,
    GENERATION_TIMEOUT_MS,
    PHONE,
    Screenshots,
    _fits_width,
    _wait_for_metadata,
    _watch_errors,
    chromium,
    cluster,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def screenshots(tmp_path: Path) -> Screenshots:
    return Screenshots(tmp_path / "screenshots")


@pytest.fixture
def finished_sequence(project, alice, references, runway, cluster) -> Sequence:  # noqa: F811
    """Two independent 2 s Gen-4 Turbo shots, generated and assembled by the cluster: version 1."""
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    sequence.title = "Harbour tour"
    sequence.save(update_fields=["title"])
    pipeline.start_sequence(sequence, user=alice)

    def done():
        sequence.refresh_from_db()
        return sequence.status in Sequence.STOPPED

    wait_for(done, timeout=GENERATION_TIMEOUT_MS / 1000, what="version 1")
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    assert sequence.versions.get().number == 1
    return sequence


def _sign_in(page: Page, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def _share_latest_for_review(page: Page, screenshots: Screenshots) -> str:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Send version 1 to the client").click()
    expect(page.locator(".messages")).to_contain_text("Version 1 was sent to the client")
    sharing = page.locator("#sharing")
    sharing.get_by_label("Version").select_option(label="Always the latest sent")
    sharing.locator("input[name=recipient_name]").fill("Dana Client")
    sharing.get_by_role("button", name="Create share link").click()
    # Its own page, after a redirect: a reload shows the same link.
    expect(page.get_by_role("heading", name="Link 1 for Dana Client")).to_be_visible()
    expect(page.get_by_role("button", name="Copy the link")).to_be_visible()
    screenshots.take(page, "staff-share-link")
    url = page.get_by_label("The link").input_value()
    page.reload()
    assert page.get_by_label("The link").input_value() == url
    return url


def _playhead(player) -> float:
    return player.evaluate("v => v.currentTime")


def _sent_in_place(page: Page, player, send, status: str) -> None:
    """`send()` posts a form; the page is not reloaded and the player keeps its position."""
    from playwright.sync_api import expect

    page.evaluate("window.stillThisPage = true")
    before = _playhead(player)
    send()
    expect(page.locator("#review-player ~ [data-review-status], [data-review-status]").first).to_contain_text(
        status
    )
    assert page.evaluate("window.stillThisPage === true"), "the page was reloaded"
    assert abs(_playhead(player) - before) < 0.001, (before, _playhead(player))


def _client_requests_changes(page: Page, share_url: str, screenshots: Screenshots) -> None:
    from playwright.sync_api import expect

    page.goto(share_url)
    expect(page.get_by_role("heading", name="Harbour tour")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Version 1 · sent"))).to_be_visible()
    screenshots.take(page, "client-opens-link")

    page.get_by_label("Your name").fill("Dana Client")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Commenting as")).to_contain_text("Dana Client")

    player = page.locator("#review-player")
    assert _wait_for_metadata(page, player) > 3
    player.evaluate(
        "v => new Promise(done => { v.addEventListener('seeked', done, { once: true }); v.currentTime = 3; })"
    )
    at = page.get_by_label("At")
    expect(at).to_have_value("0:03")  # review.js follows the player
    expect(page.locator("[data-frame-readout]")).to_have_text("0:03:00")

    # An arrow drawn on the paused frame, from its middle towards the top left.
    page.get_by_role("button", name="Draw on the frame").click()
    canvas = page.locator("canvas[data-draw-canvas]")
    expect(canvas).to_be_in_viewport()  # the button brings the frame into view
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3, steps=5)
    page.mouse.up()
    expect(page.locator("[data-draw-count]")).to_have_text("1 shape drawn")
    page.get_by_role("textbox", name="Comment").fill("The sky is too dark here <b>please</b>")
    screenshots.take(page, "client-comment-at-3s-with-a-drawing")
    _sent_in_place(
        page, player, lambda: page.get_by_role("button", name="Add comment").click(), "Comment added at 0:03."
    )
    comments = page.locator("#comments")
    expect(comments.get_by_role("link", name="Play from 0:03")).to_be_visible()
    expect(comments).to_contain_text("The sky is too dark here <b>please</b>")
    expect(comments.locator("[data-has-drawing]")).to_be_visible()
    expect(page.locator(".review-marker")).to_have_count(1)
    screenshots.take(page, "client-comment-listed")

    comments.get_by_text("Reply", exact=True).click()
    comments.get_by_label("Your reply").fill("Mostly the left side.")
    _sent_in_place(
        page,
        player,
        lambda: comments.get_by_role("button", name="Send reply").click(),
        "Reply added to the comment at 0:03.",
    )
    expect(comments.locator(".review-replies")).to_contain_text("Mostly the left side.")

    page.get_by_role("textbox", name="Note").fill("Brighter sky in the second shot, please.")
    _sent_in_place(
        page,
        player,
        lambda: page.get_by_role("button", name="Request changes").click(),
        "your request for changes to version 1 was sent",
    )
    expect(page.locator("#review")).to_contain_text("Changes requested")
    screenshots.take(page, "client-requested-changes")
    assert _fits_width(page), "the share page is wider than a phone"


def _staff_sees_feedback_and_makes_version_2(page: Page, sequence_url: str, screenshots: Screenshots) -> None:
    from playwright.sync_api import expect

    page.goto(sequence_url)
    versions = page.locator("#versions")
    expect(versions).to_contain_text("Changes requested")
    expect(versions.locator(".shot-comments").first).to_contain_text("Shot 2")
    expect(versions).to_contain_text("The sky is too dark here <b>please</b>")
    expect(versions).to_contain_text("Mostly the left side.")
    expect(versions).to_contain_text("Brighter sky in the second shot, please.")
    versions.get_by_role("link", name="Play from 0:03").click()
    player = page.locator("#version-player")
    page.wait_for_function("v => v.paused && Math.abs(v.currentTime - 3) < 0.01", arg=player.element_handle())
    # The client's drawing over the frame: the canvas shows the comment's shapes.
    canvas = page.locator("#versions canvas[data-draw-canvas]")
    expect(canvas).to_have_attribute("data-showing", re.compile(r"^\d+$"))
    painted = canvas.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"
    )
    assert painted > 50, painted
    screenshots.take(page, "staff-sees-the-drawing")

    versions.get_by_role("button", name="Retake shot 2 with this note…").click()
    expect(page.get_by_role("heading", name="Retake shot 2?")).to_be_visible()
    expect(page.locator(".retake-note")).to_contain_text("The sky is too dark here <b>please</b>")
    screenshots.take(page, "staff-retake-with-the-note")
    page.get_by_role("button", name=re.compile(r"^Retake for \d+ credits$")).click()
    expect(page.locator(".messages")).to_contain_text("A new take of shot 2 is on its way")
    # The page follows the run and reloads once it is final: version 2 is then listed.
    expect(page.locator("#versions summary").first).to_contain_text(
        "Version 2", timeout=GENERATION_TIMEOUT_MS
    )
    expect(page.locator("#versions")).to_contain_text("Draft: not sent")
    expect(page.locator("#version-2")).to_contain_text("Answers 1 comment")
    page.get_by_label("Note for the client").fill("Brighter sky in shot 2.")
    page.get_by_role("button", name="Send version 2 to the client").click()
    expect(page.locator(".messages")).to_contain_text("Version 2 was sent to the client")
    screenshots.take(page, "staff-version-2")


def _client_approves_version_2(page: Page, share_url: str, screenshots: Screenshots) -> None:
    from playwright.sync_api import expect

    page.goto(share_url)
    expect(page.get_by_text(re.compile(r"^Version 2 · sent"))).to_be_visible()
    expect(page.locator(".version-notes")).to_contain_text("Brighter sky in shot 2.")
    expect(page.locator("#versions")).to_contain_text("Versions sent to you")
    expect(page.locator("#versions")).to_contain_text("Answers 1 comment")
    expect(page.get_by_role("heading", name="Your feedback on version 2")).to_be_visible()
    expect(page.locator("#comments")).to_contain_text("No comments yet.")
    player = page.locator("#review-player")
    _wait_for_metadata(page, player)
    player.evaluate(
        "v => new Promise(done => { v.addEventListener('seeked', done, { once: true }); v.currentTime = 1.5; })"
    )
    _sent_in_place(
        page,
        player,
        lambda: page.get_by_role("button", name="Approve version 2").click(),
        "version 2 is approved",
    )
    expect(page.locator("#review")).to_contain_text("Approved")
    screenshots.take(page, "client-approves-version-2")


def _review_round(browser: Browser, base_url: str, sequence: Sequence, screenshots: Screenshots) -> None:
    errors: list[str] = []
    staff = fast_page_polls(browser.new_context(viewport=DESKTOP))
    staff.set_default_timeout(15_000)
    staff_page = staff.new_page()
    _watch_errors(staff_page, errors)
    client = fast_page_polls(browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True))
    client.set_default_timeout(15_000)
    client_page = client.new_page()
    _watch_errors(client_page, errors)

    _sign_in(staff_page, base_url)
    sequence_url = f"{base_url}/sequences/{sequence.pk}/"
    staff_page.goto(sequence_url)
    share_url = _share_latest_for_review(staff_page, screenshots)
    assert re.match(re.escape(base_url) + r"/s/[\w-]{43}/$", share_url)

    _client_requests_changes(client_page, share_url, screenshots)
    _staff_sees_feedback_and_makes_version_2(staff_page, sequence_url, screenshots)
    _client_approves_version_2(client_page, share_url, screenshots)
    assert errors == [], errors


def test_a_client_reviews_two_versions_on_a_phone(
    chromium,  # noqa: F811
    live_server,
    finished_sequence,
    screenshots,
    runway,
):
    try:
        _review_round(chromium, live_server.url, finished_sequence, screenshots)
    except BaseException:
        for context in chromium.contexts:
            for page in context.pages:
                screenshots.take(page, "failure")
        raise
    sequence = finished_sequence
    assert list(sequence.versions.values_list("number", flat=True)) == [2, 1]
    comment, reply = ReviewComment.objects.order_by("pk")
    assert (comment.version.number, comment.at_seconds, comment.author_name) == (1, 3.0, "Dana Client")
    assert [shape["kind"] for shape in comment.drawing] == ["arrow"]
    assert all(0 <= n <= 1 for shape in comment.drawing for point in shape["points"] for n in point)
    assert (reply.parent, reply.at_seconds, reply.body) == (comment, 3.0, "Mostly the left side.")
    decisions = list(ReviewDecision.objects.order_by("created_at").values_list("version__number", "verdict"))
    assert decisions == [(1, "changes"), (2, "approved")]
    subjects = [message.subject for message in mail.outbox]
    assert subjects == [
        "Dana Client asked for changes to “Harbour tour” version 1",
        "Dana Client approved “Harbour tour” version 2",
    ]
    assert all(message.to == ["alice@example.com"] for message in mail.outbox)
    assert len(list(screenshots.directory.glob("*.png"))) >= 8
    assert_ledger_exact(sequence.created_by, runway)
