"""The client approves the storyboard before video is paid for, and a client's comment becomes a
priced retake whose next version answers it. Over HTTP with Django's test client; the pipeline runs
in this process against the Runway simulator over real HTTP, with real ffmpeg."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from generation import estimates, pipeline
from generation.models import LedgerEntry, Take
from projects import review, storyboard_review
from projects.models import ReviewComment, Sequence, ShareLink, Shot, StoryboardApproval, StoryboardComment
from tests.helpers import assert_ledger_exact, drive, make_sequence

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice, references) -> Sequence:
    """Two independent 2 s Gen-4 Turbo shots (10 credits each), not generated yet."""
    return make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2)


@pytest.fixture
def requires_approval(project):
    storyboard_review.set_required(project, required=True)


def _storyboard_link(client, alice, sequence) -> str:
    client.force_login(alice)
    response = client.post(reverse("create_storyboard_link", args=[sequence.pk]), {"recipient_name": "Dana"})
    assert response.status_code == 302
    page = client.get(response["Location"]).text
    token = re.search(r"/s/([\w-]{43})/", page).group(1)
    client.logout()
    return token


def _name(client, token: str, name: str = "Dana Client") -> None:
    assert client.post(reverse("set_review_name", args=[token]), {"name": name}).status_code == 302


def _approve(client, token: str) -> None:
    page = client.get(reverse("shared_film", args=[token])).text
    credits = re.search(r'name="credits" value="(\d+)"', page).group(1)
    digest = re.search(r'name="digest" value="(\w+)"', page).group(1)
    response = client.post(
        reverse("approve_storyboard", args=[token]), {"credits": credits, "digest": digest, "note": "Lovely"}
    )
    assert response.status_code == 302


def _generate(client, alice, sequence):
    client.force_login(alice)
    credits = client.get(reverse("start_sequence", args=[sequence.pk])).context["estimate"].total_credits
    return client.post(reverse("start_sequence", args=[sequence.pk]), {"credits": str(credits)}, follow=True)


def test_the_client_sees_the_storyboard_comments_per_shot_and_approves_at_its_estimate(
    client, alice, sequence
):
    token = _storyboard_link(client, alice, sequence)
    page = client.get(reverse("shared_film", args=[token]))
    assert page.status_code == 200
    assert "Shot number 1" in page.text
    assert "Shot number 2" in page.text
    assert "estimated at <strong>20 credits</strong>" in page.text
    # The first frames are the reference images, served through the link.
    image = re.search(r'src="(/s/[\w-]+/storyboard/reference/\d+/)"', page.text).group(1)
    assert client.get(image).status_code == 200
    _name(client, token)
    shot = sequence.shots.get(position=1)
    client.post(reverse("add_storyboard_comment", args=[token]), {"shot": shot.pk, "body": "Warmer light"})
    assert list(StoryboardComment.objects.values_list("shot_id", "author_name", "body")) == [
        (shot.pk, "Dana Client", "Warmer light")
    ]
    _approve(client, token)
    approval = StoryboardApproval.objects.get()
    assert (approval.author_name, approval.estimate_credits, approval.note) == ("Dana Client", 20, "Lovely")
    client.force_login(alice)
    staff = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert "Approved</span>" in staff
    assert "Warmer light" in staff


def test_a_storyboard_link_shows_no_film_and_takes_no_film_feedback(client, alice, sequence):
    token = _storyboard_link(client, alice, sequence)
    assert client.get(reverse("shared_film_download", args=[token])).status_code == 404
    assert client.get(reverse("shared_compare", args=[token]) + "?a=1&b=2").status_code == 404
    _name(client, token)
    response = client.post(reverse("add_review_comment", args=[token]), {"version": 1, "body": "x"})
    assert response.status_code == 404


def test_an_approval_of_a_storyboard_changed_meanwhile_is_refused(client, alice, sequence):
    token = _storyboard_link(client, alice, sequence)
    _name(client, token)
    page = client.get(reverse("shared_film", args=[token])).text
    digest = re.search(r'name="digest" value="(\w+)"', page).group(1)
    sequence.shots.filter(position=0).update(prompt="Another first shot")
    response = client.post(reverse("approve_storyboard", args=[token]), {"credits": "20", "digest": digest})
    assert response.status_code == 302
    assert not StoryboardApproval.objects.exists()


def test_generate_is_refused_without_the_clients_approval_when_the_project_requires_it(
    client, alice, sequence, requires_approval
):
    response = _generate(client, alice, sequence)
    assert "approval of the storyboard before Generate spends on video" in response.text
    assert Sequence.objects.get(pk=sequence.pk).status == Sequence.Status.DRAFT
    assert not LedgerEntry.objects.exists()


def test_generate_is_refused_when_the_estimate_changed_since_the_approval(
    client, alice, sequence, requires_approval
):
    token = _storyboard_link(client, alice, sequence)
    _name(client, token)
    _approve(client, token)
    sequence.shots.filter(position=1).update(duration=5)
    now = estimates.estimate_generation(sequence).total_credits
    assert now > 20
    response = _generate(client, alice, sequence)
    assert f"approved the storyboard at 20 credits; the estimate is now {now} credits" in response.text
    assert not LedgerEntry.objects.exists()


def test_only_owners_change_the_projects_requirement(client, alice, bob, project):
    url = reverse("set_storyboard_approval_required", args=[project.pk])
    client.force_login(bob)
    assert client.post(url, {"required": "1"}).status_code == 403
    client.force_login(alice)
    assert client.post(url, {"required": "1"}).status_code == 302
    project.refresh_from_db()
    assert project.requires_storyboard_approval


@pytest.mark.django_db(transaction=True)
def test_approval_then_generate_then_a_comment_becomes_a_priced_retake_that_the_next_version_answers(
    client, alice, sequence, requires_approval, runway, inline_pipeline
):
    token = _storyboard_link(client, alice, sequence)
    _name(client, token)
    _approve(client, token)
    response = _generate(client, alice, sequence)
    assert "20 credits reserved" in response.text
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    v1 = sequence.versions.get()
    review.send_version(v1, by=alice)

    # The client comments at 2.5 s, in shot 2 (0:02 to 0:04), on a film link.
    link, film_token = review.issue_link(sequence, created_by=alice)
    client.logout()
    _name(client, film_token)
    response = client.post(
        reverse("add_review_comment", args=[film_token]),
        {"version": 1, "at": "0:02.5", "body": "The boat should be red"},
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 200, response.content
    comment = ReviewComment.objects.get()

    # Staff see it under shot 2, with "Retake with this note", which opens the priced confirmation.
    client.force_login(alice)
    staff = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert re.search(r"Shot 2 <span[^>]*>0:02–0:04</span>.*?The boat should be red", staff, re.S)
    shot2 = sequence.shots.get(position=1)
    assert f'action="{reverse("retake_shot", args=[shot2.pk])}"' in staff
    held_before = LedgerEntry.objects.filter(kind="hold").count()
    confirm = client.post(reverse("retake_shot", args=[shot2.pk]), {"comment": comment.pk})
    assert confirm.status_code == 200
    assert "The boat should be red" in confirm.text
    assert "Shot number 2" in confirm.text
    assert "Retake for 10 credits" in confirm.text
    assert LedgerEntry.objects.filter(kind="hold").count() == held_before  # nothing held before confirming
    client.post(reverse("retake_shot", args=[shot2.pk]), {"confirm": "yes", "credits": "10"})
    assert LedgerEntry.objects.filter(kind="hold").count() == held_before + 1
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE, sequence.status_message

    # Version 2 answers the comment: on the staff's list, and once sent, on the client's page,
    # with a compare of shot 2 before and after.
    v2 = sequence.versions.get(number=2)
    staff = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert f'data-answers="{comment.pk}"' in staff
    compare = f"?a=1&amp;b=2&amp;shot={shot2.pk}"
    assert compare in staff
    review.send_version(v2, by=alice)
    client.logout()
    page = client.get(reverse("shared_film", args=[film_token])).text
    assert f'data-answers="{comment.pk}"' in page
    assert "Answers 1 comment" in page
    both = client.get(reverse("shared_compare", args=[film_token]) + f"?a=1&b=2&shot={shot2.pk}")
    assert both.status_code == 200
    assert both.text.count('data-start="2.000"') == 2  # shot 2 starts at 0:02 in both versions
    assert_ledger_exact(alice, runway)
    assert link.kind == ShareLink.Kind.FILM


# --- every path that spends on video waits for the approval ---------------------------------------


def test_a_retake_and_a_regeneration_are_refused_without_the_clients_approval(
    client, alice, sequence, requires_approval
):
    shot = sequence.shots.get(position=0)
    client.force_login(alice)
    response = client.post(
        reverse("retake_shot", args=[shot.pk]), {"confirm": "yes", "credits": "10"}, follow=True
    )
    assert "approval of the storyboard before a retake spends on video" in response.text
    with pytest.raises(pipeline.StoryboardNotApproved, match="before a retake spends on video"):
        pipeline.regenerate_stale_shots(sequence, user=alice)
    assert not LedgerEntry.objects.exists()
    assert not Take.objects.exists()


def test_a_retake_of_an_approved_shot_needs_no_new_approval_but_a_changed_prompt_does(
    client, alice, sequence, requires_approval
):
    token = _storyboard_link(client, alice, sequence)
    _name(client, token)
    _approve(client, token)
    shot = sequence.shots.get(position=0)
    # Once clips are made the estimate of Generate changes; the shots the client approved do not.
    take = pipeline.retake_shot(shot, user=alice)
    assert take.estimated_credits == 10
    pipeline.cancel_sequence(sequence)
    held = LedgerEntry.objects.filter(kind="hold").count()
    sequence.refresh_from_db()
    Shot.objects.filter(pk=shot.pk).update(prompt="The harbour at night instead")
    with pytest.raises(pipeline.StoryboardNotApproved, match="changed since the client approved it"):
        pipeline.retake_shot(Shot.objects.get(pk=shot.pk), user=alice)
    assert LedgerEntry.objects.filter(kind="hold").count() == held


def test_the_command_line_waits_for_the_approval_too(capsys, boss, runway, tmp_path):
    from django.core.management import CommandError, call_command

    from generation import jobs
    from tests.helpers import COLOURS, photo

    storyboard_review.set_required(jobs._project_for(boss), required=True)
    image = tmp_path / "hall.jpg"
    image.write_bytes(photo(COLOURS[0], 0))
    with pytest.raises(CommandError, match="approval of the storyboard before Generate spends on video"):
        call_command("image2video", "--backend", "runway", "--yes", "-i", str(image), "A hall at dawn")
    assert not LedgerEntry.objects.exists()
    assert runway.tasks() == []


def test_the_retake_confirmation_says_before_the_click_that_the_client_must_approve_first(
    client, alice, sequence, requires_approval
):
    client.force_login(alice)
    shot = sequence.shots.get(position=0)
    page = client.post(reverse("retake_shot", args=[shot.pk])).text
    assert "data-not-approved>This project needs the client&#x27;s approval of the storyboard" in page
    assert re.search(r"<button type=\"submit\" disabled>Retake for 10 credits", page)
    token = _storyboard_link(client, alice, sequence)
    _name(client, token)
    _approve(client, token)
    client.force_login(alice)
    page = client.post(reverse("retake_shot", args=[shot.pk])).text
    assert "data-not-approved" not in page
    assert '<button type="submit">Retake for 10 credits' in page
