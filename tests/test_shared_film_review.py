"""A client reviews a film on its share page: a name once, comments at a time in the film,
approve or request changes. Feedback belongs to the version shown; links that may not review,
revoked or expired links refuse it; input is limited, escaped and throttled per address."""

import datetime as dt
import re

import pytest
from django.core import signing
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Membership, ReviewComment, ReviewDecision, Sequence, ShareLink

pytestmark = pytest.mark.django_db


def make_version(sequence, number, *, content=None, duration=12.0, sent=True) -> FilmVersion:
    version = FilmVersion(sequence=sequence, number=number, duration=duration)
    version.film.save("film.mp4", ContentFile(content or f"film v{number}".encode() * 50), save=False)
    version.poster.save("poster.jpg", ContentFile(b"\xff\xd8poster"), save=False)
    if sent:
        version.sent_at = timezone.now()
    version.save()
    Sequence.objects.filter(pk=sequence.pk).update(
        film=version.film.name, poster=version.poster.name, film_duration=duration
    )
    return version


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    make_version(sequence, 1)
    make_version(sequence, 2)
    return sequence


def issue(sequence, alice, *, version=None, can_review=True) -> ShareLink:
    link, token = ShareLink.issue(
        sequence, created_by=alice, version=version, can_comment=can_review, can_approve=can_review
    )
    link.token = token  # known only when issued; the tests keep it on the instance
    return link


@pytest.fixture
def link(sequence, alice):
    return issue(sequence, alice)


def page(link):
    return reverse("shared_film", args=[link.token])


def named(client, link, name="Dana Client"):
    response = client.post(reverse("set_review_name", args=[link.token]), {"name": name})
    assert response.status_code == 302
    return response


def comment(client, link, *, version=2, at="0:03", body="Brighter sky here"):
    return client.post(
        reverse("add_review_comment", args=[link.token]), {"version": version, "at": at, "body": body}
    )


def decide(client, link, *, version=2, verdict="changes", note="Warmer colours, please"):
    return client.post(
        reverse("decide_review", args=[link.token]), {"version": version, "verdict": verdict, "note": note}
    )


# --- what the page shows ---------------------------------------------------------------------------


def test_a_latest_link_shows_the_newest_version_with_a_review_panel(client, link):
    response = client.get(page(link))
    assert response.status_code == 200
    assert "Version 2" in response.text
    assert "Your feedback on version 2" in response.text
    assert "Your name" in response.text  # asked once, before anything else
    assert f"{reverse('shared_film_download', args=[link.token])}?v=2&amp;inline=1" in response.text


def test_a_pinned_link_keeps_showing_its_version(client, sequence, alice):
    pinned = issue(sequence, alice, version=sequence.versions.get(number=1))
    text = client.get(page(pinned)).text
    assert "Version 1" in text
    assert "a newer version exists" not in text  # a pinned link never points the client elsewhere
    film = client.get(reverse("shared_film_download", args=[pinned.token]))
    assert b"".join(film.streaming_content) == sequence.versions.get(number=1).film.open().read()


def test_a_latest_link_plays_the_version_its_page_was_rendered_with(client, link, sequence):
    url = reverse("shared_film_download", args=[link.token])
    v1 = b"".join(client.get(url + "?v=1").streaming_content)
    latest = b"".join(client.get(url).streaming_content)
    assert v1 == sequence.versions.get(number=1).film.open().read()
    assert latest == sequence.versions.get(number=2).film.open().read()
    assert client.get(url + "?v=9").status_code == 404
    assert client.get(url + "?v=x").status_code == 404


def test_a_pinned_link_shows_no_other_version(client, sequence, alice):
    pinned = issue(sequence, alice, version=sequence.versions.get(number=1))
    assert client.get(reverse("shared_film_download", args=[pinned.token]) + "?v=2").status_code == 404
    assert client.get(reverse("shared_film_poster", args=[pinned.token]) + "?v=2").status_code == 404


def test_plays_and_downloads_are_still_counted(client, link):
    url = reverse("shared_film_download", args=[link.token])
    client.get(url + "?v=2&inline=1")
    client.get(url + "?v=2")
    link.refresh_from_db()
    assert (link.play_count, link.download_count) == (1, 1)


def test_the_4k_master_is_offered_when_the_version_has_one(client, link, sequence):
    assert "4K master" not in client.get(page(link)).text
    assert client.get(reverse("shared_film_master", args=[link.token])).status_code == 404
    version = sequence.versions.get(number=2)
    version.master.save("master.mp4", ContentFile(b"4k" * 100))
    text = client.get(page(link)).text
    assert "Download the 4K master" in text
    response = client.get(reverse("shared_film_master", args=[link.token]) + "?v=2")
    assert response.status_code == 200
    assert "harbour-house-v2-4k.mp4" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == b"4k" * 100


