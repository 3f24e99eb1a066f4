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
from tests.helpers import make_sequence

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
    assert "About 5.2 s of speech over a 6.0 s film · 2 credits." in page
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
    assert reverse("save_narration", args=[sequence.pk]) not in page


# --- save_narration ---------------------------------------------------------------------------------


def test_saving_a_script_and_voice(client, alice, sequence):
    client.force_login(alice)
    response = client.post(
        reverse("save_narration", args=[sequence.pk]),
        {
            "narration_script": "  A new script  ",
            "narration_voice": "Jack",
            "narration_model": "eleven_v3",
            "narration_speed": "1.1",
        },
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
    }
    response = client.post(reverse("save_narration", args=[sequence.pk]), {**post, **data})
    assert response.status_code == 200
    assert message in response.content.decode()
    sequence.refresh_from_db()
    assert sequence.narration_script == SCRIPT


def test_saving_a_narration_needs_edit_rights(client, alice, bob, carol, sequence):
    url = reverse("save_narration", args=[sequence.pk])
    post = {"narration_script": "Hi", "narration_voice": "Maya", "narration_model": "eleven_multilingual_v2"}
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
