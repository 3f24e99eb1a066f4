"""The catalog turns requests in any vocabulary (web form, the old guide's CLI flags, Python) into
bodies Runway accepts, explains every translation, and refuses what cannot be translated."""

import math

import pytest

from generation.catalog import (
    IMAGE_TO_VIDEO,
    MODELS,
    SEED_MAX,
    TEXT_TO_VIDEO,
    UnsupportedRequest,
    build_request,
    describe_models,
    estimate,
    nearest_duration,
    nearest_ratio,
    plan_images,
    resolve_model,
)

VEO_NAMES = ["veo3", "veo3.1", "veo3.1_fast"]
GEN4_NAMES = ["gen4_turbo", "gen4", "gen4.5"]


def _build(model, **kwargs):
    """A request with a first-frame image and a prompt unless the test says otherwise."""
    kwargs.setdefault("prompt_text", "Slow dolly forward through the foyer")
    kwargs.setdefault("has_first_frame", True)
    return build_request(model=model, **kwargs)


# Model names


def test_it_translates_gen4_to_gen45_with_a_notice():
    model, notices = resolve_model("gen4")

    assert model.id == "gen4.5"
    assert len(notices) == 1
    assert "gen4.5" in notices[0]


def test_it_translates_retired_veo3_to_veo31_with_a_notice():
    built = _build("veo3")

    assert built.model.id == "veo3.1"
    assert built.body["model"] == "veo3.1"
    assert any("retired" in n and "veo3.1" in n for n in built.notices)


@pytest.mark.parametrize("name", ["gen4_turbo", "gen4.5", "veo3.1", "veo3.1_fast"])
def test_it_keeps_current_model_ids_without_notices(name):
    model, notices = resolve_model(name)

    assert model.id == name
    assert notices == []


@pytest.mark.parametrize("name", [None, "", "  "])
def test_it_uses_gen4_turbo_when_no_model_is_named(name):
    model, notices = resolve_model(name)

    assert model.id == "gen4_turbo"
    assert notices == []


def test_it_accepts_model_ids_in_any_case():
    assert resolve_model(" Veo3.1_Fast ")[0].id == "veo3.1_fast"


def test_it_refuses_an_unknown_model_listing_the_valid_ids():
    with pytest.raises(UnsupportedRequest) as error:
        resolve_model("sora")

    for model_id in MODELS:
        assert model_id in str(error.value)


def test_it_refuses_retired_gen3a_turbo_naming_a_replacement():
    with pytest.raises(UnsupportedRequest, match="gen4_turbo"):
        _build("gen3a_turbo")


def test_unsupported_request_is_a_value_error():
    assert issubclass(UnsupportedRequest, ValueError)


# Text-to-video and keyframes


@pytest.mark.parametrize("model", [None, "gen4_turbo"])
def test_it_refuses_text_to_video_on_gen4_turbo_naming_the_text_models(model):
    # The guide's first example: `./image2video.py --backend runway "A peaceful mountain landscape"`.
    with pytest.raises(UnsupportedRequest) as error:
        build_request(model=model, prompt_text="A peaceful mountain landscape at sunrise")

    assert str(error.value) == (
        "gen4_turbo needs a first-frame image; add an image or choose gen4.5, veo3.1 or veo3.1_fast "
        "for text-to-video."
    )


@pytest.mark.parametrize("model", ["gen4", "gen4.5", "veo3.1", "veo3.1_fast"])
def test_it_uses_text_to_video_without_an_image(model):
    built = build_request(model=model, prompt_text="Cinematic shot of ocean waves")

    assert built.endpoint == TEXT_TO_VIDEO
    assert built.has_first_frame is False
    assert built.body["promptText"] == "Cinematic shot of ocean waves"


@pytest.mark.parametrize("model", GEN4_NAMES + VEO_NAMES)
def test_it_uses_image_to_video_with_a_first_frame(model):
    assert _build(model).endpoint == IMAGE_TO_VIDEO


@pytest.mark.parametrize("model", GEN4_NAMES)
def test_it_refuses_a_last_frame_on_gen4_naming_veo(model):
    with pytest.raises(UnsupportedRequest, match=r"veo3\.1 or veo3\.1_fast"):
        _build(model, has_last_frame=True)