def test_a_download_only_link_has_no_review_panel(client, sequence, alice):
    watch = issue(sequence, alice, can_review=False)
    text = client.get(page(watch)).text
    assert "Download version 2" in text
    assert "Your feedback" not in text
    assert reverse("add_review_comment", args=[watch.token]) not in text


# --- the name ----------------------------------------------------------------------------------------


def test_the_name_is_given_once_and_kept_in_a_signed_cookie(client, link):
    response = named(client, link)
    cookie = response.cookies["review_name"]
    assert cookie["httponly"]
    assert cookie["path"] == "/s/"
    assert cookie.value != "Dana Client"  # signed, not plain
    text = client.get(page(link)).text
    assert "Commenting as <strong>Dana Client</strong>" in text


def test_a_forged_name_cookie_is_ignored(client, link):
    client.cookies["review_name"] = "Mallory"
    assert comment(client, link).status_code == 302
    assert not ReviewComment.objects.exists()
    client.cookies["review_name"] = signing.get_cookie_signer(salt="review_name" + "other").sign("Mallory")
    comment(client, link)
    assert not ReviewComment.objects.exists()


def test_a_too_long_name_is_refused(client, link):
    response = client.post(reverse("set_review_name", args=[link.token]), {"name": "n" * 81})
    assert response.status_code == 200
    assert "at most 80 characters" in response.text
    assert "review_name" not in response.cookies


@pytest.mark.parametrize(
    "name",
    [
        "Dana\r\nBcc: mallory@example.com",
        "Dana\nClient",
        "Dana\rClient",
        "Dana\x1b[31m",
        "Da\tna",
        "Dana\u2028Client",
        "Dana\u202eClient",
    ],
)
def test_a_name_with_a_line_break_or_other_control_character_is_refused(client, link, name):
    response = client.post(reverse("set_review_name", args=[link.token]), {"name": name})
    assert response.status_code == 200
    assert "Your name cannot contain line breaks, tabs or other control characters." in response.text
    assert "review_name" not in response.cookies


# --- comments ----------------------------------------------------------------------------------------


def test_a_comment_is_saved_with_the_version_time_name_and_link(client, link, sequence):
    named(client, link)
    response = comment(client, link, at="0:03")
    assert response.status_code == 302
    assert response["Location"].endswith("#comments")
    saved = ReviewComment.objects.get()
    assert saved.version == sequence.versions.get(number=2)
    assert (saved.at_seconds, saved.author_name, saved.body) == (3.0, "Dana Client", "Brighter sky here")
    assert saved.share_link == link
    text = client.get(page(link)).text
    assert 'data-seek="3.00"' in text
    assert ">0:03</a>" in text
    assert "Brighter sky here" in text


def test_without_javascript_the_time_is_typed_as_minutes_and_seconds_or_seconds(client, link):
    named(client, link)
    comment(client, link, at="1:05")
    comment(client, link, at="7.5")
    comment(client, link, at="")
    assert sorted(ReviewComment.objects.values_list("at_seconds", flat=True)) == [0.0, 7.5, 12.0]  # clamped


def test_a_bad_time_is_refused_and_nothing_is_saved(client, link):
    named(client, link)
    response = comment(client, link, at="soon")
    assert response.status_code == 200
    assert "minutes:seconds" in response.text
    assert not ReviewComment.objects.exists()


def test_a_comment_made_on_an_older_version_stays_with_it(client, link, sequence):
    """The client had version 1 open when version 2 was assembled: the comment is about version 1."""
    named(client, link)
    comment(client, link, version=1)
    assert ReviewComment.objects.get().version == sequence.versions.get(number=1)


def test_a_pinned_link_takes_comments_only_on_its_version(client, sequence, alice):
    pinned = issue(sequence, alice, version=sequence.versions.get(number=1))
    named(client, pinned)
    assert comment(client, pinned, version=2).status_code == 403
    assert not ReviewComment.objects.exists()
    assert comment(client, pinned, version=1).status_code == 302


def test_a_comment_needs_a_name_first(client, link):
    response = comment(client, link)
    assert response.status_code == 302
    assert not ReviewComment.objects.exists()
    assert "Give your name first" in client.get(page(link)).text


def test_comments_are_limited_to_2000_characters(client, link):
    named(client, link)
    response = comment(client, link, body="x" * 2001)
    assert response.status_code == 200
    assert "at most 2000 characters" in response.text
    assert not ReviewComment.objects.exists()
    assert comment(client, link, body="x" * 2000).status_code == 302


