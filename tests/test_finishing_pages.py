"""The narration and 4K master pages (projects.views.finishing): who may see and do what, what the
forms refuse, and the amounts the confirmation pages show and check before anything is held."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from generation import catalog, credits
from generation.models import LedgerEntry, Take
from generation.simulator.render import render_clip, render_speech
from projects.models import FilmVersion, Sequence
from tests.helpers import make_sequence, versioned

pytestmark = pytest.mark.django_db

SCRIPT = "Morning light on the harbour and the boats head out to open sea"  # 13 words, 63 characters


@pytest.fixture
def sequence(project, alice, references):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=True, duration=3, shots=2
    )
    Sequence.objects.filter(pk=sequence.pk).update(narration_script=SCRIPT)
    sequence.refresh_from_db()
    return sequence


@pytest.fixture
def version(sequence, tmp_path):
    """A finished two-second 320x180 film as version 1 (48 frames at 24 fps)."""
    path = tmp_path / "film.mp4"
    render_clip(
        out=path,
        width=320,
        height=180,
        duration=2,
        first_image=None,
        last_image=None,
        text="",
        with_audio=False,
    )
    name = default_storage.save(f"films/{sequence.pk}/film.mp4", ContentFile(path.read_bytes()))
    Sequence.objects.filter(pk=sequence.pk).update(status=Sequence.Status.DONE, film=name, film_duration=2.0)
    return FilmVersion.objects.create(sequence=sequence, number=1, film=name, duration=2.0)


@pytest.fixture
def narration(sequence, alice, tmp_path):
    path = render_speech(out=tmp_path / "voice.mp3", duration=2.0)
    take = Take.objects.create(
        sequence=sequence,
        user=alice,
        endpoint=catalog.TEXT_TO_SPEECH,
        status=Take.Status.SUCCEEDED,
        request={"model": "eleven_multilingual_v2"},
        estimated_credits=2,
        cost_credits=2,
    )
    take.output.save("narration.mp3", ContentFile(path.read_bytes()))
    return take


# --- the sequence page ------------------------------------------------------------------------------


def test_the_sequence_page_shows_the_narration_and_its_estimate(client, alice, sequence):
    client.force_login(alice)
    response = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Narration and 4K master" in page
    assert "The saved script: about 5.2 s of speech over a 6.0 s film · 2 credits." in page
    assert reverse("make_narration", args=[sequence.pk]) in page


def test_the_sequence_page_flags_a_narration_longer_than_the_film(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(narration_script=" ".join(["word"] * 30))
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert "about 12 s to say (30 words), longer than the 6 s film; cut about 15 words" in page
    assert reverse("make_narration", args=[sequence.pk]) not in page


def test_a_viewer_sees_the_script_but_no_form(client, bob, sequence):
    client.force_login(bob)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert SCRIPT in page
    assert f'action="{reverse("save_narration", args=[sequence.pk])}"' not in page


# --- save_narration ---------------------------------------------------------------------------------


def test_saving_a_script_and_voice(client, alice, sequence):
    client.force_login(alice)
    response = client.post(
        reverse("save_narration", args=[sequence.pk]),
        versioned(
            {
                "narration_script": "  A new script  ",
                "narration_voice": "Jack",
                "narration_model": "eleven_v3",
                "narration_speed": "1.1",
            },
            sequence,
            attr="narration_version",
        ),
    )
    assert response.status_code == 302
    sequence.refresh_from_db()
    assert (
        sequence.narration_script,
        sequence.narration_voice,
        sequence.narration_model,
        sequence.narration_speed,
    ) == (
        "A new script",
        "Jack",
        "eleven_v3",
        1.1,
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"narration_voice": "Nobody"}, "Select a valid choice"),
        ({"narration_speed": "1.1"}, "reads at one speed"),
        ({"narration_model": "eleven_v3", "narration_speed": "2"}, "The speed must be from 0.7 to 1.2"),
        ({"narration_script": "x" * 1001}, "Shorten it by 1"),
    ],
)
def test_invalid_narration_settings_are_refused_and_change_nothing(client, alice, sequence, data, message):
    client.force_login(alice)
    post = {
        "narration_script": "Hello there",
        "narration_voice": "Maya",
        "narration_model": "eleven_multilingual_v2",
        "edit_version": 0,
    }
    response = client.post(reverse("save_narration", args=[sequence.pk]), {**post, **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    sequence.refresh_from_db()
    assert sequence.narration_script == SCRIPT


def test_saving_a_narration_needs_edit_rights(client, alice, bob, carol, sequence):
    url = reverse("save_narration", args=[sequence.pk])
    post = {
        "narration_script": "Hi",
        "narration_voice": "Maya",
        "narration_model": "eleven_multilingual_v2",
        "edit_version": 0,
    }
    assert client.post(url, post).status_code == 302  # anonymous: to the login page
    client.force_login(carol)
    assert client.post(url, post).status_code == 404
    client.force_login(bob)
    assert client.post(url, post).status_code == 403
    client.force_login(alice)
    assert client.get(url).status_code == 405
    sequence.refresh_from_db()
    assert sequence.narration_script == SCRIPT


# --- make_narration ----------------------------------------------------------------------------------


def test_the_narration_confirmation_shows_the_amount_and_what_remains(client, alice, sequence):
    client.force_login(alice)
    page = client.get(reverse("make_narration", args=[sequence.pk])).content.decode()
    assert "Make narration for 2 credits" in page
    assert "<strong>998</strong> would remain" in page
    assert not LedgerEntry.objects.exists()


def test_a_narration_longer_than_the_film_cannot_be_confirmed(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(narration_script=" ".join(["word"] * 30))
    client.force_login(alice)
    page = client.get(reverse("make_narration", args=[sequence.pk])).content.decode()
    assert "longer than the 6 s film" in page
    assert "Make narration for" not in page
    response = client.post(reverse("make_narration", args=[sequence.pk]), {"credits": "0"}, follow=True)
    assert "longer than the 6 s film" in response.content.decode()
    assert not Take.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_a_changed_estimate_is_confirmed_again(client, alice, sequence):
    client.force_login(alice)
    response = client.post(reverse("make_narration", args=[sequence.pk]), {"credits": "1"}, follow=True)
    assert "The estimate is now 2 credits. Check it and confirm again." in response.content.decode()
    assert not Take.objects.exists()


def test_confirming_holds_the_estimate(client, alice, sequence, settings):
    settings.PIPELINE_INLINE = False
    client.force_login(alice)
    response = client.post(reverse("make_narration", args=[sequence.pk]), {"credits": "2"}, follow=True)
    assert "Making the narration: 2 credits reserved." in response.content.decode()
    take = Take.objects.get()
    assert (take.sequence, take.shot, take.endpoint, take.estimated_credits) == (
        sequence,
        None,
        "text_to_speech",
        2,
    )
    assert list(credits.open_holds().values_list("take_id", "credits")) == [(take.pk, 2)]


def test_making_a_narration_needs_edit_rights(client, bob, carol, sequence):
    url = reverse("make_narration", args=[sequence.pk])
    client.force_login(carol)
    assert client.get(url).status_code == 404
    client.force_login(bob)
    assert client.get(url).status_code == 403
    assert client.post(url, {"credits": "2"}).status_code == 403
    assert not Take.objects.exists()


# --- narration takes ---------------------------------------------------------------------------------


def test_members_listen_to_a_narration_and_outsiders_do_not(client, bob, carol, narration):
    url = reverse("narration_audio", args=[narration.pk])
    client.force_login(carol)
    assert client.get(url).status_code == 404
    client.force_login(bob)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"


def test_choosing_a_narration_offers_assembling_again(client, alice, bob, sequence, version, narration):
    url = reverse("choose_narration_take", args=[narration.pk])
    client.force_login(bob)
    assert client.post(url).status_code == 403
    client.force_login(alice)
    response = client.post(url, follow=True)
    page = response.content.decode()
    assert "Narration chosen." in page
    assert reverse("assemble_again", args=[sequence.pk]) in page
    sequence.refresh_from_db()
    assert sequence.narration_take == narration


def test_assembling_again_needs_a_finished_film(client, alice, sequence):
    client.force_login(alice)
    response = client.post(reverse("assemble_again", args=[sequence.pk]), follow=True)
    assert "Only a finished film can be assembled again" in response.content.decode()


def test_stopping_a_narration_is_confirmed_first(client, alice, sequence):
    client.force_login(alice)
    response = client.post(reverse("stop_narration", args=[sequence.pk]))
    assert response.status_code == 200
    assert "Stop making the narration" in response.content.decode()
    response = client.post(reverse("stop_narration", args=[sequence.pk]), {"confirm": "yes"}, follow=True)
    assert "Nothing was on its way." in response.content.decode()


# --- make_master --------------------------------------------------------------------------------------


def test_the_master_confirmation_shows_each_part_and_the_total(client, alice, version):
    client.force_login(alice)
    page = client.get(reverse("make_master", args=[version.pk])).content.decode()
    assert "3840×2160" in page
    assert "Make the 4K master for 58 credits" in page  # 48 frames at 1.2 credits, rounded up
    assert "<strong>942</strong> would remain" in page


def test_a_changed_master_estimate_is_confirmed_again(client, alice, version):
    client.force_login(alice)
    response = client.post(reverse("make_master", args=[version.pk]), {"credits": "57"}, follow=True)
    assert "The estimate is now 58 credits. Check it and confirm again." in response.content.decode()
    assert not Take.objects.exists()


def test_confirming_a_master_holds_its_parts(client, alice, version, settings):
    settings.PIPELINE_INLINE = False
    client.force_login(alice)
    response = client.post(reverse("make_master", args=[version.pk]), {"credits": "58"}, follow=True)
    assert "in 1 part(s): 58 credits reserved" in response.content.decode()
    take = Take.objects.get()
    assert (take.version, take.part_start_frame, take.part_end_frame) == (version, 0, 48)
    assert take.request == {"model": "magnific_video_upscaler_creative", "resolution": "4k"}
    assert list(credits.open_holds().values_list("credits", flat=True)) == [58]


def test_making_a_master_needs_edit_rights(client, bob, carol, version):
    url = reverse("make_master", args=[version.pk])
    client.force_login(carol)
    assert client.get(url).status_code == 404
    client.force_login(bob)
    assert client.get(url).status_code == 403
    assert client.post(url, {"credits": "58"}).status_code == 403
    assert client.post(reverse("stop_master", args=[version.pk])).status_code == 403
    assert not Take.objects.exists()


def test_the_sequence_page_offers_the_master_and_its_download(client, alice, sequence, version):
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert reverse("make_master", args=[version.pk]) in page
    FilmVersion.objects.filter(pk=version.pk).update(master=version.film.name)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert "Download the 4K master" in page
    assert reverse("make_master", args=[version.pk]) not in page


# --- the live section (narration_progress) -------------------------------------------------------------


def progress_url(sequence) -> str:
    return reverse("narration_progress", args=[sequence.pk])


def test_the_live_section_is_for_members_only_and_never_cached(client, alice, bob, carol, sequence):
    url = progress_url(sequence)
    assert reverse("login") in client.get(url)["Location"]
    client.force_login(carol)
    assert client.get(url).status_code == 404
    client.force_login(bob)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert client.post(url).status_code == 405


def test_the_live_section_follows_a_narration_until_it_has_arrived(client, alice, bob, sequence, narration):
    output = narration.output.name
    Take.objects.filter(pk=narration.pk).update(
        status=Take.Status.RUNNING, progress=0.4, cost_credits=None, output=""
    )
    client.force_login(alice)
    page = client.get(progress_url(sequence)).content.decode()
    assert 'data-final="false"' in page
    assert '<progress max="100" value="40"' in page
    assert "40%" in page
    assert "2 credits held; Runway&#x27;s charge is settled when done" in page
    assert "Stop the narration…" in page
    assert "Once Runway is making it, Runway keeps its charge" in page
    assert "Script" not in page  # the form is not swapped: what is being typed stays
    # The sequence page loads the script only while something is on its way.
    assert "js/narration.js" in client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    client.force_login(bob)
    assert "Stop the narration" not in client.get(progress_url(sequence)).content.decode()

    Take.objects.filter(pk=narration.pk).update(
        status=Take.Status.SUCCEEDED, progress=1, cost_credits=2, output=output
    )
    client.force_login(alice)
    page = client.get(progress_url(sequence)).content.decode()
    assert 'data-final="true"' in page
    assert "<progress" not in page
    assert reverse("narration_audio", args=[narration.pk]) in page
    assert "Runway charged 2 credits" in page
    assert "Make another narration · 2 credits…" in page
    assert (
        "js/narration.js" not in client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    )


def test_the_live_section_follows_the_master_parts_and_their_joining(client, alice, sequence, version):
    part = Take.objects.create(
        sequence=sequence,
        version=version,
        user=alice,
        endpoint=catalog.VIDEO_UPSCALE,
        status=Take.Status.RUNNING,
        progress=0.25,
        request={"model": "magnific_video_upscaler_creative", "resolution": "4k"},
        estimated_credits=58,
        part_start_frame=0,
        part_end_frame=48,
    )
    client.force_login(alice)
    page = client.get(progress_url(sequence)).content.decode()
    assert 'data-final="false"' in page
    assert "Part 1" in page
    assert '<progress max="100" value="25"' in page
    assert "Stop the master…" in page
    assert "Parts Runway is upscaling are still charged" in page

    Take.objects.filter(pk=part.pk).update(status=Take.Status.SUCCEEDED, cost_credits=58)
    page = client.get(progress_url(sequence)).content.decode()
    assert 'data-final="false"' in page  # still joining
    assert "joining them into the master" in page
    assert reverse("make_master", args=[version.pk]) not in page

    FilmVersion.objects.filter(pk=version.pk).update(master=version.film.name)
    page = client.get(progress_url(sequence)).content.decode()
    assert 'data-final="true"' in page
    assert "Download the 4K master" in page


# --- what the section says before anything is pressed ----------------------------------------------


def test_the_too_long_warning_says_by_how_much(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(narration_script=" ".join(["word"] * 30))
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert "About 6 s too long for the film." in page


def test_each_button_names_its_price(client, alice, sequence, version):
    Sequence.objects.filter(pk=sequence.pk).update(narration_script="Boats head out")  # 1.2 s of the 2 s film
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert "Make narration · 1 credit…" in page
    # Before the film has been measured the price is worked out from its length...
    assert "Make a 4K master · about 58 credits…" in page
    client.get(reverse("make_master", args=[version.pk]))
    # ...and once it has, it is the price the confirmation page holds.
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert "Make a 4K master · 58 credits…" in page


def test_choosing_and_assembling_again_say_they_are_free(client, alice, sequence, version, narration):
    client.force_login(alice)
    Sequence.objects.filter(pk=sequence.pk).update(narration_take=None)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert "Use narration 1 (free)" in page
    client.post(reverse("choose_narration_take", args=[narration.pk]))
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert "Assemble version 2 (free)" in page
    assert "nothing is charged" in page


# --- fetching a narration or master part again ----------------------------------------------------------


@pytest.fixture
def lost_narration(narration):
    Take.objects.filter(pk=narration.pk).update(
        status=Take.Status.FAILED,
        failure_code="DOWNLOAD",
        failure_message="Runway made this narration, but it could not be saved. Fetch it again.",
        runway_task_id="0f0e2a35-3c1f-4d4a-9b8e-4b1d2c3e4f50",
        output="",
    )
    narration.refresh_from_db()
    return narration


def test_a_lost_narration_offers_fetching_it_again_to_editors(client, alice, bob, sequence, lost_narration):
    client.force_login(alice)
    page = client.get(progress_url(sequence)).content.decode()
    assert "Fetch narration 1 again (no charge)" in page
    assert "Runway charged 2 credits for it." in page
    assert reverse("fetch_finishing_take_again", args=[lost_narration.pk]) in page
    assert 'data-final="true"' in page  # recovery fetches it later; nothing to follow now
    client.force_login(bob)
    assert "Fetch narration 1 again" not in client.get(progress_url(sequence)).content.decode()


def test_fetching_again_needs_edit_rights_and_a_post(client, alice, bob, carol, lost_narration, monkeypatch):
    queued = []
    monkeypatch.setattr("generation.pipeline._enqueue_now", lambda task, *args: queued.append((task, *args)))
    url = reverse("fetch_finishing_take_again", args=[lost_narration.pk])
    assert reverse("login") in client.post(url)["Location"]
    client.force_login(carol)
    assert client.post(url).status_code == 404
    client.force_login(bob)
    assert client.post(url).status_code == 403
    client.force_login(alice)
    assert client.get(url).status_code == 405
    assert queued == []
    response = client.post(url, follow=True)
    assert "Fetching the narration again from Runway. It is not charged twice." in response.content.decode()
    lost_narration.refresh_from_db()
    assert lost_narration.status == Take.Status.DOWNLOADING
    assert queued == [("finish_take", lost_narration.pk)]


def test_a_narration_with_nothing_to_fetch_is_refused(client, alice, lost_narration, monkeypatch):
    monkeypatch.setattr("generation.pipeline._enqueue_now", lambda task, *args: None)
    Take.objects.filter(pk=lost_narration.pk).update(failure_code="SAFETY.INPUT.TEXT")
    client.force_login(alice)
    response = client.post(reverse("fetch_finishing_take_again", args=[lost_narration.pk]), follow=True)
    assert "no saved output to fetch again" in response.content.decode()
    lost_narration.refresh_from_db()
    assert lost_narration.status == Take.Status.FAILED