def test_it_refuses_a_last_frame_without_a_first_frame():
    with pytest.raises(UnsupportedRequest, match="first frame"):
        _build("veo3.1", has_first_frame=False, has_last_frame=True)


@pytest.mark.parametrize("model", ["veo3.1", "veo3.1_fast"])
def test_it_accepts_first_and_last_frames_on_veo(model):
    built = _build(model, has_last_frame=True)

    assert (built.endpoint, built.has_first_frame, built.has_last_frame) == (IMAGE_TO_VIDEO, True, True)
    assert "promptImage" not in built.body


# The guide's multiple images (`-i a.jpg,b.jpg,c.jpg`)


@pytest.mark.parametrize("model", GEN4_NAMES)
def test_it_uses_only_the_first_of_several_images_on_gen4(model):
    plan = plan_images(model, 3)

    assert (plan.has_first_frame, plan.has_last_frame, plan.unused) == (True, False, 2)
    assert any("2 images not used" in n for n in plan.notices)


def test_it_turns_three_veo_reference_images_into_first_and_last_frames():
    plan = plan_images("veo3.1_fast", 3)

    assert (plan.has_first_frame, plan.has_last_frame, plan.unused) == (True, True, 1)
    assert any("last frame" in n for n in plan.notices)
    assert any("1 image not used" in n for n in plan.notices)


def test_it_turns_two_veo_images_into_first_and_last_frames_without_dropping_any():
    plan = plan_images("veo3.1", 2)

    assert (plan.has_first_frame, plan.has_last_frame, plan.unused) == (True, True, 0)
    assert not any("not used" in n for n in plan.notices)


@pytest.mark.parametrize(("count", "has_first"), [(0, False), (1, True)])
def test_it_needs_no_notice_for_zero_or_one_image(count, has_first):
    plan = plan_images("veo3.1", count)

    assert (plan.has_first_frame, plan.has_last_frame, plan.notices) == (has_first, False, ())


def test_an_image_plan_builds_a_valid_request():
    plan = plan_images("veo3", 3)
    built = _build("veo3", has_first_frame=plan.has_first_frame, has_last_frame=plan.has_last_frame)

    assert built.has_last_frame is True


# Durations


@pytest.mark.parametrize(
    ("model", "final"), [("gen4_turbo", "gen4_turbo"), ("gen4", "gen4.5"), ("gen4.5", "gen4.5")]
)
def test_it_keeps_seven_seconds_on_gen4_which_now_takes_two_to_ten(model, final):
    built = _build(model, duration=7)

    assert built.body["duration"] == 7
    assert built.model.id == final
    assert not any("7 s" in n for n in built.notices)


@pytest.mark.parametrize("model", VEO_NAMES)
def test_it_snaps_seven_seconds_on_veo_up_to_eight_with_a_notice(model):
    built = _build(model, duration=7)

    assert built.body["duration"] == 8
    assert any("not 7 s; using 8 s" in n for n in built.notices)


@pytest.mark.parametrize("model", GEN4_NAMES)
@pytest.mark.parametrize("duration", [5, 10])
def test_it_keeps_five_and_ten_seconds_on_gen4(model, duration):
    built = _build(model, duration=duration)

    assert built.duration == duration
    assert not any(" s;" in n for n in built.notices)


@pytest.mark.parametrize("model", VEO_NAMES)
@pytest.mark.parametrize(("asked", "made"), [(5, 6), (10, 8), (3, 4), (2, 4)])
def test_it_snaps_impossible_veo_durations_to_the_nearest_allowed(model, asked, made):
    built = _build(model, duration=asked)

    assert built.duration == made
    assert any(f"4, 6 or 8 s clips, not {asked} s; using {made} s" in n for n in built.notices)


@pytest.mark.parametrize(("asked", "made"), [(1, 2), (30, 10), (7.5, 8), (7.4, 7), (0.5, 2)])
def test_it_snaps_impossible_gen4_durations_to_the_nearest_allowed(asked, made):
    built = _build("gen4_turbo", duration=asked)

    assert built.duration == made
    assert isinstance(built.body["duration"], int)
    assert any("2 to 10 whole seconds" in n for n in built.notices)


def test_it_accepts_a_whole_float_duration_without_a_notice():
    built = _build("gen4_turbo", duration=5.0)

    assert built.body["duration"] == 5
    assert built.notices == ()