def test_an_empty_comment_is_refused(client, link):
    named(client, link)
    assert comment(client, link, body="   ").status_code == 200
    assert not ReviewComment.objects.exists()


def test_comments_and_names_are_escaped(client, link, alice):
    named(client, link, name="<b>Eve</b>")
    comment(client, link, body="<script>alert('x')</script>")
    text = client.get(page(link)).text
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "&lt;b&gt;Eve&lt;/b&gt;" in text
    client.force_login(alice)
    staff = client.get(reverse("sequence_detail", args=[link.sequence_id])).text
    assert "<script>alert" not in staff
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in staff


# --- decisions -------------------------------------------------------------------------------------


def test_a_request_for_changes_is_saved_and_mailed_to_owners_and_editors(
    client, link, sequence, project, django_user_model, mailoutbox, django_capture_on_commit_callbacks
):
    editor = django_user_model.objects.create_user("erin", "erin@example.com", "x")
    Membership.objects.create(project=project, user=editor, role=Membership.Role.EDITOR)
    named(client, link)
    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client, link, verdict="changes", note="Warmer <colours>, please")
    assert response.status_code == 302
    decision = ReviewDecision.objects.get()
    assert decision.version == sequence.versions.get(number=2)
    assert (decision.verdict, decision.author_name) == ("changes", "Dana Client")
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == ["alice@example.com", "erin@example.com"]  # bob only views
    assert "Harbour House" in mail.subject
    assert "version 2" in mail.subject
    assert "Dana Client" in mail.subject
    assert "Changes requested" in mail.body
    assert "Warmer <colours>, please" in mail.body
    assert f"http://testserver{reverse('sequence_detail', args=[sequence.pk])}#versions" in mail.body
    text = client.get(page(link)).text
    assert "Changes requested" in text
    assert "Warmer &lt;colours&gt;, please" in text


def test_an_approval_is_saved_and_mailed(
    client, link, sequence, mailoutbox, django_capture_on_commit_callbacks
):
    named(client, link)
    with django_capture_on_commit_callbacks(execute=True):
        decide(client, link, verdict="approved", note="")
    assert ReviewDecision.objects.get().verdict == "approved"
    assert "approved" in mailoutbox[0].subject
    assert "Approved" in client.get(page(link)).text


def test_a_note_is_limited_and_the_verdict_checked(client, link):
    named(client, link)
    assert decide(client, link, note="n" * 2001).status_code == 200
    assert decide(client, link, verdict="maybe").status_code == 200
    assert not ReviewDecision.objects.exists()


