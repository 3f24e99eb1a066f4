"""The keyframe plan and the estimate: where each shot's frames come from, and what it costs.

One module for the pages (what a user confirms), the command line and the pipeline (what it
holds), so that the amount confirmed is the amount held. Everything here only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from generation import catalog
from generation.models import Take
from projects.models import ReferenceImage, Sequence, Shot


@dataclass
class ShotPlan:
    """Where a shot's first and last frames come from."""

    first: str  # "previous", "reference" or "none"
    first_image: ReferenceImage | None = None
    last_image: ReferenceImage | None = None


@dataclass
class ShotEstimate:
    shot: Shot
    credits: int = 0
    notices: list[str] = field(default_factory=list)
    error: str = ""
    built: catalog.BuiltRequest | None = None
    plan: ShotPlan | None = None


@dataclass
class SequenceEstimate:
    shots: list[ShotEstimate]

    @property
    def total_credits(self) -> int:
        return sum(s.credits for s in self.shots)

    @property
    def errors(self) -> list[str]:
        return [f"Shot {i + 1}: {s.error}" for i, s in enumerate(self.shots) if s.error]

    def to_generate(self) -> SequenceEstimate:
        """The part "Generate" makes and holds: the shots that `needs_take`."""
        return SequenceEstimate(shots=[e for e in self.shots if needs_take(e.shot)])


def plan_shot(sequence: Sequence, shot: Shot, index: int, references: list[ReferenceImage]) -> ShotPlan:
    """Resolve a shot's keyframes (DESIGN.md section 4).

    "previous" on a stitched sequence means the last frame of the previous shot's chosen take;
    on the first shot, or on an unstitched sequence, it falls back to the reference image at the
    shot's position (S1 starts on R1), or to no image when the set has none.
    """
    last = shot.last_frame_image if sequence.video_model.has_last_frame else None
    if shot.first_frame == Shot.FirstFrame.NONE:
        return ShotPlan(first="none", last_image=last)
    if shot.first_frame == Shot.FirstFrame.REFERENCE and shot.first_frame_image is not None:
        return ShotPlan(first="reference", first_image=shot.first_frame_image, last_image=last)
    if shot.first_frame == Shot.FirstFrame.PREVIOUS and sequence.is_stitched and index > 0:
        return ShotPlan(first="previous", last_image=last)
    if index < len(references):
        return ShotPlan(first="reference", first_image=references[index], last_image=last)
    if references and shot.first_frame == Shot.FirstFrame.REFERENCE:
        return ShotPlan(first="reference", first_image=references[0], last_image=last)
    return ShotPlan(first="none", last_image=last)


def references_of(sequence: Sequence) -> list[ReferenceImage]:
    """The sequence's reference images in order (R1, R2, ...)."""
    if sequence.reference_set_id is None:
        return []
    return list(
        ReferenceImage.objects.filter(reference_set_id=sequence.reference_set_id).order_by("position", "pk")
    )


def build_shot_request(
    sequence: Sequence, shot: Shot, plan: ShotPlan, *, width: int | None = None, height: int | None = None
) -> catalog.BuiltRequest:
    """The Runway request (without its images) of a shot as planned; raises
    catalog.UnsupportedRequest. The command line gives a `width` and `height` in place of the
    sequence's ratio, which the catalog translates."""
    return catalog.build_request(
        model=sequence.model,
        prompt_text=shot.prompt,
        duration=shot.duration,
        ratio=sequence.ratio,
        width=width,
        height=height,
        seed=shot.seed,
        has_first_frame=plan.first != "none",
        has_last_frame=plan.last_image is not None,
        audio=sequence.has_audio,
    )


def estimate_sequence(sequence: Sequence, *, references: list | None = None) -> SequenceEstimate:
    """Validate every shot through the catalog and price it. Reads only. `references` are the
    sequence's reference images in order (`references_of`), when the caller has them already."""
    # Of the chosen take only its status matters here (`needs_take`); its request body and texts
    # are the largest columns a page would otherwise read for every shot.
    shots = list(
        sequence.shots.select_related("first_frame_image", "last_frame_image", "chosen_take").defer(
            "chosen_take__request", "chosen_take__notices", "chosen_take__failure_message"
        )
    )
    if references is None:
        references = references_of(sequence)
    estimates = []
    for index, shot in enumerate(shots):
        plan = plan_shot(sequence, shot, index, references)
        estimate = ShotEstimate(shot=shot, plan=plan)
        try:
            built = build_shot_request(sequence, shot, plan)
        except catalog.UnsupportedRequest as exc:
            estimate.error = str(exc)
        else:
            estimate.built = built
            estimate.credits = built.estimated_credits
            estimate.notices = list(built.notices)
        estimates.append(estimate)
    return SequenceEstimate(shots=estimates)