@pytest.mark.parametrize(
    ("model", "default"), [("gen4_turbo", 5), ("gen4.5", 5), ("veo3.1", 6), ("veo3.1_fast", 6)]
)
def test_it_defaults_to_five_seconds_or_the_nearest_allowed(model, default):
    built = _build(model)

    assert built.duration == default
    assert built.notices == ()


@pytest.mark.parametrize("duration", [0, -5, math.nan, math.inf, True, "7"])
def test_it_refuses_a_duration_that_is_not_a_positive_number(duration):
    with pytest.raises(UnsupportedRequest, match="duration"):
        _build("veo3.1", duration=duration)


def test_nearest_duration_breaks_ties_towards_the_longer_clip():
    veo = MODELS["veo3.1"]

    assert [nearest_duration(veo, d) for d in (4, 5, 6, 7, 8, 9)] == [4, 6, 6, 8, 8, 8]


# Sizes and ratios

# The guide's four --width/--height pairs on every model it names, each (ratio, notice mentions) or error.
GUIDE_SIZES = [
    # model, image?, width, height, expected ratio or None for an error, text expected in the notice/error
    ("gen4_turbo", True, 1920, 1080, "1280:720", "1080p"),
    ("gen4_turbo", True, 1080, 1920, "720:1280", "1080p"),
    ("gen4_turbo", True, 1280, 720, "1280:720", None),
    ("gen4_turbo", True, 1080, 1080, "960:960", "1080p"),
    ("gen4", True, 1920, 1080, "1280:720", "1080p"),
    ("gen4", True, 1080, 1920, "720:1280", "1080p"),
    ("gen4", True, 1280, 720, "1280:720", None),
    ("gen4", True, 1080, 1080, "960:960", "1080p"),
    ("gen4.5", False, 1920, 1080, "1280:720", "1080p"),
    ("gen4.5", False, 1080, 1920, "720:1280", "1080p"),
    ("gen4.5", False, 1280, 720, "1280:720", None),
    ("gen4.5", False, 1080, 1080, None, "960:960 on gen4_turbo or gen4.5 with a first-frame image"),
]
for _veo in VEO_NAMES:
    for _image in (True, False):
        GUIDE_SIZES += [
            (_veo, _image, 1920, 1080, "1920:1080", None),
            (_veo, _image, 1080, 1920, "1080:1920", None),
            (_veo, _image, 1280, 720, "1280:720", None),
            (_veo, _image, 1080, 1080, None, "960:960 on gen4_turbo or gen4.5"),
        ]


@pytest.mark.parametrize(("model", "has_image", "width", "height", "ratio", "text"), GUIDE_SIZES)
def test_it_translates_the_guides_sizes_to_each_models_ratios(model, has_image, width, height, ratio, text):
    if ratio is None:
        with pytest.raises(UnsupportedRequest) as error:
            _build(model, has_first_frame=has_image, width=width, height=height)
        assert "no square video" in str(error.value)
        assert text in str(error.value)
        return

    built = _build(model, has_first_frame=has_image, width=width, height=height)

    assert built.body["ratio"] == ratio
    size_notices = [n for n in built.notices if "shape" in n]
    if text is None:
        assert size_notices == []
    else:
        assert len(size_notices) == 1
        assert text in size_notices[0]
        assert ratio in size_notices[0]


def test_it_maps_an_ultrawide_size_to_gen4s_widest_ratio_with_a_notice():
    built = _build("gen4_turbo", width=2560, height=1080)

    assert built.ratio == "1584:672"
    assert any("closest shape" in n for n in built.notices)


def test_it_maps_a_4k_size_on_veo_to_1080p_with_a_notice():
    built = _build("veo3.1", width=3840, height=2160)

    assert built.ratio == "1920:1080"
    assert any("same shape" in n for n in built.notices)


def test_nearest_ratio_prefers_the_closest_size_among_equal_shapes():
    veo = MODELS["veo3.1"]

    assert nearest_ratio(veo, TEXT_TO_VIDEO, 1280, 720) == "1280:720"
    assert nearest_ratio(veo, TEXT_TO_VIDEO, 1920, 1080) == "1920:1080"
    assert nearest_ratio(veo, TEXT_TO_VIDEO, 640, 360) == "1280:720"


