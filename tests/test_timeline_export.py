"""generation/timeline.py: a film version exported as an OpenTimelineIO timeline (and FCPXML and
CMX 3600 EDL through the adapters) in a zip with its clips, narration and captions; read back by
opentimelineio itself. Clips, film and narration are real files made by ffmpeg."""

import zipfile
from pathlib import Path

import opentimelineio as otio
import pytest
from django.core.files.base import ContentFile

from generation import captions, catalog, media, timeline
from generation.captions import Cue
from generation.models import Take
from generation.simulator.render import render_clip, render_speech
from projects.models import FilmVersion, ReviewComment, Sequence, Shot, film_contents

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(project, alice, tmp_path) -> FilmVersion:
    """Three shots of 2, 1 and 2 s (24 fps), their film, a narration and three comments."""
    sequence = Sequence.objects.create(project=project, title="Harbour", created_by=alice, status="done")
    clips = []
    for position, seconds in enumerate((2, 1, 2)):
        shot = Shot.objects.create(
            sequence=sequence, position=position, prompt=f"Shot {position}", duration=seconds
        )
        path = render_clip(
            out=tmp_path / f"clip{position}.mp4",
            width=320,
            height=180,
            duration=seconds,
            first_image=None,
            last_image=None,
            text=f"{position}",
            with_audio=True,
        )
        clips.append(path)
        take = Take.objects.create(shot=shot, user=alice, status=Take.Status.SUCCEEDED, estimated_credits=1)
        take.output.save(f"clip{position}.mp4", ContentFile(path.read_bytes()))
        Shot.objects.filter(pk=shot.pk).update(chosen_take=take)
    narration = Take.objects.create(
        sequence=sequence,
        user=alice,
        endpoint=catalog.TEXT_TO_SPEECH,
        status=Take.Status.SUCCEEDED,
        request={"promptText": "Hello."},
        estimated_credits=1,
    )
    narration.output.save(
        "voice.mp3", ContentFile(render_speech(out=tmp_path / "v.mp3", duration=3).read_bytes())
    )
    Sequence.objects.filter(pk=sequence.pk).update(narration_take=narration)
    film = tmp_path / "film.mp4"
    media.assemble(clips, film)
    # What the assembly records with a version it makes (pipeline._record_film_version).
    version = FilmVersion.objects.create(
        sequence=sequence, number=1, duration=5.0, narration=narration, contents=film_contents(sequence.pk)
    )
    version.film.save("film.mp4", ContentFile(film.read_bytes()))
    for at, body, internal in (
        (3.5, "Warmer here", False),
        (0.5, "Love the opening", False),
        (1, "note", True),
    ):
        ReviewComment.objects.create(
            version=version, author_name="Dana", body=body, at_seconds=at, is_internal=internal
        )
    return version


def test_the_exported_timeline_reads_back_with_the_clips_in_order_and_the_comments(version, tmp_path):
    names = timeline.export_zip(version, tmp_path / "handoff.zip")
    takes = [row["take"] for row in version.contents["shots"]]
    assert sorted(names) == sorted(
        [
            "timeline.otio",
            "timeline.fcpxml",
            "timeline.edl",
            "README.txt",
            *(f"media/shot-{n:02d}-take-{pk}.mp4" for n, pk in enumerate(takes, start=1)),
            "media/narration.mp3",
        ]
    )
    archive = zipfile.ZipFile(tmp_path / "handoff.zip")
    read = otio.adapters.read_from_string(archive.read("timeline.otio").decode(), "otio_json")
    video, narration = read.tracks
    assert [clip.name for clip in video] == ["Shot 1", "Shot 2", "Shot 3"]
    assert [clip.media_reference.target_url for clip in video] == [
        n for n in names if n.startswith("media/shot")
    ]
    assert [clip.duration().to_frames() for clip in video] == [48, 24, 48]
    film_frames = media.count_video_frames(version.film.path)
    assert read.duration().to_frames() == video.duration().to_frames() == film_frames
    assert video.duration().rate == pytest.approx(media.probe(version.film.path).fps)
    assert narration.kind == otio.schema.TrackKind.Audio
    assert narration[0].duration().to_frames() == 72
    markers = [(m.marked_range.start_time.to_frames(), m.name) for m in video.markers]
    assert markers == [(12, "Dana: Love the opening"), (84, "Dana: Warmer here")]
    # Every file the timeline names is in the zip, as the editor will look for it.
    for clip in [*video, *narration]:
        with archive.open(clip.media_reference.target_url) as member:
            assert member.read(4)


def test_the_adapters_formats_read_back_with_the_same_cut(version, tmp_path):
    timeline.export_zip(version, tmp_path / "handoff.zip")
    archive = zipfile.ZipFile(tmp_path / "handoff.zip")
    edl = otio.adapters.read_from_string(archive.read("timeline.edl").decode(), "cmx_3600", rate=24)
    assert [clip.duration().to_frames() for clip in edl.tracks[0]] == [48, 24, 48]
    fcp = otio.adapters.read_from_string(archive.read("timeline.fcpxml").decode(), "fcpx_xml")
    video = next(t for t in fcp.video_tracks())
    clips = [item for item in video if isinstance(item, otio.schema.Clip)]
    assert [clip.duration().to_frames() for clip in clips] == [48, 24, 48]


def test_saved_captions_go_in_the_zip(version, tmp_path):
    captions.save_captions(version, seen_version=0, cues=[Cue(0, 1.5, "Hello.")])
    names = timeline.export_zip(version, tmp_path / "handoff.zip")
    archive = zipfile.ZipFile(tmp_path / "handoff.zip")
    assert {"captions.vtt", "captions.srt"} <= set(names)
    assert archive.read("captions.vtt").decode().startswith("WEBVTT")


def test_a_version_without_its_takes_recorded_is_refused(version, tmp_path):
    FilmVersion.objects.filter(pk=version.pk).update(contents={})
    version.refresh_from_db()
    with pytest.raises(timeline.TimelineError, match="does not record"):
        timeline.export_zip(version, tmp_path / "handoff.zip")
    assert not Path(tmp_path / "handoff.zip").exists()
