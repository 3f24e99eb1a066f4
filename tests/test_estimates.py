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
