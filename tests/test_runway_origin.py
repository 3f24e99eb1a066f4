"""Many processes, one database: a studio and command lines each follow only their own Runway's work.

Every process here is real: a simulator, a qcluster and a poller (the studio), and command lines
(`manage.py image2video`), some on the studio's simulator and some on simulators of their own, all
sharing this test's database. Before takes knew their Runway, a poller asked its own Runway about
tasks another process's simulator had made and failed them as deleted.
"""

import datetime as dt
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from generation import credits, pipeline
from generation import runway as runway_api
from generation.models import LedgerEntry, Take
from projects.models import Sequence
from tests.helpers import COLOURS, MANAGE, Cluster, cluster_env, final, make_sequence, photo

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT_KEY = "key_" + "0" * 128  # what a process without RUNWAY_API_KEY uses (settings.py)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env(base_env: dict[str, str], *, runway_base: str) -> dict[str, str]:
    """A command line with no Runway key: it uses the studio's simulator if one answers at
    `runway_base`, else starts its own."""
    env = {**base_env, "RUNWAY_API_BASE": runway_base, "RUNWAY_SIMULATOR_FAST": "True"}
    env.pop("RUNWAY_API_KEY", None)
    return env


def image2video(env: dict[str, str], out: Path, *args: str) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "log.txt").open("wb")
    return subprocess.Popen(
        [sys.executable, MANAGE, "image2video", "--backend", "runway", "--output-dir", str(out), *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "room.jpg"
    path.write_bytes(photo(COLOURS[1], 1))
    return path


@pytest.mark.slow
def test_a_studio_and_two_command_lines_finish_side_by_side(
    settings, runway, tmp_path, project, alice, references, boss, image
):
    port = free_port()
    studio_base = f"http://127.0.0.1:{port}"
    env = cluster_env(settings, runway)
    env.update(RUNWAY_API_BASE=studio_base, RUNWAY_SIMULATOR_FAST="True")
    env.pop("RUNWAY_API_KEY")
    simulator = subprocess.Popen(
        [sys.executable, MANAGE, "runway_simulator", "--port", str(port), "--fast", "--render-scale", "0.25"],
        env=env,
        stdout=(tmp_path / "simulator.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    studio = Cluster(env, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:  # wait for the studio's simulator to answer
            try:
                runway_api.RunwayClient(studio_base, DEFAULT_KEY, max_retries=0).organization()
                break
            except runway_api.RunwayError:
                assert time.monotonic() < deadline, "the studio's simulator did not start"
                time.sleep(0.2)
        studio.start("qcluster")
        studio.start("poller")
        settings.PIPELINE_INLINE = False
        settings.RUNWAY_API_BASE, settings.RUNWAY_API_KEY = studio_base, DEFAULT_KEY
        sequence = make_sequence(project, alice, references, model="gen4_turbo", stitched=True, duration=2)
        pipeline.start_sequence(sequence, user=alice)

        clip = ["--model", "gen4_turbo", "--duration", "2", "-i", str(image), "--user", "boss", "--yes"]
        with_studio = image2video(
            cli_env(env, runway_base=studio_base), tmp_path / "a", *clip, "--stitch", "-p", "One", "Two"
        )
        on_its_own = image2video(
            cli_env(env, runway_base=f"http://127.0.0.1:{free_port()}"), tmp_path / "b", *clip, "Alone"
        )
        assert with_studio.wait(timeout=180) == 0, (tmp_path / "a" / "log.txt").read_text()
        assert on_its_own.wait(timeout=180) == 0, (tmp_path / "b" / "log.txt").read_text()
        assert final(sequence, timeout=120).status == Sequence.Status.DONE, sequence.status_message
    finally:
        studio.stop_all()
        simulator.terminate()
        simulator.wait(timeout=10)

    assert (tmp_path / "a" / "runway_final.mp4").stat().st_size > 1000
    assert (tmp_path / "b" / "runway_clip_1.mp4").stat().st_size > 1000
    assert set(Take.objects.values_list("status", flat=True)) == {Take.Status.SUCCEEDED}
    origins = dict(Take.objects.values_list("shot__sequence__title", "runway_origin").distinct())
    assert origins["Tour"] == runway_api.origin_of(studio_base, DEFAULT_KEY)
    # The job on its own simulator made its take with a key of its own.
    assert len(set(Take.objects.values_list("runway_origin", flat=True))) == 2
    assert not credits.open_holds().exists()
    assert credits.recompute_figures() == []


@pytest.mark.slow
def test_command_lines_racing_for_one_budget_get_exactly_what_fits(settings, runway, tmp_path, boss, image):
    credits.set_monthly_limit(boss, credits=30)  # room for three 10-credit clips
    env = cli_env(cluster_env(settings, runway), runway_base=f"http://127.0.0.1:{free_port()}")
    args = ["--model", "gen4_turbo", "--duration", "2", "-i", str(image), "--user", "boss", "--yes", "Zoom"]
    jobs = [image2video(env, tmp_path / f"job{i}", *args) for i in range(12)]
    codes = [job.wait(timeout=300) for job in jobs]
    logs = [(tmp_path / f"job{i}" / "log.txt").read_text() for i in range(12)]

    succeeded = [log for code, log in zip(codes, logs, strict=True) if code == 0]
    refused = [log for code, log in zip(codes, logs, strict=True) if code != 0]
    assert len(succeeded) == 3, logs
    assert all("Done: Runway charged 10 credits (estimate 10)." in log for log in succeeded), succeeded
    assert len(refused) == 9
    assert all("This needs 10 credits but only" in log for log in refused), refused
    assert Take.objects.filter(status=Take.Status.SUCCEEDED).count() == 3
    assert Take.objects.count() == 3  # refused jobs hold nothing and send nothing
    assert Sequence.objects.count() == 3  # and leave no draft behind
    assert list(LedgerEntry.objects.filter(kind="settle").values_list("credits", flat=True)) == [10, 10, 10]
    assert credits.month_summary(boss).available == 0
    assert credits.recompute_figures() == []


def test_a_poller_leaves_another_runways_takes_alone(settings, runway, project, alice, references):
    settings.PIPELINE_INLINE = True
    runway.configure(pending_seconds=60)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=True, duration=2, shots=1
    )
    pipeline.start_sequence(sequence, user=alice)
    take = Take.objects.get()
    assert take.runway_origin == runway_api.origin_of(runway.base_url, runway.api_key)
    Take.objects.filter(pk=take.pk).update(next_poll_at=timezone.now())

    other = runway_api.RunwayClient("http://127.0.0.1:9", DEFAULT_KEY, max_retries=0)
    assert pipeline.poll_once(client=other) == 0  # not its take: Runway is not even asked

    # A worker of this take's Runway died after Runway answered: only that Runway's recovery acts.
    Take.objects.filter(pk=take.pk).update(
        status=Take.Status.SUBMITTING, claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )
    settings.RUNWAY_API_BASE, settings.RUNWAY_API_KEY = "http://127.0.0.1:9", DEFAULT_KEY
    pipeline.recover()
    take.refresh_from_db()
    assert take.status == Take.Status.SUBMITTING

    settings.RUNWAY_API_BASE, settings.RUNWAY_API_KEY = runway.base_url, runway.api_key
    pipeline.recover()
    take.refresh_from_db()
    assert take.status == Take.Status.PENDING


def test_fetching_again_is_refused_on_another_runway(settings, project, alice, references):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=True, duration=2, shots=1
    )
    take = Take.objects.create(
        shot=sequence.shots.get(),
        user=alice,
        status="failed",
        failure_code="DOWNLOAD",
        runway_task_id="5d1c0f7e-1f43-4a3f-8f0e-2d9b7f6a1c00",
        runway_origin=runway_api.origin_of("http://127.0.0.1:9", DEFAULT_KEY),
    )
    with pytest.raises(pipeline.PipelineError, match=r"another Runway \(http://127\.0\.0\.1:9\)"):
        pipeline.fetch_take_again(take)


def test_origins_never_contain_the_key():
    key = "key_" + "ab" * 64
    origin = runway_api.origin_of("https://api.dev.runwayml.com/", key)
    assert origin.startswith("https://api.dev.runwayml.com#")
    assert "ab" * 8 not in origin
    assert runway_api.origin_base(origin) == "https://api.dev.runwayml.com"


def test_the_page_says_when_another_runway_drives_a_sequence(client, settings, runway, project, alice):
    sequence = Sequence.objects.create(
        project=project,
        title="From the command line",
        created_by=alice,
        status="running",
        runway_origin=runway_api.origin_of("http://127.0.0.1:9", "key_" + "1" * 128),
    )
    client.force_login(alice)
    response = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert "started from a command line on another Runway (http://127.0.0.1:9)" in response.text

    Sequence.objects.filter(pk=sequence.pk).update(
        runway_origin=runway_api.origin_of(runway.base_url, runway.api_key)
    )
    response = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert "another Runway" not in response.text
