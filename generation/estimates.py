"""The keyframe plan and the estimate: where each shot's frames come from, and what it costs.

One module for the pages (what a user confirms), the command line and the pipeline (what it
holds), so that the amount confirmed is the amount held. Everything here only reads.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from generation import catalog
from generation.models import ModelPrice, Take
from projects.models import Keyframe, ReferenceImage, Sequence, Shot, StoryboardApproval

FIRST = Take.FirstFrame


@dataclass
class ShotPlan:
    """Where a shot's first and last frames come from."""

    first: str  # a Take.FirstFrame
    first_image: ReferenceImage | None = None
    last_image: ReferenceImage | None = None
    # The keyframes made from reference images: the clip starts (ends) on their chosen take's image.
    first_keyframe: Keyframe | None = None
    last_keyframe: Keyframe | None = None

    @property
    def has_last_frame(self) -> bool:
        return self.last_image is not None or self.last_keyframe is not None


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
    shot's position (S1 starts on R1), or to no image when the set has none. "keyframe" means the
    chosen image of the shot's FIRST keyframe (made from reference images); on a model that ends
    on an image, `has_made_last_frame` ends the shot on its LAST keyframe's chosen image.
    """
    plan = _plan_first(sequence, shot, index, references)
    if sequence.video_model.has_last_frame:
        if shot.has_made_last_frame:
            plan.last_keyframe = keyframe_of(shot, Keyframe.Slot.LAST)
        else:
            plan.last_image = shot.last_frame_image
    return plan


def images_used(plans: list[ShotPlan], references: list[ReferenceImage]) -> int:
    """How many of `references` the planned shots start or end on: on a stitched Veo sequence every
    image up to R(n+1). Unsaved stand-ins (a command line's plan) compare by identity."""
    frames = [image for plan in plans for image in (plan.first_image, plan.last_image) if image is not None]
    return sum(1 for reference in references if reference in frames)


def keyframe_of(shot: Shot, slot: str) -> Keyframe | None:
    """The shot's keyframe in `slot`, from the prefetched `keyframes` when there are."""
    if shot.pk is None:
        return None
    return next((k for k in shot.keyframes.all() if k.slot == slot), None)


def _plan_first(sequence: Sequence, shot: Shot, index: int, references: list[ReferenceImage]) -> ShotPlan:
    if shot.first_frame == Shot.FirstFrame.KEYFRAME:
        return ShotPlan(first=FIRST.KEYFRAME, first_keyframe=keyframe_of(shot, Keyframe.Slot.FIRST))
    if shot.first_frame == Shot.FirstFrame.NONE:
        return ShotPlan(first=FIRST.NONE)
    if shot.first_frame == Shot.FirstFrame.REFERENCE and shot.first_frame_image is not None:
        return ShotPlan(first=FIRST.REFERENCE, first_image=shot.first_frame_image)
    if shot.first_frame == Shot.FirstFrame.PREVIOUS and sequence.is_stitched and index > 0:
        return ShotPlan(first=FIRST.PREVIOUS)
    if index < len(references):
        return ShotPlan(first=FIRST.REFERENCE, first_image=references[index])
    if references and shot.first_frame == Shot.FirstFrame.REFERENCE:
        return ShotPlan(first=FIRST.REFERENCE, first_image=references[0])
    return ShotPlan(first=FIRST.NONE)


def references_of(sequence: Sequence) -> list[ReferenceImage]:
    """The sequence's reference images in order (R1, R2, ...)."""
    if sequence.reference_set_id is None:
        return []
    return list(
        ReferenceImage.objects.filter(reference_set_id=sequence.reference_set_id).order_by("position", "pk")
    )


def price_book() -> catalog.PriceBook:
    """The admins' corrections of catalog prices (Django admin, "Model prices"): every estimate
    prices with these, so that what a user confirms, what is held and what a submit checks agree."""
    return ModelPrice.objects.book()


def build_shot_request(
    sequence: Sequence,
    shot: Shot,
    plan: ShotPlan,
    *,
    width: int | None = None,
    height: int | None = None,
    prices: catalog.PriceBook | None = None,
) -> catalog.BuiltRequest:
    """The Runway request (without its images) of a shot as planned; raises
    catalog.UnsupportedRequest. The command line gives a `width` and `height` in place of the
    sequence's ratio, which the catalog translates. Priced with `prices` (else `price_book()`)."""
    return catalog.build_request(
        prices=price_book() if prices is None else prices,
        model=sequence.model,
        prompt_text=shot.prompt,
        duration=shot.duration,
        ratio=sequence.ratio,
        width=width,
        height=height,
        seed=shot.seed,
        has_first_frame=plan.first != FIRST.NONE,
        has_last_frame=plan.has_last_frame,
        audio=sequence.has_audio,
    )


def estimate_sequence(sequence: Sequence, *, references: list | None = None) -> SequenceEstimate:
    """Validate every shot through the catalog and price it. Reads only. `references` are the
    sequence's reference images in order (`references_of`), when the caller has them already."""
    # Of the chosen take only its status matters here (`needs_take`); its request body and texts
    # are the largest columns a page would otherwise read for every shot.
    shots = list(
        sequence.shots.select_related("first_frame_image", "last_frame_image", "chosen_take")
        .defer("chosen_take__request", "chosen_take__notices", "chosen_take__failure_message")
        .prefetch_related("keyframes")
    )
    if references is None:
        references = references_of(sequence)
    prices = price_book()
    estimates = []
    for index, shot in enumerate(shots):
        plan = plan_shot(sequence, shot, index, references)
        estimate = ShotEstimate(shot=shot, plan=plan)
        try:
            built = build_shot_request(sequence, shot, plan, prices=prices)
        except catalog.UnsupportedRequest as exc:
            estimate.error = str(exc)
        else:
            estimate.error = keyframe_problem(sequence, shot, plan)
            estimate.built = built
            estimate.credits = built.estimated_credits
            estimate.notices = list(built.notices)
        estimates.append(estimate)
    return SequenceEstimate(shots=estimates)


def keyframe_problem(sequence: Sequence, shot: Shot, plan: ShotPlan) -> str:
    """Why a shot planned on keyframe images cannot be made yet (empty when it can): a keyframe is
    missing, or none of its images is chosen. Video is paid for only after the images are chosen."""
    wanted = []
    if plan.first == FIRST.KEYFRAME:
        wanted.append(("first", plan.first_keyframe))
    if shot.has_made_last_frame and sequence.video_model.has_last_frame:
        wanted.append(("last", plan.last_keyframe))
    for what, keyframe in wanted:
        if keyframe is None:
            return (
                f"The {what} frame is to be made from reference images, but the shot has no such "
                "keyframe; edit the shot's keyframe."
            )
        if keyframe.chosen_take_id is None:
            return "Choose a keyframe image before generating: make keyframes, then choose one."
    return ""


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
    """What a retake of `shot` holds (`retake_from`): the shot and, in a stitched sequence, the shots
    made from it. Reads only; the retake confirmation and the price on its button show this."""
    return retake_from(estimate_sequence(shot.sequence), shot.pk, active=active_shots(shot.sequence))


def active_shots(sequence: Sequence) -> set[int]:
    """The pks of the sequence's shots with a clip on its way."""
    return set(
        Take.objects.filter(sequence=sequence, status__in=Take.ACTIVE, kind=Take.Kind.CLIP).values_list(
            "shot_id", flat=True
        )
    )


def chain_after(estimate: SequenceEstimate, index: int) -> list[ShotEstimate]:
    """The shots after the one at `index` that start, one from the other, on its last frame: a new
    take of it leaves each of them starting on a frame that is no longer chosen."""
    chain = []
    for item in estimate.shots[index + 1 :]:
        if item.plan is None or item.plan.first != FIRST.PREVIOUS:
            break
        chain.append(item)
    return chain


def retake_from(estimate: SequenceEstimate, shot_pk: int, *, active: set[int]) -> SequenceEstimate:
    """A retake of one shot out of the whole sequence's `estimate`: the shot, and in a stitched
    sequence the shots made from its last frame (`chain_after`, which would go stale) and every later
    shot that has no valid take, so that they are made from the retake's new last frame (after a
    failure had stopped them); none already on its way (`active`)."""
    order = [e.shot.pk for e in estimate.shots]
    index = order.index(shot_pk)
    wanted = [estimate.shots[index]]
    chain = {e.shot.pk for e in chain_after(estimate, index)}
    if estimate.shots[index].shot.sequence.is_stitched:
        wanted += [
            e
            for e in estimate.shots[index + 1 :]
            if (e.shot.pk in chain or needs_take(e.shot)) and e.shot.pk not in active
        ]
    return SequenceEstimate(shots=wanted)


def estimate_stale(sequence: Sequence) -> SequenceEstimate:
    """What "Regenerate stale shots" holds: every stale shot and, in a stitched sequence, the shots
    made from its last frame (`chain_after`), which a new take of it would leave stale in turn; none
    already on its way. One action, so that no film is assembled between the links of a chain.
    Reads only; the confirmation and `pipeline.regenerate_stale_shots` both use it."""
    return stale_from(estimate_sequence(sequence), active=active_shots(sequence))


def stale_from(estimate: SequenceEstimate, *, active: set[int]) -> SequenceEstimate:
    """`estimate_stale` out of the whole sequence's `estimate` (the page has it already)."""
    wanted: dict[int, ShotEstimate] = {}
    for index, item in enumerate(estimate.shots):
        if not item.shot.is_stale:
            continue
        wanted[item.shot.pk] = item
        for follower in chain_after(estimate, index):
            wanted[follower.shot.pk] = follower
    return SequenceEstimate(
        shots=[e for e in estimate.shots if e.shot.pk in wanted and e.shot.pk not in active]
    )


def estimate_shots(sequence: Sequence, shots: list[Shot]) -> SequenceEstimate:
    """The estimate of some of the sequence's shots, each planned in its place in the sequence."""
    wanted = {s.pk for s in shots}
    return SequenceEstimate(shots=[e for e in estimate_sequence(sequence).shots if e.shot.pk in wanted])


# --- keyframe images -----------------------------------------------------------------------------
# A keyframe image is made at the shape of the clip it starts (or ends): the gen4_image ratio
# nearest in shape to the sequence's video ratio, and of those the smallest that covers the clip's
# pixels (so that the image is never enlarged). For the video ratios of the catalog:
#   1280:720 -> 1280:720 (5 credits on gen4_image)     720:1280 -> 720:1280 (5)
#   1920:1080 -> 1920:1080 (8)                          1080:1920 -> 1080:1920 (8)
#   1104:832 -> 1168:880 (8)                            832:1104 -> 1080:1440 (8; no 880:1168)
#   960:960 -> 1024:1024 (8)                            1584:672 -> 1808:768 (8)
# gen4_image_turbo costs 2 credits at any of them.


def image_ratio_for(video_ratio: str) -> str:
    """The gen4_image ratio of a keyframe image for clips of `video_ratio` (see the table above)."""
    try:
        width, height = (int(n) for n in video_ratio.split(":"))
    except ValueError:
        return catalog.DEFAULT_IMAGE_RATIO
    if video_ratio in catalog.GEN4_IMAGE_RATIOS:
        return video_ratio

    def key(ratio: str) -> tuple:
        w, h = (int(n) for n in ratio.split(":"))
        shape = round(abs(math.log((w / h) / (width / height))), 3)
        return (shape, not (w >= width and h >= height), w * h)

    return min(catalog.GEN4_IMAGE_RATIOS, key=key)


@dataclass
class KeyframeEstimate:
    keyframe: Keyframe
    credits: int = 0
    error: str = ""
    built: catalog.BuiltImageRequest | None = None


@dataclass
class KeyframesEstimate:
    keyframes: list[KeyframeEstimate]

    @property
    def total_credits(self) -> int:
        return sum(k.credits for k in self.keyframes)

    @property
    def errors(self) -> list[str]:
        return [f"{describe_keyframe(k.keyframe)}: {k.error}" for k in self.keyframes if k.error]


def describe_keyframe(keyframe: Keyframe) -> str:
    """'Shot 2's first frame', for messages."""
    return f"Shot {keyframe.shot.position + 1}'s {keyframe.slot} frame"


def build_keyframe_request(sequence: Sequence, keyframe: Keyframe) -> catalog.BuiltImageRequest:
    """The Runway text_to_image request (without its image URIs) of a keyframe as it is now, its
    references in order; raises catalog.UnsupportedRequest."""
    references = list(keyframe.references.all())
    return catalog.build_image_request(
        prices=price_book(),
        model=keyframe.model,
        prompt_text=keyframe.prompt,
        ratio=image_ratio_for(sequence.ratio),
        references=[(r.tag, bool(r.image_id)) for r in references],
    )


def check_keyframe_request(sequence: Sequence, *, model: str, prompt: str, tags: list[str]) -> None:
    """Check a keyframe before it is saved, as `build_keyframe_request` will build it; raises
    catalog.UnsupportedRequest."""
    catalog.build_image_request(
        model=model,
        prompt_text=prompt,
        ratio=image_ratio_for(sequence.ratio),
        references=[(tag, True) for tag in tags],
    )


def _estimate_keyframe(sequence: Sequence, keyframe: Keyframe) -> KeyframeEstimate:
    estimate = KeyframeEstimate(keyframe=keyframe)
    try:
        built = build_keyframe_request(sequence, keyframe)
    except catalog.UnsupportedRequest as exc:
        estimate.error = str(exc)
    else:
        estimate.built = built
        estimate.credits = built.estimated_credits
    return estimate


def keyframes_of(sequence: Sequence):
    """The keyframes of the sequence's shots, in shot order, with their references."""
    return (
        Keyframe.objects.filter(shot__sequence=sequence)
        .select_related("shot")
        .prefetch_related("references")
        .order_by("shot__position", "shot__pk", "slot")
    )


def is_keyframe_in_use(sequence: Sequence, keyframe: Keyframe) -> bool:
    """Whether the shot's clip is planned on the keyframe: a shot starting on a keyframe image, or a
    shot of a model that ends on an image ending on one. A keyframe left over from an earlier
    plan is kept (with its images) but not made."""
    shot = keyframe.shot
    if keyframe.slot == Keyframe.Slot.FIRST:
        return shot.first_frame == Shot.FirstFrame.KEYFRAME
    return shot.has_made_last_frame and sequence.video_model.has_last_frame


def estimate_keyframes(sequence: Sequence) -> KeyframesEstimate:
    """What "Make keyframes" makes and holds: one image of every keyframe in use that has no chosen
    image and none on its way. Reads only; the page's confirmation and `pipeline.make_keyframes` both
    use this, so the amount a user confirms is the amount held."""
    busy = set(
        Take.objects.filter(
            sequence=sequence, kind=Take.Kind.KEYFRAME_IMAGE, status__in=Take.ACTIVE
        ).values_list("keyframe_id", flat=True)
    )
    wanted = [
        k
        for k in keyframes_of(sequence)
        if k.chosen_take_id is None and k.pk not in busy and is_keyframe_in_use(sequence, k)
    ]
    return KeyframesEstimate(keyframes=[_estimate_keyframe(sequence, k) for k in wanted])


def estimate_keyframe_retake(keyframe: Keyframe) -> KeyframesEstimate:
    """What another image of one keyframe holds (`pipeline.retake_keyframe`). Reads only."""
    keyframe = keyframes_of(keyframe.shot.sequence).get(pk=keyframe.pk)
    return KeyframesEstimate(keyframes=[_estimate_keyframe(keyframe.shot.sequence, keyframe)])


# --- the plan in words, for the pages -----------------------------------------------------------


@dataclass(frozen=True)
class FrameSource:
    """Where one end of a shot comes from, for display."""

    kind: str  # "reference", "previous", "keyframe", "none", "open"
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

    if plan.first == FIRST.REFERENCE and plan.first_image is not None:
        first = ref(plan.first_image)
    elif plan.first == FIRST.PREVIOUS:
        first = FrameSource("previous", f"last frame of shot {index}")
    elif plan.first == FIRST.KEYFRAME:
        first = FrameSource("keyframe", "an image made from reference images")
    else:
        first = FrameSource("none", "text only")
    if plan.last_keyframe is not None:
        last = FrameSource("keyframe", "an image made from reference images")
    elif plan.last_image is not None:
        last = ref(plan.last_image)
    else:
        last = FrameSource("open", "wherever the model ends")
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


# --- what a client's approval of the storyboard covers -------------------------------------------


def _storyboard_parts(sequence: Sequence, estimate: SequenceEstimate, *, prices: bool) -> list:
    parts: list = [sequence.model, sequence.ratio, sequence.is_stitched, sequence.has_audio]
    for item in estimate.shots:
        plan = item.plan
        row = (
            item.shot.pk,
            item.shot.prompt,
            item.shot.duration,
            plan.first if plan else "",
            plan.first_image.pk if plan and plan.first_image else None,
            plan.last_image.pk if plan and plan.last_image else None,
            plan.first_keyframe.chosen_take_id if plan and plan.first_keyframe else None,
            plan.last_keyframe.chosen_take_id if plan and plan.last_keyframe else None,
        )
        parts.append((*row, item.credits, item.error) if prices else row)
    if prices:
        parts.append(estimate.to_generate().total_credits)
    return parts


def storyboard_digest(sequence: Sequence, estimate: SequenceEstimate) -> str:
    """What a client's approval of the storyboard covers, as a digest: the sequence's model and
    format, each shot in order with its prompt, duration, first and last frames (the reference
    images and chosen keyframe images) and price, and the total Generate would hold now."""
    return hashlib.sha256(repr(_storyboard_parts(sequence, estimate, prices=True)).encode()).hexdigest()


def storyboard_content_digest(sequence: Sequence, estimate: SequenceEstimate) -> str:
    """The storyboard as the client saw it, without its prices: what a retake must still match.
    Once clips are made the estimate of a Generate changes, the shots do not."""
    return hashlib.sha256(repr(_storyboard_parts(sequence, estimate, prices=False)).encode()).hexdigest()


def storyboard_approval(sequence: Sequence, *, estimate: SequenceEstimate | None = None) -> dict:
    """The latest approval of the storyboard and whether it still covers it ("standing"), or why
    not: "none", "changed" (the storyboard changed) or "estimate" (the estimate changed). Also
    "shots_unchanged": whether the shots are still those the client approved, prices aside (what
    a retake needs; an approval recorded without that digest counts only while it stands)."""
    latest = StoryboardApproval.objects.filter(sequence=sequence).first()
    if latest is None:
        return {"approval": None, "state": "none", "estimate_credits": None, "shots_unchanged": False}
    estimate = estimate if estimate is not None else estimate_sequence(sequence)
    now = estimate.to_generate().total_credits
    if latest.storyboard_digest == storyboard_digest(sequence, estimate) and latest.estimate_credits == now:
        state = "standing"
    elif latest.estimate_credits != now:
        state = "estimate"
    else:
        state = "changed"
    if latest.content_digest:
        unchanged = latest.content_digest == storyboard_content_digest(sequence, estimate)
    else:
        unchanged = state == "standing"
    return {"approval": latest, "state": state, "estimate_credits": now, "shots_unchanged": unchanged}