def test_a_failing_mail_server_never_loses_the_decision(
    client, link, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.test_shared_film_review.BrokenBackend"
    named(client, link)
    with django_capture_on_commit_callbacks(execute=True):
        assert decide(client, link).status_code == 302
    assert ReviewDecision.objects.count() == 1


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("post", [comment, decide])
def test_a_revoked_link_takes_no_feedback(client, link, post):
    named(client, link)
    link.revoke()
    response = post(client, link)
    assert response.status_code == 410
    assert "no longer available" in response.text
    assert not ReviewComment.objects.exists()
    assert not ReviewDecision.objects.exists()


@pytest.mark.parametrize("post", [comment, decide])
def test_an_expired_link_takes_no_feedback(client, link, post):
    named(client, link)
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert post(client, link).status_code == 410
    assert not ReviewComment.objects.exists()
    assert not ReviewDecision.objects.exists()


@pytest.mark.parametrize("post", [comment, decide])
def test_a_download_only_link_takes_no_feedback(client, sequence, alice, post):
    watch = issue(sequence, alice, can_review=False)
    assert client.post(reverse("set_review_name", args=[watch.token]), {"name": "Dana"}).status_code == 403
    client.cookies["review_name"] = signing.get_cookie_signer(
        salt="review_name" + "projects.review-name"
    ).sign("Dana")
    response = post(client, watch)
    assert response.status_code == 403
    assert "watching the film only" in response.text
    assert not ReviewComment.objects.exists()
    assert not ReviewDecision.objects.exists()


def test_an_unknown_link_takes_no_feedback(client, link):
    assert client.post(reverse("add_review_comment", args=["x" * 43]), {"body": "hi"}).status_code == 404


def test_feedback_needs_the_csrf_token(link):
    client = Client(enforce_csrf_checks=True)
    named_response = client.post(reverse("set_review_name", args=[link.token]), {"name": "Dana"})
    assert named_response.status_code == 403
    page_response = client.get(page(link))
    token = page_response.cookies["csrftoken"].value
    response = client.post(
        reverse("set_review_name", args=[link.token]), {"name": "Dana", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_get_on_a_review_action_is_405(client, link):
    for name in ("set_review_name", "add_review_comment", "decide_review"):
        assert client.get(reverse(name, args=[link.token])).status_code == 405


def test_feedback_is_throttled_per_address(client, link, settings):
    settings.REVIEW_POST_LIMIT = 4
    named(client, link)  # 1
    for _ in range(3):  # 2, 3, 4
        assert comment(client, link).status_code == 302
    refused = comment(client, link)
    assert refused.status_code == 429
    assert "Too many" in refused.text
    assert ReviewComment.objects.count() == 3
    # Another address is not held back by the first one.
    response = client.post(
        reverse("add_review_comment", args=[link.token]),
        {"version": 2, "at": "0:01", "body": "From the office"},
        REMOTE_ADDR="10.9.8.7",
    )
    assert response.status_code == 302
    assert ReviewComment.objects.count() == 4


def test_the_throttle_counts_the_address_the_trusted_proxy_saw(client, link, settings):
    settings.REVIEW_POST_LIMIT = 2
    settings.TRUSTED_PROXIES = 1
    named(client, link, name="Dana")
    headers = {"HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    url = reverse("add_review_comment", args=[link.token])
    data = {"version": 2, "at": "0:01", "body": "hi"}
    assert client.post(url, data, **headers).status_code == 302
    assert client.post(url, data, **headers).status_code == 302
    assert client.post(url, data, **headers).status_code == 429
    # A client cannot dodge it by writing its own X-Forwarded-For entries to the left.
    spoofed = {"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.5"}
    assert client.post(url, data, **spoofed).status_code == 429
    assert client.post(url, data, HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 302


# --- the comment threads, kept rendered -----------------------------------------------------------


@pytest.fixture
def kept(monkeypatch):
    """What `page_cache.kept_markup` keeps, as it is written to the cache."""
    from projects import page_cache

    values = []
    real_set = page_cache.cache.set

    def recording_set(key, value, *args, **kwargs):
        if key.startswith("kept-markup:"):
            values.append(value)
        return real_set(key, value, *args, **kwargs)

    monkeypatch.setattr(page_cache.cache, "set", recording_set)
    return values


def _form_token(text: str, marker: str) -> str:
    """The CSRF token of the form holding `marker` in the page."""
    form = text[: text.index(marker)]
    form = form[form.rindex("<form") :]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)


def test_the_kept_comment_threads_hold_neither_the_link_nor_a_csrf_token(client, link, kept):
    named(client, link)
    comment(client, link)
    text = client.get(page(link)).text
    assert kept, "the threads were not kept"
    for value in kept:
        assert link.token not in value["html"]
        assert "Brighter sky here" in value["html"]
        assert value["csrf"] not in text
        assert value["token"] not in text
    # The page has the link in the reply and resolve forms.
    assert f'action="{reverse("add_review_comment", args=[link.token])}"' in text
    assert reverse("resolve_review_comment", args=[link.token, ReviewComment.objects.get().pk]) in text


def test_a_reply_and_a_resolve_show_on_the_next_page_though_the_threads_are_kept(client, link):
    named(client, link)
    comment(client, link)
    first = ReviewComment.objects.get()
    assert "Mark resolved" in client.get(page(link)).text
    reply = {"version": 2, "at": "0:03", "body": "Agreed", "reply_to": first.pk}
    client.post(reverse("add_review_comment", args=[link.token]), reply)
    client.post(
        reverse("resolve_review_comment", args=[link.token, first.pk]), {"version": 2, "resolved": "1"}
    )
    text = client.get(page(link)).text
    assert "Agreed" in text
    assert "Open again" in text


def test_each_visitor_gets_their_own_csrf_token_in_the_kept_threads(link):
    ReviewComment.objects.create(
        version=link.sequence.versions.get(number=2),
        share_link=link,
        author_name="Dana",
        body="Hi",
        at_seconds=1,
    )
    one, two = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    tokens = [_form_token(visitor.get(page(link)).text, 'name="reply_to"') for visitor in (one, two)]
    url = reverse("add_review_comment", args=[link.token])
    reply = {"version": 2, "at": "0:01", "body": "Reply", "reply_to": ReviewComment.objects.get().pk}
    # The other visitor's token is refused; each visitor's own passes the CSRF check (without a
    # name the page sends them back to give one).
    assert two.post(url, {**reply, "csrfmiddlewaretoken": tokens[0]}).status_code == 403
    assert one.post(url, {**reply, "csrfmiddlewaretoken": tokens[0]}).status_code == 302
    assert two.post(url, {**reply, "csrfmiddlewaretoken": tokens[1]}).status_code == 302
