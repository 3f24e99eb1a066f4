"""The shot, keyframe and narration fields keep what was typed and say what their choices mean."""

import pytest

from projects.forms import KeyframeForm, NarrationForm, ShotForm
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db

# A pasted prompt of 1,384 characters, the 1,000th of them inside a word.
LONG_PROMPT = ("The camera glides through the sunlit hall towards the harbour windows " * 20)[:1383] + "."


@pytest.fixture
def sequence(project, alice, references):
    return Sequence.objects.create(
        project=project, title="Tour", model="gen4.5", reference_set=references, created_by=alice
    )


def shot_form(sequence, data=None, instance=None):
    images = list(sequence.reference_set.images.all())
    return ShotForm(data, sequence=sequence, images=images, instance=instance)


def test_a_long_prompt_is_refused_with_its_length_and_kept_whole(sequence):
    form = shot_form(sequence, {"prompt": LONG_PROMPT, "duration": 5, "first_frame": "none"})

    assert not form.is_valid()
    assert form.errors["prompt"] == [
        "The prompt is 1384 characters long; the limit is 1000 (emoji count as two)."
    ]
    html = str(form["prompt"])
    assert LONG_PROMPT in html
    assert "maxlength" not in html  # the browser would cut a paste at 1,000 characters, silently
    assert 'data-count-limit="1000"' in html


def test_a_prompt_at_the_limit_is_saved_whole(sequence):
    prompt = "é" * 998 + "🎬"  # 1,000 UTF-16 units: the emoji counts as two
    form = shot_form(sequence, {"prompt": prompt, "duration": 5, "first_frame": "none"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["prompt"] == prompt


def test_the_keyframe_and_narration_fields_count_without_cutting(sequence, references):
    keyframe = str(KeyframeForm(images=list(references.images.all()))["prompt"])
    assert "maxlength" not in keyframe
    assert 'data-count-limit="1000"' in keyframe
    narration = str(NarrationForm(instance=sequence)["narration_script"])
    assert "maxlength" not in narration
    assert 'data-count-limit="5000"' in narration
    assert "eleven_multilingual_v2&quot;: 1000" in narration


def test_the_first_shot_says_it_starts_on_r1(sequence):
    labels = dict(shot_form(sequence).fields["first_frame"].choices)
    assert (
        labels["previous"]
        == "R1, the reference image at this shot's place (the first shot has no shot before it)"
    )


def test_a_later_shot_of_a_stitched_sequence_starts_on_the_previous_shot(sequence):
    first = Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, position=0)
    second = Shot.objects.create(sequence=sequence, prompt="Stairs", duration=5, position=1)
    assert (
        dict(shot_form(sequence).fields["first_frame"].choices)["previous"]
        == "Last frame of the previous shot"
    )
    assert dict(shot_form(sequence, instance=second).fields["first_frame"].choices)["previous"] == (
        "Last frame of the previous shot"
    )
    assert dict(shot_form(sequence, instance=first).fields["first_frame"].choices)["previous"].startswith(
        "R1,"
    )
