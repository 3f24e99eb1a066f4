"""The keyframe plan and the estimate (generation/estimates.py), as the pages describe it and as the
command line's jobs lay their shots out."""

from pathlib import Path

import pytest

from generation import estimates, jobs
from projects.models import Shot
from tests.helpers import COLOURS, make_sequence, photo

pytestmark = pytest.mark.django_db


def _words(sequence) -> list[tuple[str, str]]:
    frames = estimates.frame_sources(sequence)
    return [(frames[shot.pk][0].label, frames[shot.pk][1].label) for shot in sequence.shots.all()]


def test_a_stitched_veo_sequence_starts_on_r1_and_ends_each_shot_on_the_next_reference(
    project, alice, references
):
    sequence = make_sequence(project, alice, references, model="veo3.1", stitched=True, duration=6)

    assert _words(sequence) == [
        ("R1", "R2"),
        ("last frame of shot 1", "R3"),
        ("last frame of shot 2", "wherever the model ends"),
    ]
    first = estimates.frame_sources(sequence)[sequence.shots.first().pk][0]
    assert first.kind == "reference"
    assert first.image == references.images.first()


def test_an_unstitched_sequence_starts_each_shot_on_its_own_reference(project, alice, references):
    sequence = make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=5)

    assert _words(sequence) == [
        ("R1", "wherever the model ends"),
        ("R2", "wherever the model ends"),
        ("R3", "wherever the model ends"),
    ]


def test_a_shot_without_a_first_frame_is_text_only_and_priced_as_such(project, alice, references):
    sequence = make_sequence(project, alice, references, model="veo3.1", stitched=False, duration=6, shots=1)
    Shot.objects.filter(sequence=sequence).update(first_frame=Shot.FirstFrame.NONE, first_frame_image=None)

    (item,) = estimates.estimate_sequence(sequence).shots

    assert _words(sequence) == [("text only", "wherever the model ends")]
    assert item.built.endpoint == "text_to_video"
    assert item.credits == estimates.estimate_generation(sequence).total_credits


def test_a_stitched_job_is_laid_out_as_the_pages_plan_it(boss, tmp_path):
    images = []
    for index, colour in enumerate(COLOURS[:2]):
        path = Path(tmp_path) / f"room{index}.jpg"
        path.write_bytes(photo(colour, index))
        images.append(path)

    sequence, _ = jobs.build_job(
        user=boss,
        prompts=["One", "Two", "Three"],
        images=images,
        model="veo3.1",
        duration=5,
        width=None,
        height=None,
        seed=None,
        stitch=True,
    )

    assert _words(sequence) == [
        ("R1", "R2"),
        ("last frame of shot 1", "wherever the model ends"),
        ("last frame of shot 2", "wherever the model ends"),
    ]
    assert [s.duration for s in sequence.shots.all()] == [6, 6, 6]  # the catalog's nearest to 5 s
    assert not estimates.estimate_sequence(sequence).errors


def _job_images(tmp_path, count: int) -> list[Path]:
    images = []
    for index in range(count):
        path = Path(tmp_path) / f"room{index}.jpg"
        path.write_bytes(photo(COLOURS[index % len(COLOURS)], index))
        images.append(path)
    return images


def _job(boss, images, *, prompts, model="veo3.1_fast", stitch=True):
    return jobs.build_job(
        user=boss,
        prompts=prompts,
        images=images,
        model=model,
        duration=4,
        width=None,
        height=None,
        seed=None,
        stitch=stitch,
    )


def test_a_stitched_veo_sequence_uses_every_reference_and_says_no_image_is_unused(
    project, alice, references, boss, tmp_path
):
    sequence = make_sequence(project, alice, references, model="veo3.1_fast", stitched=True, duration=4)
    estimate = estimates.estimate_sequence(sequence)
    plans = [item.plan for item in estimate.shots]
    assert estimates.images_used(plans, estimates.references_of(sequence)) == 3
    assert not any("not used" in n for item in estimate.shots for n in item.notices)

    # The command line's job of the same walkthrough: three images, two clips, all three used.
    job, notices = _job(boss, _job_images(tmp_path, 3), prompts=["Foyer", "Living room"])

    assert _words(job) == [("R1", "R2"), ("last frame of shot 1", "R3")]
    assert not any("not used" in n for n in notices)
    assert not any("the second is the last frame" in n for n in notices)
    assert any("each clip ends on the next image" in n for n in notices)


@pytest.mark.parametrize(
    ("prompts", "model", "stitch", "unused"),
    [
        (["One"], "veo3.1_fast", True, "takes a first and a last frame only; 1 image not used."),
        (["One", "Two"], "veo3.1_fast", False, "takes a first and a last frame only; 1 image not used."),
        (["One", "Two"], "gen4_turbo", True, "2 images not used."),
    ],
)
def test_a_job_names_the_images_its_clips_do_not_use(boss, tmp_path, prompts, model, stitch, unused):
    _, notices = _job(boss, _job_images(tmp_path, 3), prompts=prompts, model=model, stitch=stitch)

    assert [n for n in notices if "not used" in n][0].endswith(unused)


def test_a_stitched_veo_job_with_more_images_than_frames_names_the_rest(boss, tmp_path):
    _, notices = _job(boss, _job_images(tmp_path, 4), prompts=["One", "Two"])

    assert "the clips end on images 2 to 3; 1 image not used." in " ".join(notices)
