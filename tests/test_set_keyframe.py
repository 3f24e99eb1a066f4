"""services.set_keyframe and remove_keyframe: every rule a keyframe made from reference images must
keep, each refused with a message a user can act on and nothing changed."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation import catalog, estimates
from generation.models import Take
from projects import services
from projects.images import add_reference_images
from projects.models import Keyframe, KeyframeReference, ReferenceSet, Sequence, Shot
from tests.helpers import photo

pytestmark = pytest.mark.django_db

Refused = catalog.UnsupportedRequest


@pytest.fixture
def sequence(project, alice, references):
    sequence = Sequence.objects.create(
        project=project, title="Tour", model="gen4_turbo", reference_set=references, created_by=alice
    )
    for position in range(2):
        Shot.objects.create(sequence=sequence, position=position, prompt=f"Shot {position + 1}", duration=5)
    return sequence


@pytest.fixture
def images(references):
    return list(references.images.order_by("position", "pk"))


def first_shot(sequence) -> Shot:
    return sequence.shots.get(position=0)


def set_first(sequence, images, *, model="gen4_image", prompt="@kitchen in the morning", refs=None):
    refs = [(images[0], "kitchen")] if refs is None else refs
    return services.set_keyframe(
        first_shot(sequence), slot="first", model=model, prompt=prompt, references=refs
    )


def unchanged(sequence) -> bool:
    shot = first_shot(sequence)
    return not Keyframe.objects.exists() and shot.first_frame == Shot.FirstFrame.PREVIOUS


# --- what it does ----------------------------------------------------------------------------------


def test_it_makes_the_shot_start_on_an_image_made_from_tagged_references(sequence, images):
    keyframe = set_first(
        sequence,
        images,
        prompt="@kitchen opening onto @garden",
        refs=[(images[0], "kitchen"), (images[1], " garden ")],
    )

    shot = first_shot(sequence)
    assert shot.first_frame == Shot.FirstFrame.KEYFRAME
    assert (keyframe.slot, keyframe.model, keyframe.prompt) == (
        "first",
        "gen4_image",
        "@kitchen opening onto @garden",
    )
    assert [(r.image, r.tag, r.position) for r in keyframe.references.all()] == [
        (images[0], "kitchen", 0),
        (images[1], "garden", 1),
    ]
    # The shot's clip now waits for a chosen image.
    (item,) = [e for e in estimates.estimate_sequence(sequence).shots if e.shot.pk == shot.pk]
    assert item.plan.first == "keyframe"
    assert "Choose a keyframe image" in item.error


def test_a_veo_shot_may_end_on_an_image_made_from_references(sequence, images):
    Sequence.objects.filter(pk=sequence.pk).update(model="veo3.1_fast")
    keyframe = services.set_keyframe(
        first_shot(sequence),
        slot="last",
        model="gen4_image_turbo",
        prompt="@garden at dusk",
        references=[(images[1], "garden")],
    )

    shot = first_shot(sequence)
    assert keyframe.slot == "last"
    assert shot.has_made_last_frame
    assert shot.first_frame == Shot.FirstFrame.PREVIOUS


def test_editing_the_prompt_or_references_clears_the_chosen_image(sequence, images, alice):
    keyframe = set_first(sequence, images)
    take = Take.objects.create(
        shot=first_shot(sequence), keyframe=keyframe, user=alice, status=Take.Status.SUCCEEDED
    )
    Keyframe.objects.filter(pk=keyframe.pk).update(chosen_take=take)

    set_first(sequence, images)  # the same again: nothing changes
    keyframe.refresh_from_db()
    assert keyframe.chosen_take == take

    set_first(sequence, images, prompt="@kitchen at night")
    keyframe.refresh_from_db()
    assert keyframe.chosen_take is None

    Keyframe.objects.filter(pk=keyframe.pk).update(chosen_take=take)
    set_first(sequence, images, prompt="@kitchen at night", refs=[(images[2], "kitchen")])
    keyframe.refresh_from_db()
    assert keyframe.chosen_take is None
    assert [r.image for r in keyframe.references.all()] == [images[2]]


def test_a_shot_with_a_chosen_clip_becomes_stale(sequence, images, alice):
    shot = first_shot(sequence)
    clip = Take.objects.create(shot=shot, user=alice, status=Take.Status.SUCCEEDED)
    Shot.objects.filter(pk=shot.pk).update(chosen_take=clip)

    set_first(sequence, images)

    shot.refresh_from_db()
    assert shot.is_stale


def test_removing_a_keyframe_goes_back_to_the_previous_frame(sequence, images, alice):
    set_first(sequence, images)
    shot = first_shot(sequence)
    clip = Take.objects.create(shot=shot, user=alice, status=Take.Status.SUCCEEDED)
    Shot.objects.filter(pk=shot.pk).update(chosen_take=clip, is_stale=False)

    services.remove_keyframe(shot, slot="first")

    shot.refresh_from_db()
    assert shot.first_frame == Shot.FirstFrame.PREVIOUS
    assert shot.is_stale
    assert not Keyframe.objects.exists()
    assert not KeyframeReference.objects.exists()
    services.remove_keyframe(shot, slot="first")  # again: nothing to remove


# --- what it refuses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("ab", "2 characters long"),
        ("a" * 17, "17 characters long"),
        ("1kitchen", "starts with a letter"),
        ("front-door", "starts with a letter"),
        ("küche", "starts with a letter"),
        ("", "has no tag; give it one, for example 'room0'"),
    ],
)
def test_it_refuses_a_tag_runway_does_not_take(sequence, images, tag, message):
    with pytest.raises(Refused, match=message):
        set_first(sequence, images, prompt="A kitchen", refs=[(images[0], tag)])
    assert unchanged(sequence)


def test_it_refuses_the_same_tag_twice(sequence, images):
    with pytest.raises(Refused, match="used twice"):
        set_first(sequence, images, prompt="@room", refs=[(images[0], "room"), (images[1], "Room")])
    assert unchanged(sequence)


def test_it_refuses_a_prompt_citing_a_tag_no_reference_has(sequence, images):
    with pytest.raises(
        Refused, match="cites @garden, but no reference image has that tag; cite one of @kitchen"
    ):
        set_first(sequence, images, prompt="@kitchen and @garden")
    with pytest.raises(Refused, match="spelt 'kitchen'; write @kitchen"):
        set_first(sequence, images, prompt="@Kitchen")
    assert unchanged(sequence)


def test_it_refuses_more_references_than_the_model_takes(sequence, images, references):
    add_reference_images(references, files=[SimpleUploadedFile("attic.jpg", photo((90, 90, 90), 3))])
    four = list(references.images.order_by("position", "pk"))
    with pytest.raises(Refused, match="gen4_image takes at most 3 reference images; you chose 4. Remove 1."):
        set_first(
            sequence, four, prompt="A house", refs=[(image, f"room{i}") for i, image in enumerate(four)]
        )
    assert unchanged(sequence)


def test_it_refuses_too_few_references_for_the_model(sequence, images):
    with pytest.raises(
        Refused, match="gen4_image_turbo needs at least 1 reference image; add one, or choose gen4_image"
    ):
        set_first(sequence, images, model="gen4_image_turbo", prompt="A house", refs=[])
    assert unchanged(sequence)


def test_gen4_image_may_make_an_image_from_the_prompt_alone(sequence, images):
    keyframe = set_first(sequence, images, prompt="A bright kitchen", refs=[])
    assert not keyframe.references.exists()


def test_it_refuses_an_image_from_another_reference_set(sequence, images, project):
    other = ReferenceSet.objects.create(project=project, name="Other house")
    add_reference_images(other, files=[SimpleUploadedFile("porch.jpg", photo((10, 10, 10), 0))])
    with pytest.raises(Refused, match="not in this sequence's reference set"):
        set_first(sequence, images, prompt="@porch", refs=[(other.images.get(), "porch")])
    assert unchanged(sequence)


def test_it_refuses_the_same_image_twice(sequence, images):
    with pytest.raises(Refused, match="chosen twice"):
        set_first(sequence, images, prompt="@one @two", refs=[(images[0], "one"), (images[0], "two")])
    assert unchanged(sequence)


def test_it_refuses_a_last_frame_on_a_model_that_cannot_end_on_an_image(sequence, images):
    with pytest.raises(Refused, match="gen4_turbo cannot end a clip on an image.*veo3.1 or veo3.1_fast"):
        services.set_keyframe(
            first_shot(sequence),
            slot="last",
            model="gen4_image",
            prompt="@k",
            references=[(images[0], "kit")],
        )
    assert not Keyframe.objects.exists()
    assert not first_shot(sequence).has_made_last_frame


def test_it_refuses_a_video_model_an_empty_prompt_and_an_unknown_slot(sequence, images):
    with pytest.raises(Refused, match="makes video, not images"):
        set_first(sequence, images, model="gen4_turbo")
    with pytest.raises(Refused, match="needs a prompt"):
        set_first(sequence, images, prompt="  ")
    with pytest.raises(Refused, match="first or a last frame"):
        services.set_keyframe(
            first_shot(sequence), slot="middle", model="gen4_image", prompt="x", references=[]
        )
    assert unchanged(sequence)


def test_the_image_is_made_at_the_shape_of_the_clip(sequence, images):
    # Every video ratio has a gen4_image ratio of its shape, so the image fits the clip it starts.
    table = {
        "1280:720": "1280:720",
        "720:1280": "720:1280",
        "1920:1080": "1920:1080",
        "1080:1920": "1080:1920",
        "1104:832": "1168:880",
        "832:1104": "1080:1440",
        "960:960": "1024:1024",
        "1584:672": "1808:768",
    }
    every_video_ratio = {r for m in catalog.MODELS.values() for rs in m.ratios.values() for r in rs}
    assert every_video_ratio <= set(table)
    for video, image in table.items():
        assert estimates.image_ratio_for(video) == image
        assert image in catalog.IMAGE_MODELS["gen4_image"].ratios
    Sequence.objects.filter(pk=sequence.pk).update(ratio="960:960")
    sequence.refresh_from_db()
    keyframe = set_first(sequence, images)
    (item,) = estimates.estimate_keyframes(sequence).keyframes
    assert (item.keyframe, item.built.ratio, item.credits) == (keyframe, "1024:1024", 8)


def test_it_refuses_while_the_sequence_generates(sequence, images):
    Sequence.objects.filter(pk=sequence.pk).update(status=Sequence.Status.RUNNING)
    with pytest.raises(services.SequenceIsGenerating):
        set_first(sequence, images)
    assert unchanged(sequence)


def test_it_refuses_while_an_image_of_the_keyframe_is_being_made(sequence, images, alice):
    keyframe = set_first(sequence, images)
    Take.objects.create(shot=first_shot(sequence), keyframe=keyframe, user=alice, status=Take.Status.RUNNING)

    with pytest.raises(services.SequenceIsGenerating, match="being made"):
        set_first(sequence, images, prompt="@kitchen at night")
    with pytest.raises(services.SequenceIsGenerating, match="being made"):
        services.remove_keyframe(first_shot(sequence), slot="first")
    keyframe.refresh_from_db()
    assert keyframe.prompt == "@kitchen in the morning"
