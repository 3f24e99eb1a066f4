"""Leases that follow their holder (generation/leases.py): renewed by a heartbeat while the work
runs, given up when the block ends, held by one claimant at a time, and a holder that was taken over
writes nothing. In-process, with real threads on their own database connections."""

import datetime as dt
import threading
import time

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from generation import leases, pipeline
from generation import runway as runway_api
from generation.models import LedgerEntry, Take
from projects.models import FilmVersion, Sequence
from tests.helpers import make_sequence, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def assembling(project, alice) -> Sequence:
    return Sequence.objects.create(project=project, title="Tour", created_by=alice, status="assembling")


def lapse(model, pk: int) -> None:
    model.objects.filter(pk=pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))


def test_the_heartbeat_renews_a_lease_past_its_length(settings, assembling):
    settings.PIPELINE_LEASE_SECONDS = 1
    claim = leases.claim(Sequence, assembling.pk, status="assembling")

    with leases.hold(claim) as held:
        time.sleep(2.5)  # the work outlasts two leases
        assert leases.claim(Sequence, assembling.pk, status="assembling") is None
        assembling.refresh_from_db()
        assert assembling.claimed_until > timezone.now()
        assert held.renewals >= 3
        assert not held.lost

    assert (assembling.claim_token, assembling.taken_over_at) == (claim.token, None)


def test_renewal_stops_when_the_block_exits(settings, assembling):
    settings.PIPELINE_LEASE_SECONDS = 1
    claim = leases.claim(Sequence, assembling.pk, status="assembling")
    with leases.hold(claim) as held:
        time.sleep(0.5)
    assert not held._thread.is_alive()
    assembling.refresh_from_db()
    last_lease = assembling.claimed_until

    time.sleep(1.2)

    assembling.refresh_from_db()
    assert assembling.claimed_until == last_lease < timezone.now()
    # Left unreleased, as by a worker that died: the next claim takes it over and says when.
    taker = leases.claim(Sequence, assembling.pk, status="assembling")
    assert taker is not None
    assert taker.token != claim.token
    assembling.refresh_from_db()
    assert assembling.taken_over_at is not None
    assert assembling.takeover_note.startswith(
        "A worker stopped while assembling the film; another took it over at "
    )


def test_a_heartbeat_that_finds_its_claim_taken_stops_and_says_so(settings, assembling):
    settings.PIPELINE_LEASE_SECONDS = 1
    claim = leases.claim(Sequence, assembling.pk, status="assembling")
    with leases.hold(claim) as held:
        Sequence.objects.filter(pk=assembling.pk).update(claim_token="another-worker")
        wait_for(lambda: held.lost, timeout=5, what="the heartbeat to notice")
        assert not held._thread.is_alive()
    assembling.refresh_from_db()
    assert assembling.claim_token == "another-worker"


def test_two_claimants_never_both_hold(assembling):
    lapse(Sequence, assembling.pk)
    Sequence.objects.filter(pk=assembling.pk).update(claim_token="dead-worker")
    start = threading.Barrier(6)
    claims = []

    def claimant() -> None:
        start.wait()
        claims.append(leases.claim(Sequence, assembling.pk, status="assembling"))
        connection.close()

    threads = [threading.Thread(target=claimant) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    held = [c for c in claims if c is not None]
    assert len(held) == 1
    assembling.refresh_from_db()
    assert assembling.claim_token == held[0].token


def test_an_assembly_taken_over_records_no_film(assembling):
    first = leases.claim(Sequence, assembling.pk, status="assembling")
    lapse(Sequence, assembling.pk)
    second = leases.claim(Sequence, assembling.pk, status="assembling")

    late = pipeline._record_film_version(
        assembling.pk, token=first.token, film="films/late.mp4", poster="", duration=2.0
    )
    assert late is None
    assert not FilmVersion.objects.exists()
    version = pipeline._record_film_version(
        assembling.pk, token=second.token, film="films/ours.mp4", poster="", duration=2.0
    )
    assert version.number == 1
    assembling.refresh_from_db()
    assert (assembling.status, assembling.claim_token, assembling.claimed_until) == ("done", "", None)


def test_a_download_taken_over_writes_nothing_and_the_new_holder_settles_once(
    settings, inline_pipeline, project, alice, references, runway
):
    settings.PIPELINE_LEASE_SECONDS = 1
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )
    pipeline.start_sequence(sequence, user=alice)
    take = Take.objects.get(shot__sequence=sequence)
    take.refresh_from_db()
    client = runway_api.client_from_settings()
    wait_for(lambda: client.get_task(take.runway_task_id).status == "SUCCEEDED", what="Runway to finish")
    Take.objects.filter(pk=take.pk).update(status=Take.Status.DOWNLOADING, progress=1, was_running=True)
    runway.fail_next("stall_download", 1, fraction=0.3, hold_seconds=2)

    holder = threading.Thread(target=lambda: (pipeline.finish_take(take.pk), connection.close()))
    holder.start()
    wait_for(lambda: Take.objects.filter(pk=take.pk).exclude(claim_token="").exists(), what="the claim")
    # The download stalls; meanwhile another worker takes the take over (as after a stalled renewal).
    Take.objects.filter(pk=take.pk).update(claim_token="new-holder", claimed_until=leases.lease_until())
    holder.join(timeout=30)

    take.refresh_from_db()
    assert (take.status, take.claim_token, take.output.name) == (Take.Status.DOWNLOADING, "new-holder", "")
    assert not LedgerEntry.objects.filter(take=take, kind="settle").exists()
    assert not default_storage.exists(f"takes/{sequence.pk}/take-{take.pk}.mp4")

    pipeline._finish(take.pk, client, leases.Claim(Take, take.pk, "new-holder"))

    take.refresh_from_db()
    assert take.status == Take.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(take=take, kind="settle").count() == 1


def test_the_page_says_when_a_worker_stopped_and_another_took_over(client, project, alice, assembling):
    from django.urls import reverse

    from projects.models import Shot

    shot = Shot.objects.create(sequence=assembling, prompt="Hall", first_frame="none")
    Take.objects.create(
        shot=shot,
        sequence=assembling,
        user=alice,
        status=Take.Status.DOWNLOADING,
        taken_over_at=timezone.now(),
        estimated_credits=10,
    )
    Sequence.objects.filter(pk=assembling.pk).update(taken_over_at=timezone.now())
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[assembling.pk])).text
    assert "A worker stopped while saving this clip; another took it over at" in page
    assert "A worker stopped while assembling the film; another took it over at" in page