def test_nearest_ratio_refuses_an_endpoint_the_model_does_not_serve():
    with pytest.raises(UnsupportedRequest):
        nearest_ratio(MODELS["gen4_turbo"], TEXT_TO_VIDEO, 1280, 720)


@pytest.mark.parametrize("model", GEN4_NAMES + VEO_NAMES)
def test_it_defaults_to_1280_by_720(model):
    assert _build(model).body["ratio"] == "1280:720"


def test_it_keeps_an_allowed_explicit_ratio():
    built = _build("gen4_turbo", ratio="1584:672")

    assert built.ratio == "1584:672"
    assert built.notices == ()


def test_it_refuses_an_explicit_ratio_the_model_lacks_listing_the_allowed_ones():
    with pytest.raises(UnsupportedRequest) as error:
        _build("gen4_turbo", ratio="1920:1080")

    message = str(error.value)
    for ratio in MODELS["gen4_turbo"].ratios[IMAGE_TO_VIDEO]:
        assert ratio in message
    assert "1920:1080 on veo3.1 or veo3.1_fast" in message


def test_it_refuses_a_square_ratio_on_gen45_text_to_video_suggesting_an_image():
    with pytest.raises(UnsupportedRequest, match="1280:720, 720:1280") as error:
        _build("gen4.5", has_first_frame=False, ratio="960:960")

    assert "with a first-frame image" in str(error.value)


@pytest.mark.parametrize(
    "size",
    [{"width": 1280}, {"height": 720}, {"width": 0, "height": 720}, {"width": -1280, "height": 720}],
)
def test_it_refuses_an_incomplete_or_impossible_size(size):
    with pytest.raises(UnsupportedRequest):
        _build("veo3.1", **size)


def test_it_treats_a_blank_ratio_as_not_given():
    assert _build("veo3.1", ratio=" ", width=1080, height=1920).ratio == "1080:1920"


def test_it_refuses_both_a_ratio_and_a_size():
    with pytest.raises(UnsupportedRequest, match="not both"):
        _build("veo3.1", ratio="1280:720", width=1280, height=720)


# Prompts


def test_it_accepts_a_prompt_of_exactly_1000_characters():
    assert len(_build("gen4.5", prompt_text="a" * 1000).body["promptText"]) == 1000


def test_it_refuses_a_prompt_over_1000_characters():
    with pytest.raises(UnsupportedRequest, match="1001"):
        _build("gen4.5", prompt_text="a" * 1001)


def test_it_counts_prompt_length_in_utf16_units_like_runway():
    _build("veo3.1", prompt_text="🎬" * 500)

    with pytest.raises(UnsupportedRequest, match="1002"):
        _build("veo3.1", prompt_text="🎬" * 501)


@pytest.mark.parametrize("model", ["gen4.5", "veo3.1"])
def test_it_refuses_text_to_video_without_a_prompt(model):
    with pytest.raises(UnsupportedRequest, match="needs a prompt"):
        build_request(model=model, prompt_text="   ")


def test_it_refuses_gen45_image_to_video_without_a_prompt_naming_models_that_need_none():
    with pytest.raises(UnsupportedRequest, match=r"gen4_turbo, veo3\.1 or veo3\.1_fast"):
        _build("gen4.5", prompt_text="")


@pytest.mark.parametrize("model", ["gen4_turbo", "veo3.1", "veo3.1_fast"])
def test_it_leaves_out_an_empty_prompt_on_image_models_that_allow_it(model):
    assert "promptText" not in _build(model, prompt_text="").body


def test_it_strips_whitespace_around_the_prompt():
    assert _build("gen4_turbo", prompt_text="  Slow zoom \n").body["promptText"] == "Slow zoom"


# Seed and audio


def test_it_builds_the_guides_seed_example_when_given_an_image():
    # `--model gen4_turbo --seed 12345 "Reproducible generation"` plus the image gen4_turbo needs.
    built = _build("gen4_turbo", prompt_text="Reproducible generation", seed=12345)

    assert built.body == {
        "model": "gen4_turbo",
        "promptText": "Reproducible generation",
        "ratio": "1280:720",
        "duration": 5,
        "seed": 12345,
    }


