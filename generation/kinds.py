"""The kinds of take: what differs between a clip, a keyframe image, a narration and a part of a 4K
master. Holding, claiming, submitting, polling, failing, cancelling and recovering are the same for
every take (generation/pipeline.py); a kind says only how its request body is made, how its output
is checked and stored, and whether the sequence's run sends it (clips, one after another when
stitched) or it is sent as soon as it is held. A new kind of Runway work is one `Kind` here, and its
value in `Take.Kind`.

Handlers are named by dotted path and looked up when used, as Django names its backends: the
modules that make each kind's work use the pipeline, and the pipeline reaches them only through
this table, so neither imports the other both ways.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.module_loading import import_string

from generation.models import Take


@dataclass(frozen=True)
class Kind:
    value: str  # a Take.Kind
    # Sent by its sequence's run (`pipeline.advance_sequence`), or as soon as it is held.
    in_run: bool
    # (client, take) -> the request body, without images' bytes.
    request_body: str
    # (take, client, claim) -> None: download, check and store the output, then record the success.
    finish: str
    # () -> [(task, args), ...]: what recovery queues for this kind beyond the takes themselves.
    recover: str = ""

    def build_request(self, client, take: Take) -> dict:
        return import_string(self.request_body)(client, take)

    def store_output(self, take: Take, client, claim) -> None:
        import_string(self.finish)(take, client, claim)

    def recovery_tasks(self) -> list[tuple[str, tuple]]:
        return import_string(self.recover)() if self.recover else []


KINDS: dict[str, Kind] = {
    kind.value: kind
    for kind in (
        Kind(
            Take.Kind.CLIP,
            in_run=True,
            request_body="generation.pipeline.video_request_body",
            finish="generation.pipeline.finish_clip",
        ),
        Kind(
            Take.Kind.KEYFRAME_IMAGE,
            in_run=False,
            request_body="generation.pipeline.image_request_body",
            finish="generation.pipeline.finish_image",
        ),
        Kind(
            Take.Kind.NARRATION,
            in_run=False,
            request_body="generation.finishing.request_body",
            finish="generation.finishing.finish",
        ),
        Kind(
            Take.Kind.MASTER_PART,
            in_run=False,
            request_body="generation.finishing.request_body",
            finish="generation.finishing.finish",
            recover="generation.finishing.recovery_tasks",
        ),
    )
}


def of(take: Take) -> Kind:
    return KINDS[take.kind]