def needs_take(shot: Shot) -> bool:
    """Whether a run must make this shot: it has no chosen, finished take that is still valid
    (a stale take started on a frame that is no longer chosen)."""
    take = shot.chosen_take
    return take is None or take.status != Take.Status.SUCCEEDED or shot.is_stale


def estimate_generation(sequence: Sequence) -> SequenceEstimate:
    """What "Generate" holds: the estimate of the shots that `needs_take`; the others keep their
    chosen takes and cost nothing. Reads only.

    The page's confirmation and `pipeline.start_sequence` both use this, so the amount a user
    confirms is the amount held. Empty when every shot has a valid take: generating then only
    assembles.
    """
    return estimate_sequence(sequence).to_generate()


def estimate_retake(shot: Shot) -> SequenceEstimate:
    """What a retake of `shot` holds: the shot, and in a stitched sequence every later shot that
    has no valid take and none on its way, so that they are made from the retake's new last
    frame (after a failure had stopped them). Reads only; the retake confirmation shows this."""
    sequence = shot.sequence
    active = set(
        Take.objects.filter(shot__sequence=sequence, status__in=Take.ACTIVE).values_list("shot_id", flat=True)
    )
    estimate = estimate_sequence(sequence)
    order = [e.shot.pk for e in estimate.shots]
    index = order.index(shot.pk)
    wanted = [estimate.shots[index]]
    if sequence.is_stitched:
        wanted += [e for e in estimate.shots[index + 1 :] if needs_take(e.shot) and e.shot.pk not in active]
    return SequenceEstimate(shots=wanted)


def estimate_shots(sequence: Sequence, shots: list[Shot]) -> SequenceEstimate:
    """The estimate of some of the sequence's shots, each planned in its place in the sequence."""
    wanted = {s.pk for s in shots}
    return SequenceEstimate(shots=[e for e in estimate_sequence(sequence).shots if e.shot.pk in wanted])


# --- the plan in words, for the pages -----------------------------------------------------------


@dataclass(frozen=True)
class FrameSource:
    """Where one end of a shot comes from, for display."""

    kind: str  # "reference", "previous", "none", "open"
    label: str
    image: ReferenceImage | None = None


UNKNOWN_FRAMES = (FrameSource("none", "unknown"), FrameSource("open", "unknown"))


def describe_plan(
    plan: ShotPlan, *, index: int, references: list[ReferenceImage]
) -> tuple[FrameSource, FrameSource]:
    """The first and last frame of the shot at `index` in words (R1, R2, ... for the sequence's
    reference images) and with their images."""
    numbers = {image.pk: n for n, image in enumerate(references, start=1)}

    def ref(image: ReferenceImage) -> FrameSource:
        number = numbers.get(image.pk)
        return FrameSource("reference", f"R{number}" if number else str(image), image)

    if plan.first == "reference" and plan.first_image is not None:
        first = ref(plan.first_image)
    elif plan.first == "previous":
        first = FrameSource("previous", f"last frame of shot {index}")
    else:
        first = FrameSource("none", "text only")
    last = (
        ref(plan.last_image)
        if plan.last_image is not None
        else FrameSource("open", "wherever the model ends")
    )
    return first, last


def frame_sources(
    sequence: Sequence,
    *,
    estimate: SequenceEstimate | None = None,
    references: list[ReferenceImage] | None = None,
) -> dict[int, tuple[FrameSource, FrameSource]]:
    """For each shot (by pk), where its first and last frames come from, with the reference image.

    Pass the `estimate` and `references` a page already has to avoid reading them again.
    """
    if estimate is None:
        estimate = estimate_sequence(sequence)
    if references is None:
        references = references_of(sequence)
    return {
        item.shot.pk: describe_plan(item.plan, index=index, references=references)
        for index, item in enumerate(estimate.shots)
    }