@pytest.mark.parametrize("seed", [0, SEED_MAX])
def test_it_accepts_seeds_at_both_ends_of_runways_range(seed):
    assert _build("veo3.1", seed=seed).body["seed"] == seed


@pytest.mark.parametrize("seed", [-1, SEED_MAX + 1, True, 1.5])
def test_it_refuses_a_seed_outside_runways_range(seed):
    with pytest.raises(UnsupportedRequest, match="seed"):
        _build("veo3.1", seed=seed)


def test_it_leaves_out_the_seed_when_none_is_given():
    assert "seed" not in _build("veo3.1").body


@pytest.mark.parametrize("audio", [True, False])
def test_it_sends_the_audio_flag_to_veo(audio):
    assert _build("veo3.1_fast", audio=audio).body["audio"] is audio


@pytest.mark.parametrize("audio", [True, False])
def test_it_never_sends_audio_to_silent_gen4_models(audio):
    built = _build("gen4.5", audio=audio)

    assert "audio" not in built.body
    assert built.notices == ()


# Estimates


@pytest.mark.parametrize(
    ("model", "duration", "audio", "credits"),
    [
        ("veo3.1_fast", 8, True, 120),
        ("veo3.1_fast", 8, False, 80),
        ("veo3.1", 8, True, 320),
        ("veo3.1", 8, False, 160),
        ("gen4_turbo", 5, True, 25),
        ("gen4_turbo", 5, False, 25),
        ("gen4.5", 10, True, 120),
        ("gen4", 10, True, 120),
    ],
)
def test_it_estimates_credits_from_the_catalog_prices(model, duration, audio, credits):
    assert estimate(model, duration, audio) == credits


def test_it_estimates_the_duration_that_would_really_be_submitted():
    assert estimate("veo3.1_fast", 7) == estimate("veo3.1_fast", 8)


def test_a_built_request_carries_the_estimate_for_its_final_model_duration_and_audio():
    built = _build("veo3", duration=7, audio=False)

    assert built.estimated_credits == 8 * 20


def test_it_translates_the_guides_real_estate_walkthrough():
    # `--model veo3.1_fast --stitch --duration 7 -i "foyer.jpg,living.jpg,kitchen.jpg"`: one clip of it.
    plan = plan_images("veo3.1_fast", 3)
    built = _build(
        "veo3.1_fast",
        prompt_text="Start in foyer, slow pan right revealing stairs",
        duration=7,
        has_first_frame=plan.has_first_frame,
        has_last_frame=plan.has_last_frame,
    )

    assert built.body == {
        "model": "veo3.1_fast",
        "promptText": "Start in foyer, slow pan right revealing stairs",
        "ratio": "1280:720",
        "duration": 8,
        "audio": True,
    }
    assert built.estimated_credits == 120


def test_it_translates_the_guides_social_media_example():
    # `--model gen4 --width 1080 --height 1920 --duration 10 -i "lifestyle_shot.jpg"`
    built = _build("gen4", width=1080, height=1920, duration=10)

    assert built.body["model"] == "gen4.5"
    assert built.ratio == "720:1280"
    assert built.duration == 10
    assert len(built.notices) == 2
    assert built.estimated_credits == 120


# --list-models


def test_describe_models_lists_every_model_with_its_capabilities_and_prices():
    rows = {row["id"]: row for row in describe_models()}

    assert list(rows) == list(MODELS)
    assert [row["id"] for row in rows.values() if row["is_default"]] == ["gen4_turbo"]
    assert rows["gen4_turbo"]["has_text_to_video"] is False
    assert rows["gen4.5"]["aliases"] == ["gen4"]
    assert rows["veo3.1"]["aliases"] == ["veo3"]
    assert rows["veo3.1_fast"]["durations"] == [4, 6, 8]
    assert rows["veo3.1_fast"]["default_duration"] == 6
    assert (rows["veo3.1_fast"]["credits_per_second"], rows["veo3.1_fast"]["credits_per_second_silent"]) == (
        15,
        10,
    )
    assert rows["veo3.1"]["has_last_frame"] is True
    assert rows["veo3.1"]["has_audio"] is True
    assert rows["gen4.5"]["ratios"][TEXT_TO_VIDEO] == ["1280:720", "720:1280"]
