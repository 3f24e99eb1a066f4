"""Keyframes made from reference images on the command line and in the Python API, against the simulator
over real HTTP with real ffmpeg: `image2video --keyframes-from-references` and the old guide's
`file_paths_list=[[a, b, c], ...]`."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from generation import credits, media
from generation.models import LedgerEntry, Take
from projects.models import Keyframe, Sequence, Shot
from tests.helpers import COLOURS, assert_ledger_exact, mean_difference, photo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runway_with_a_key")]


@pytest.fixture
def images(tmp_path) -> list[Path]:
    paths = []
    for name, colour, index in zip(("Front door", "kitchen", "garden"), COLOURS, range(3), strict=True):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(photo(colour, index))
        paths.append(path)
    return paths


def run(capsys, *args: str) -> str:
    call_command("image2video", "--backend", "runway", "--yes", *args)
    return capsys.readouterr().out


def _is_image(task: dict) -> bool:
    return task.get("request", {}).get("model", "").startswith("gen4_image")


def _first_frame_is(clip: Path, image_take: Take, tmp_path: Path) -> bool:
    first = media.extract_first_frame(clip, tmp_path / f"{clip.stem}-first.png")
    with image_take.output.open("rb") as fh:
        keyframe = Image.open(fh).copy()
    return mean_difference(Image.open(first), keyframe) < 12


def test_each_clip_starts_on_a_keyframe_made_from_the_tagged_images(capsys, boss, runway, images, tmp_path):
    out = run(
        capsys,
        "--keyframes-from-references",
        "--model",
        "gen4_turbo",
        "--duration",
        "2",
        "-i",
        ",".join(str(p) for p in images[:2]),
        "--output-dir",
        str(tmp_path),
        "-p",
        "The hall behind @Front_door",
        "A bright @kitchen",
    )

    # Two images of 1280x720 at 5 credits each, two clips of 2 s at 5 credits a second.
    assert "Estimate: 30 credits: 10 for 2 keyframe image(s) and 20 for 2 clip(s)" in out
    assert (
        'The old guide\'s "up to 3 reference images" now means: clips 1, 2 start on a keyframe image' in out
    )
    assert "Front door.jpg as @Front_door, kitchen.jpg as @kitchen" in out
    assert "Done: Runway charged 30 credits (estimate 30)." in out
    image_tasks = [t for t in runway.tasks() if _is_image(t)]
    assert len(image_tasks) == 2
    for task in image_tasks:
        assert task["request"]["model"] == "gen4_image"
        assert task["request"]["ratio"] == "1280:720"
        assert [r["tag"] for r in task["request"]["referenceImages"]] == ["Front_door", "kitchen"]
    assert sorted(t["request"]["promptText"] for t in image_tasks) == [
        "A bright @kitchen",
        "The hall behind @Front_door",
    ]
    video_prompts = sorted(t["request"]["promptText"] for t in runway.tasks() if not _is_image(t))
    assert video_prompts == ["A bright kitchen", "The hall behind Front_door"]

    sequence = Sequence.objects.get()
    assert sequence.status == Sequence.Status.DONE
    for shot in sequence.shots.order_by("position"):
        assert shot.first_frame == Shot.FirstFrame.KEYFRAME
        keyframe = shot.keyframes.get()
        assert keyframe.chosen_take.status == Take.Status.SUCCEEDED
        clip = tmp_path / f"runway_clip_{shot.position + 1}.mp4"
        assert _first_frame_is(clip, keyframe.chosen_take, tmp_path)
    assert media.probe(tmp_path / "runway_final.mp4").duration == pytest.approx(4, abs=0.3)
    assert_ledger_exact(boss, runway)
    assert credits.month_summary(boss).used == 30


def test_with_stitch_only_the_first_clip_starts_on_a_keyframe(capsys, boss, runway, images, tmp_path):
    out = run(
        capsys,
        "--keyframes-from-references",
        "--stitch",
        "--model",
        "gen4_turbo",
        "--duration",
        "2",
        "-i",
        ",".join(str(p) for p in images),
        "--output-dir",
        str(tmp_path),
        "-p",
        "@garden seen from @kitchen",
        "Walk on",
    )
    assert "Estimate: 25 credits: 5 for 1 keyframe image(s) and 20 for 2 clip(s)" in out
    assert "Done: Runway charged 25 credits (estimate 25)." in out
    (image_task,) = [t for t in runway.tasks() if _is_image(t)]
    assert [r["tag"] for r in image_task["request"]["referenceImages"]] == ["Front_door", "kitchen", "garden"]
    shots = list(Shot.objects.order_by("position"))
    assert [s.first_frame for s in shots] == [Shot.FirstFrame.KEYFRAME, Shot.FirstFrame.PREVIOUS]
    assert_ledger_exact(boss, runway)


def test_a_prompt_citing_an_unknown_tag_is_refused_before_anything_is_spent(
    capsys, boss, runway, images, tmp_path
):
    with pytest.raises(CommandError) as error:
        run(
            capsys,
            "--keyframes-from-references",
            "--model",
            "gen4_turbo",
            "-i",
            ",".join(str(p) for p in images[:2]),
            "--output-dir",
            str(tmp_path),
            "-p",
            "The hall",
            "The @pool at night",
        )
    assert "Clip 2's keyframe: The prompt cites @pool, but no reference image has that tag" in str(
        error.value
    )
    assert "@Front_door, @kitchen" in str(error.value)
    assert not runway.tasks()
    assert not Sequence.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_more_than_three_images_or_none_are_refused(capsys, boss, runway, images, tmp_path):
    extra = tmp_path / "porch.jpg"
    extra.write_bytes(photo((90, 90, 90), 4))
    with pytest.raises(CommandError, match="at most 3 reference images; you gave 4"):
        run(capsys, "--keyframes-from-references", "-i", ",".join(map(str, [*images, extra])), "A hall")
    with pytest.raises(CommandError, match="give them with -i"):
        run(capsys, "--keyframes-from-references", "A hall")
    assert not runway.tasks()


def test_a_keyframe_refused_by_moderation_stops_before_any_video(capsys, boss, runway, images, tmp_path):
    with pytest.raises(CommandError) as error:
        run(
            capsys,
            "--keyframes-from-references",
            "--model",
            "gen4_turbo",
            "--duration",
            "2",
            "-i",
            str(images[0]),
            "--output-dir",
            str(tmp_path),
            "The hall [sim:fail=SAFETY.INPUT.TEXT]",
        )
    assert str(error.value).startswith("Clip 1's keyframe image could not be made: Runway's moderation")
    # Runway keeps the charge of a refused input (SAFETY.INPUT), so the image is paid for.
    charged = sum(t["cost"] for t in runway.tasks())
    assert charged > 0
    assert f"No video was made. Runway charged {charged} credits." in str(error.value)
    assert all(_is_image(t) for t in runway.tasks())
    assert not credits.open_holds().exists()
    assert credits.month_summary(boss).used == charged


def test_the_python_api_makes_keyframes_from_the_guides_three_images(capsys, boss, runway, images, tmp_path):
    from generation.api import generate_video_sequence_with_runway_stitching

    paths = [str(p) for p in images]
    clips = generate_video_sequence_with_runway_stitching(
        prompts=["Entrance hall behind @Front_door", "Pan left into the living room", "Out into the @garden"],
        # Clip 2 is given clip 1's images, so it goes on from clip 1; clip 3 is given new ones: a new room.
        file_paths_list=[paths, paths, [paths[2], paths[1]]],
        width=1280,
        height=720,
        duration_seconds=4,
        model="veo3.1_fast",
        output_dir=tmp_path,
    )
    out = capsys.readouterr().out
    assert [Path(c).name for c in clips] == ["runway_clip_1.mp4", "runway_clip_2.mp4", "runway_clip_3.mp4"]
    assert (
        'Notice: The old guide\'s "up to 3 reference images" now means: clip 1 starts on a keyframe image made '
        "by gen4_image from Front door.jpg as @Front_door, kitchen.jpg as @kitchen, garden.jpg as @garden, "
        "at 5 credits an image (in the estimate)."
    ) in out
    assert (
        "clip 3 starts on a keyframe image made by gen4_image from garden.jpg as @garden, kitchen.jpg as @kitchen"
        in out
    )
    # Two images at 5 credits, three Veo 3.1 Fast clips of 4 s with sound at 15 credits a second.
    assert "Estimate: 190 credits: 10 for 2 keyframe image(s) and 180 for 3 clip(s)" in out

    sequence = Sequence.objects.get()
    assert sequence.status == Sequence.Status.DONE
    shots = list(sequence.shots.order_by("position").select_related("chosen_take"))
    assert [s.first_frame for s in shots] == ["keyframe", "previous", "keyframe"]
    keyframes = {k.shot_id: k for k in Keyframe.objects.select_related("chosen_take")}
    assert _first_frame_is(Path(clips[0]), keyframes[shots[0].pk].chosen_take, tmp_path)
    assert _first_frame_is(Path(clips[2]), keyframes[shots[2].pk].chosen_take, tmp_path)
    assert shots[1].chosen_take.first_frame_from == "previous"
    film = media.probe(tmp_path / "runway_final.mp4")
    assert film.duration == pytest.approx(12, abs=0.5)
    assert_ledger_exact(boss, runway)
    assert credits.month_summary(boss).used == 190


def test_the_python_api_without_extra_images_makes_no_keyframe(capsys, boss, runway, images, tmp_path):
    from generation.api import generate_video_sequence_with_runway_stitching

    clips = generate_video_sequence_with_runway_stitching(
        prompts=["Entrance hall", "Living room"],
        file_paths_list=[[str(images[0]), str(images[1])]] * 2,
        duration_seconds=4,
        model="veo3.1_fast",
        output_dir=tmp_path,
    )
    assert len(clips) == 2
    assert capsys.readouterr().out == ""
    assert not any(_is_image(t) for t in runway.tasks())
    assert not Keyframe.objects.exists()
