"""Shared helpers for pipeline tests: sequences over the `references` fixture, and ledger checks."""

import io
import time

from django.db.models import Sum
from PIL import Image, ImageChops, ImageStat

from generation import credits, pipeline
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot

COLOURS = [(200, 60, 40), (40, 160, 90), (50, 80, 200)]


def photo(colour: tuple[int, int, int], index: int) -> bytes:
    image = Image.new("RGB", (640, 360), colour)
    for x in range(0, 640, 80):
        image.paste(
            (255 - colour[0], 255 - colour[1], 255 - colour[2]), (x + index * 10, 0, x + index * 10 + 20, 360)
        )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def make_sequence(project, alice, references, *, model, stitched, duration, shots=3, **extra) -> Sequence:
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model=model,
        ratio="1280:720",
        is_stitched=stitched,
        has_audio=extra.pop("has_audio", True),
        reference_set=references,
        created_by=alice,
    )
    images = list(references.images.all())
    prompts = extra.pop("prompts", None) or [f"Shot number {i + 1}" for i in range(shots)]
    for i, prompt in enumerate(prompts):
        Shot.objects.create(
            sequence=sequence,
            position=i,
            prompt=prompt,
            duration=duration,
            first_frame=Shot.FirstFrame.PREVIOUS if stitched else Shot.FirstFrame.REFERENCE,
            first_frame_image=None if stitched else images[i % len(images)],
            last_frame_image=images[i + 1]
            if stitched and model.startswith("veo") and i + 1 < len(images)
            else None,
        )
    return sequence


def drive(sequence: Sequence, *, timeout: float = 90) -> Sequence:
    """Do what the poller does until the sequence is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        pipeline.recover()
        sequence.refresh_from_db()
        if sequence.status in (Sequence.Status.DONE, Sequence.Status.FAILED, Sequence.Status.CANCELLED):
            return sequence
        time.sleep(0.1)
    raise AssertionError(f"sequence still {sequence.status} after {timeout} s")


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    a, b = a.convert("RGB"), b.convert("RGB").resize(a.size)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def assert_ledger_exact(user, simulator) -> None:
    """Settled = the sum of Runway's task costs; no hold is left open."""
    runway_costs = {t["id"]: t.get("cost") for t in simulator.tasks()}
    takes = Take.objects.filter(user=user, status=Take.Status.SUCCEEDED)
    assert sorted(t.cost_credits for t in takes) == sorted(runway_costs[t.runway_task_id] for t in takes)
    settled = LedgerEntry.objects.filter(user=user, kind="settle").aggregate(s=Sum("credits"))["s"] or 0
    assert settled == sum(t.cost_credits for t in takes)
    assert not credits.open_holds().filter(user=user).exists()


def assert_no_duplicate_submissions(simulator) -> None:
    ids = list(Take.objects.exclude(runway_task_id=None).values_list("runway_task_id", flat=True))
    assert len(simulator.tasks()) == len(ids) == len(set(ids))
