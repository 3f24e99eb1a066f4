"""generation.catalog's narration (text_to_speech) and 4K master (video_upscale) requests: pure rules."""

from __future__ import annotations

from typing import Literal, get_args, get_origin, get_type_hints

import pytest
from runwayml.types.text_to_speech_create_params import ElevenMultilingualV2Voice, ElevenV3Voice

from generation import catalog
from generation.catalog import UnsupportedRequest

SCRIPT = "Morning light crosses the harbour as the first boats head out past the old stone pier"  # 16 words


# ---------------------------------------------------------------------------------------------
# build_speech_request


def test_a_narration_body_names_the_model_script_and_preset_voice():
    built = catalog.build_speech_request(model=None, script=f"  {SCRIPT}  ", voice="rachel")

    assert built.endpoint == "text_to_speech"
    assert built.body == {
        "model": "eleven_multilingual_v2",
        "promptText": SCRIPT,
        "voice": {"type": "runway-preset", "presetId": "Rachel"},
    }
    assert built.estimated_credits == 2  # 84 characters at a credit per 50, rounded up
    assert built.estimated_seconds == pytest.approx(6.4)


def test_no_voice_means_the_default_voice():
    built = catalog.build_speech_request(model="eleven_v3", script=SCRIPT)

    assert built.body["voice"]["presetId"] == catalog.DEFAULT_VOICE == "Maya"


def test_the_price_is_a_credit_per_fifty_characters_with_a_one_credit_minimum():
    model = catalog.SPEECH_MODELS["eleven_v3"]

    assert model.estimate(script="Hi.") == 1
    assert model.estimate(script="x" * 50) == 1
    assert model.estimate(script="x" * 51) == 2
    assert model.estimate(script="😀" * 25) == 1  # emoji count as two, as Runway counts them
    assert model.estimate(script="😀" * 26) == 2


def test_speed_goes_only_to_models_that_take_it_and_shortens_the_estimate():
    built = catalog.build_speech_request(model="eleven_v3", script=SCRIPT, speed=1.2)

    assert built.body["speed"] == 1.2
    assert built.estimated_seconds == pytest.approx(5.3)
    with pytest.raises(UnsupportedRequest, match="eleven_multilingual_v2 reads at one speed.*eleven_v3"):
        catalog.build_speech_request(model="eleven_multilingual_v2", script=SCRIPT, speed=1.1)
    with pytest.raises(UnsupportedRequest, match="0.7 to 1.2"):
        catalog.build_speech_request(model="eleven_v3", script=SCRIPT, speed=2)


def test_tags_are_not_counted_as_spoken_words():
    assert catalog.estimate_speech_seconds(
        f"[whispers] {SCRIPT} [laughs]"
    ) == catalog.estimate_speech_seconds(SCRIPT)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"script": "   "}, "needs a script"),
        (
            {"script": "x" * 1001},
            "1001 characters long; eleven_multilingual_v2 reads at most 1000.*eleven_v3",
        ),
        ({"script": SCRIPT, "voice": "Gandalf"}, "no preset voice 'Gandalf'"),
        ({"script": SCRIPT, "model": "eleven_v4"}, "no published price"),
        ({"script": SCRIPT, "model": "gen4_turbo"}, "Unknown speech model"),
    ],
)
def test_an_impossible_narration_is_refused_with_what_would_work(kwargs, message):
    with pytest.raises(UnsupportedRequest, match=message):
        catalog.build_speech_request(**{"model": None, **kwargs})


def test_a_narration_longer_than_the_film_is_flagged_before_spending():
    with pytest.raises(
        UnsupportedRequest, match=r"about 6.4 s to say \(16 words\), longer than the 4 s film; cut about 7"
    ):
        catalog.build_speech_request(model=None, script=SCRIPT, film_seconds=4)

    assert catalog.build_speech_request(model=None, script=SCRIPT, film_seconds=8).estimated_seconds < 8


def _literal_values(hint) -> tuple:
    if get_origin(hint) is Literal:
        return get_args(hint)
    return next((found for arg in get_args(hint) if (found := _literal_values(arg))), ())


@pytest.mark.parametrize("voice_type", [ElevenMultilingualV2Voice, ElevenV3Voice])
def test_the_voices_are_the_sdks_presets(voice_type):
    hint = get_type_hints(voice_type, include_extras=True)["preset_id"]

    assert _literal_values(hint) == catalog.VOICES


# ---------------------------------------------------------------------------------------------
# build_upscale_request


def test_a_master_is_4k_by_default_and_priced_per_frame():
    built = catalog.build_upscale_request(duration=12, fps=24, width=1280, height=720)

    assert built.endpoint == "video_upscale"
    assert built.body == {"model": "magnific_video_upscaler_creative", "resolution": "4k"}
    assert (built.width, built.height) == (3840, 2160)
    assert built.frames == 288
    assert built.estimated_credits == 346  # 288 frames at 1.2 credits, rounded up
    assert built.with_video("runway://x")["videoUri"] == "runway://x"


@pytest.mark.parametrize(
    ("resolution", "size", "credits"),
    [
        ("720p", (1280, 720), 63),
        ("1k", (1920, 1072), 63),
        ("2k", (2560, 1440), 81),
        ("4K", (3840, 2160), 108),
    ],
)
def test_each_tier_has_its_size_and_price(resolution, size, credits):
    # The 1k and 2k prices are the two live captures: 90 frames gave 63 and 81 credits.
    built = catalog.build_upscale_request(duration=3, fps=30, width=640, height=360, resolution=resolution)

    assert (built.width, built.height) == size
    assert built.estimated_credits == credits


def test_counted_frames_win_over_duration_times_rate():
    built = catalog.build_upscale_request(
        duration=3.03, fps=30, frames=90, width=1280, height=720, resolution="1k"
    )

    assert built.estimated_credits == 63


def test_portrait_films_master_at_the_portrait_4k_size():
    built = catalog.build_upscale_request(duration=4, fps=24, width=720, height=1280)

    assert (built.width, built.height) == (2160, 3840)


def test_settings_the_sdk_allows_are_passed_on():
    built = catalog.build_upscale_request(
        duration=4,
        fps=24,
        width=1280,
        height=720,
        creativity=20,
        sharpen=0,
        smart_grain=100,
        flavor="natural",
    )

    assert built.body == {
        "model": "magnific_video_upscaler_creative",
        "resolution": "4k",
        "creativity": 20,
        "sharpen": 0,
        "smartGrain": 100,
        "flavor": "natural",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": 31}, "at most 30 s; this film lasts 31.0 s"),
        ({"resolution": "8k"}, "720p, 1k, 2k or 4k masters, not '8k'"),
        ({"creativity": 101}, "creativity must be a whole number from 0 to 100"),
        ({"sharpen": 1.5}, "sharpen must be a whole number"),
        ({"flavor": "cinematic"}, "vivid or natural"),
        ({"fps_boost": True}, "fpsBoost"),
        ({"model": "enhance_frame_rate"}, "Unknown upscale model"),
        ({"duration": 0}, "assemble it first"),
    ],
)
def test_an_impossible_master_is_refused_with_what_would_work(kwargs, message):
    with pytest.raises(UnsupportedRequest, match=message):
        catalog.build_upscale_request(**{"duration": 10, "fps": 24, "width": 1280, "height": 720, **kwargs})


def test_the_video_data_uri_limit_is_the_stricter_published_figure():
    # SDK 5.24: "up to 5MB"; one schema capture allowed 16 MB. The film goes as an upload above it.
    assert catalog.VIDEO_DATA_URI_MAX_CHARS == 5_242_880
