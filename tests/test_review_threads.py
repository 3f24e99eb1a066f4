"""Comments with drawings, replies, "resolved" and internal staff comments, sent by the page's script
(fetch, answered with JSON and the HTML of the parts to replace) or by a plain form post."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from projects import review
from projects.models import ReviewComment
from tests.test_shared_film_review import comment, decide, issue, make_version, named, page  # noqa: F401

pytestmark = pytest.mark.django_db

FETCH = {"X-Requested-With": "fetch", "Accept": "application/json"}
ARROW = [{"kind": "arrow", "points": [[0.5, 0.5], [0.25, 0.3]], "colour": "red"}]


@pytest.fixture
def sequence(project, alice):
    from projects.models import Sequence

    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    make_version(sequence, 1)
    make_version(sequence, 2)
    return sequence


@pytest.fixture
def link(sequence, alice):
    return issue(sequence, alice)


def post_comment(client, link, **data):
    return client.post(
        reverse("add_review_comment", args=[link.token]),
        {"version": 2, "at": "0:03", "body": "Brighter", **data},
        headers=FETCH,
    )


def test_a_comment_sent_by_the_script_is_answered_with_the_comments_to_replace(client, link):
    named(client, link)
    response = post_comment(client, link, drawing=json.dumps(ARROW))
    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"]
    assert answer["message"] == "Comment added at 0:03."
    assert "Brighter" in answer["fragments"]["comments"]
    saved = ReviewComment.objects.get()
    assert saved.drawing == ARROW
    assert "data-drawing=" in answer["fragments"]["comments"]


@pytest.mark.parametrize(
    "drawing",
    [
        "not json",
        json.dumps({"kind": "arrow"}),
        json.dumps([{"kind": "circle", "points": [[0, 0], [1, 1]]}]),
        json.dumps([{"kind": "arrow", "points": [[0, 0], [1.5, 1]]}]),
        json.dumps([{"kind": "box", "points": [[0, 0]]}]),
        json.dumps([{"kind": "pen", "points": [[0, 0], [True, 1]]}]),
        json.dumps([{"kind": "arrow", "points": [[0, 0], [1, 1]], "script": "x"}]),
        json.dumps([{"kind": "arrow", "points": [[0, 0], [1, 1]], "colour": "url(x)"}]),
        json.dumps(ARROW * 21),
        json.dumps([{"kind": "pen", "points": [[0.1, 0.1]] * 401}]),
    ],
)
def test_a_malformed_or_oversized_drawing_is_refused_and_nothing_is_saved(client, link, drawing):
    named(client, link)
    response = post_comment(client, link, drawing=drawing)
    assert response.status_code == 400
    assert response.json()["error"].startswith("The drawing was not saved")
    assert not ReviewComment.objects.exists()


def test_drawing_coordinates_are_rounded_and_get_their_colour():
    shapes = review.clean_drawing(json.dumps([{"kind": "box", "points": [[0.123456, 0], [1, 0.5]]}]))
    assert shapes == [{"kind": "box", "points": [[0.1235, 0.0], [1.0, 0.5]], "colour": "red"}]


def test_a_reply_joins_the_thread_at_its_time_and_without_a_drawing(client, link):
    named(client, link)
    post_comment(client, link, at="0:05")
    first = ReviewComment.objects.get()
    response = post_comment(client, link, reply_to=first.pk, at="0:09", body="Yes", drawing=json.dumps(ARROW))
    assert response.json()["message"] == "Reply added to the comment at 0:05."
    reply = ReviewComment.objects.get(parent=first)
    assert (reply.at_seconds, reply.drawing) == (5.0, [])
    # A reply to the reply is a reply to the thread.
    post_comment(client, link, reply_to=reply.pk, body="Agreed")
    assert ReviewComment.objects.filter(parent=first).count() == 2


def test_a_reply_to_a_comment_on_another_version_is_refused(client, link, sequence):
    named(client, link)
    post_comment(client, link)
    other = ReviewComment.objects.get()
    response = client.post(
        reverse("add_review_comment", args=[link.token]),
        {"version": 1, "body": "x", "reply_to": other.pk},
        headers=FETCH,
    )
    assert response.status_code == 403
    assert ReviewComment.objects.count() == 1


def test_the_client_marks_a_thread_resolved_and_opens_it_again(client, link):
    named(client, link)
    post_comment(client, link)
    thread = ReviewComment.objects.get()
    url = reverse("resolve_review_comment", args=[link.token, thread.pk])
    answer = client.post(url, {"version": 2}, headers=FETCH).json()
    assert answer["message"] == "Marked resolved."
    thread.refresh_from_db()
    assert thread.is_resolved
    client.post(url, {"version": 2, "resolved": "0"})
    thread.refresh_from_db()
    assert not thread.is_resolved


def test_internal_staff_comments_never_reach_the_client(client, alice, link, sequence):
    v2 = sequence.versions.get(number=2)
    client.force_login(alice)
    url = reverse("add_staff_comment", args=[v2.pk])
    client.post(url, {"version": 2, "at": "0:04", "body": "Our own note", "is_internal": "on"})
    client.post(url, {"version": 2, "at": "0:06", "body": "Thanks, on it"})
    internal, public = ReviewComment.objects.order_by("at_seconds")
    client.post(url, {"version": 2, "body": "Reply in the internal thread", "reply_to": internal.pk})
    assert ReviewComment.objects.get(body="Reply in the internal thread").is_internal
    staff = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert "Our own note" in staff
    assert "Staff only" in staff
    client.logout()
    shared = client.get(page(link)).text
    assert "Thanks, on it" in shared
    assert "Our own note" not in shared
    assert "Reply in the internal thread" not in shared
    # Nor through the client's own forms.
    named(client, link)
    assert post_comment(client, link, reply_to=internal.pk).status_code == 403
    resolve = reverse("resolve_review_comment", args=[link.token, internal.pk])
    assert client.post(resolve, {"version": 2}).status_code == 403
    assert public.share_link is None


def test_a_decision_sent_by_the_script_is_answered_with_the_decision_to_replace(client, link):
    named(client, link)
    response = client.post(
        reverse("decide_review", args=[link.token]), {"version": 2, "verdict": "approved"}, headers=FETCH
    )
    answer = response.json()
    assert answer["message"] == "Thank you: version 2 is approved."
    assert "Approved" in answer["fragments"]["decision"]


def test_without_a_name_the_script_is_told_so_and_nothing_is_saved(client, link):
    response = post_comment(client, link)
    assert response.status_code == 400
    assert "Give your name first" in response.json()["error"]
    assert not ReviewComment.objects.exists()


def test_staff_comments_need_membership(client, carol, sequence):
    v2 = sequence.versions.get(number=2)
    client.force_login(carol)
    assert (
        client.post(reverse("add_staff_comment", args=[v2.pk]), {"version": 2, "body": "x"}).status_code
        == 404
    )
    assert client.get(reverse("add_staff_comment", args=[v2.pk])).status_code == 405
    assert not ReviewComment.objects.exists()


def test_compare_shows_only_versions_the_link_shows(client, sequence, alice):
    make_version(sequence, 3, sent=False)
    link = issue(sequence, alice)
    ok = client.get(reverse("shared_compare", args=[link.token]) + "?a=1&b=2")
    assert ok.status_code == 200
    assert client.get(reverse("shared_compare", args=[link.token]) + "?a=1&b=3").status_code == 404
    client.force_login(alice)
    assert client.get(reverse("version_compare", args=[sequence.pk]) + "?a=1&b=3").status_code == 200
