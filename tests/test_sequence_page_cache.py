"""The sequence page keeps its shot list and takes rendered (projects/page_cache.py): a change to any
row they are made from shows on the next view, and what one viewer may do never leaks to another."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generation.models import Take
from projects.models import FilmVersion, Keyframe, ReviewComment, Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice, references):
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model="gen4.5",
        created_by=alice,
        reference_set=references,
        status=Sequence.Status.DONE,
    )
    for position, prompt in enumerate(("The hall", "The kitchen")):
        Shot.objects.create(
            sequence=sequence, position=position, prompt=prompt, duration=5, first_frame="none"
        )
    return sequence


def without_tokens(text: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


def shot_reads(queries) -> list[str]:
    """The reads of the shots with their frames and chosen takes (the estimate's), not the digest's."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "projects_shot"' in q["sql"] and "JOIN" in q["sql"] and "md5(" not in q["sql"]
    ]


def page(client, sequence) -> str:
    response = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert response.status_code == 200
    return response.text


def test_a_second_view_is_served_from_the_kept_rendering(
    client, alice, sequence, django_assert_max_num_queries
):
    client.force_login(alice)
    first = page(client, sequence)
    with CaptureQueriesContext(connection) as queries:
        second = page(client, sequence)
    assert without_tokens(second) == without_tokens(first)
    # The estimate and the shot rows were not made again.
    assert not shot_reads(queries)


def test_an_edited_prompt_shows_at_once(client, alice, sequence):
    client.force_login(alice)
    assert "The kitchen" in page(client, sequence)
    Shot.objects.filter(sequence=sequence, position=1).update(prompt="The garden")
    text = page(client, sequence)
    assert "The garden" in text
    assert "The kitchen" not in text


def test_a_take_changed_by_a_worker_shows_at_once(client, alice, sequence):
    shot = sequence.shots.first()
    take = Take.objects.create(shot=shot, user=alice, status=Take.Status.RUNNING, progress=0.25)
    client.force_login(alice)
    assert "25%" in page(client, sequence)
    Take.objects.filter(pk=take.pk).update(progress=0.75)
    assert "75%" in page(client, sequence)
    Take.objects.filter(pk=take.pk).update(status=Take.Status.FAILED, failure_code="SAFETY.INPUT.TEXT")
    text = page(client, sequence)
    assert "75%" not in text
    assert "Failed" in text


def test_a_reference_image_change_shows_at_once(client, alice, sequence, references):
    image = references.images.first()
    Shot.objects.filter(sequence=sequence, position=0).update(
        first_frame="reference", first_frame_image=image
    )
    client.force_login(alice)
    assert f"/reference-images/{image.pk}/file/" in page(client, sequence)
    image.delete()
    assert f"/reference-images/{image.pk}/file/" not in page(client, sequence)


def test_a_keyframe_change_makes_a_new_rendering(client, alice, sequence):
    from projects import page_cache

    before = page_cache.sequence_digest(sequence)
    Keyframe.objects.create(shot=sequence.shots.first(), prompt="A hall")
    assert page_cache.sequence_digest(sequence) != before


def test_a_viewer_never_gets_the_editors_rendering(client, alice, bob, sequence):
    client.force_login(alice)
    assert "Delete <span" in page(client, sequence)
    client.force_login(bob)  # a viewer
    assert "Delete <span" not in page(client, sequence)


def test_an_open_shot_form_is_never_kept(client, alice, sequence):
    shot = sequence.shots.first()
    Sequence.objects.filter(pk=sequence.pk).update(status=Sequence.Status.DRAFT)
    client.force_login(alice)
    editing = client.get(reverse("sequence_detail", args=[sequence.pk]), {"edit": shot.pk}).text
    assert "Save shot 1" in editing
    assert "Save shot 1" not in page(client, sequence)


def test_it_can_be_turned_off(client, alice, sequence, settings):
    settings.SEQUENCE_PAGE_CACHE_SECONDS = 0
    client.force_login(alice)
    page(client, sequence)
    with CaptureQueriesContext(connection) as queries:
        page(client, sequence)
    assert shot_reads(queries)


def test_client_feedback_and_finishing_takes_make_a_new_rendering(alice, sequence):
    from projects import page_cache

    before = page_cache.sequence_digest(sequence)
    version = FilmVersion.objects.create(sequence=sequence, number=1, film="films/tour.mp4")
    with_version = page_cache.sequence_digest(sequence)
    ReviewComment.objects.create(version=version, author_name="Dana", body="Brighter here", at_seconds=3)
    with_comment = page_cache.sequence_digest(sequence)
    Take.objects.create(sequence=sequence, user=alice, endpoint="text_to_speech")
    with_narration = page_cache.sequence_digest(sequence)
    assert len({before, with_version, with_comment, with_narration}) == 4


def test_the_kept_versions_section_shows_each_feedback_change_at_once(client, alice, bob, sequence):
    """The versions section is kept too: a comment, a reply, "resolved", a decision, the version
    sent and the sender's name each show on the next view; the kept part holds no CSRF token."""
    from projects import page_cache
    from projects.models import ReviewDecision, ShareLink

    version = FilmVersion.objects.create(sequence=sequence, number=1, film="films/tour.mp4")
    client.force_login(alice)
    assert "No comments yet." in page(client, sequence)
    comment = ReviewComment.objects.create(
        version=version, author_name="Dana", body="Brighter here", at_seconds=3
    )
    assert "Brighter here" in page(client, sequence)
    ReviewComment.objects.create(
        version=version, parent=comment, author_name="Eli", body="Agreed", at_seconds=3
    )
    assert "Agreed" in page(client, sequence)
    ReviewComment.objects.filter(pk=comment.pk).update(resolved_at=version.created_at)
    assert "Open again" in page(client, sequence)
    link, _ = ShareLink.issue(sequence, created_by=alice, recipient_name="Dana")
    ReviewDecision.objects.create(version=version, share_link=link, author_name="Fay", verdict="changes")
    assert "Fay" in page(client, sequence)
    FilmVersion.objects.filter(pk=version.pk).update(sent_at=version.created_at, sent_by=bob)
    text = page(client, sequence)
    assert "Send version 1 to the client" not in text
    assert f"by {bob.get_username()}" in text
    bob.first_name, bob.last_name = "Robert", "Stone"
    bob.save(update_fields=["first_name", "last_name"])
    assert "by Robert Stone" in page(client, sequence)
    stored = Sequence.objects.get(pk=sequence.pk)
    kept = page_cache.kept((page_cache.sequence_digest(stored), True, True), dict)
    assert "csrfmiddlewaretoken" not in kept["versions_html"]


def test_a_reply_sent_with_the_versions_one_reply_form(client, alice, sequence):
    """Without the script, "Send reply" of one comment posts the version's shared reply form: the
    button names the comment, and only that comment's fields are read."""
    version = FilmVersion.objects.create(sequence=sequence, number=1, film="films/tour.mp4")
    first, second = (
        ReviewComment.objects.create(version=version, author_name="Dana", body=body, at_seconds=at)
        for body, at in (("Brighter", 3), ("Slower", 6))
    )
    client.force_login(alice)
    text = page(client, sequence)
    assert f'form="staff-replies-{version.pk}" name="reply_to" value="{second.pk}"' in text
    assert text.count('id="staff-replies-') == 1
    client.post(
        reverse("add_staff_comment", args=[version.pk]),
        {
            "version": 1,
            "reply_to": second.pk,
            f"reply-body-{first.pk}": "",
            f"reply-body-{second.pk}": "Yes, by half",
            f"reply-internal-{first.pk}": "on",
        },
    )
    reply = ReviewComment.objects.get(parent__isnull=False)
    assert (reply.parent, reply.body, reply.is_internal) == (second, "Yes, by half", False)
