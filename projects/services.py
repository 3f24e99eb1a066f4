"""The studio's rules that change more than one row or need a lock: projects and their members,
the order of reference images and shots, changing a sequence, and share links.

Views parse a request, call one function here and render; everything here is called with
keyword arguments after the first, raises an exception whose message a user can act on, and owns
its transaction.

Changing a sequence (its settings and its shots) is allowed only while nothing generates it. The
rule is checked on the sequence row locked (SELECT ... FOR UPDATE; on SQLite the IMMEDIATE
transaction takes the write lock), in the transaction that makes the change.
`pipeline.start_sequence` claims the sequence with an UPDATE of that same row, so a change and a
start are serialised: a change either lands before the start, which then estimates and holds for
the shots as changed, or sees the sequence generating and is refused. Checked outside the lock, a
delete could remove a shot, and with it a take, that a start had just queued and holds credits for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models, transaction
from django.db.models import F, Max

from generation import audit, catalog, credits, estimates
from generation.models import Take
from projects.models import (
    Keyframe,
    KeyframeReference,
    Membership,
    Project,
    ReferenceImage,
    ReferenceSet,
    Sequence,
    ShareLink,
    Shot,
)

Role = Membership.Role


class LastOwner(Exception):
    """The change would leave a project without an owner."""

    def __init__(self) -> None:
        super().__init__("A project needs at least one owner: make someone else an owner first.")


class SequenceIsGenerating(Exception):
    """The sequence cannot change now; the message says what to do instead."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "This sequence is generating. Wait for it to finish, or cancel it, before editing."
        )


class EditConflict(Exception):
    """Someone saved the row since the user opened their form (its edit version moved on): nothing
    was saved. `current` is the row as it is now (None: it was deleted), `version` the version a
    form must carry to apply the user's change over it."""

    def __init__(self, current: models.Model | None, *, version: int) -> None:
        super().__init__(
            "Someone else saved this while you were editing it, so nothing of yours was saved. "
            "Check their change below; your text is kept in the form: save again to apply it over theirs."
        )
        self.current = current
        self.version = version


class NotShareable(Exception):
    """The sequence has no finished film to share yet."""

    def __init__(self) -> None:
        super().__init__("A share link can be made once the film is finished.")


# --- projects and members ------------------------------------------------------------------------


def create_project(*, name: str, owner, description: str = "") -> Project:
    """Create a project with `owner` as its first owner, both rows or neither."""
    with transaction.atomic():
        project = Project.objects.create(name=name, description=description, created_by=owner)
        Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


def add_member(project: Project, *, user, role: str, by=None) -> Membership:
    """Add `user` to the project; the caller has checked that they are not a member yet. In the
    audit log as done by `by`."""
    with transaction.atomic():
        membership = Membership.objects.create(project=project, user=user, role=role)
        audit.record(
            actor=by,
            action=audit.AuditEntry.Action.MEMBER_ADDED,
            obj=membership,
            description=f"{user.get_username()} in {project.name!r}: none -> {role}",
        )
    return membership


def _lock_owners(project_id: int) -> list[Membership]:
    """The project's owners, locked until the transaction ends, so that two owners demoting or
    removing each other at once cannot both succeed."""
    return list(Membership.objects.select_for_update().filter(project_id=project_id, role=Role.OWNER))


def change_role(membership: Membership, *, role: str, by=None) -> None:
    """Give a member another role. Raises LastOwner, changing nothing, when the project's only
    owner would stop being one. Setting the role a member has changes nothing. In the audit log as
    done by `by`."""
    with transaction.atomic():
        owners = _lock_owners(membership.project_id)
        if role != Role.OWNER and [o.pk for o in owners] == [membership.pk]:
            raise LastOwner()
        before = Membership.objects.filter(pk=membership.pk).values_list("role", flat=True).first()
        if Membership.objects.filter(pk=membership.pk).exclude(role=role).update(role=role):
            audit.record(
                actor=by,
                action=audit.AuditEntry.Action.MEMBER_ROLE,
                obj=membership,
                description=f"{membership.user.get_username()} in {membership.project.name!r}: "
                f"{before} -> {role}",
            )
    membership.role = role


def remove_member(membership: Membership, *, by=None) -> None:
    """Remove a member from the project. Raises LastOwner, removing nothing, for its only owner.
    In the audit log as done by `by`."""
    with transaction.atomic():
        owners = _lock_owners(membership.project_id)
        if [o.pk for o in owners] == [membership.pk]:
            raise LastOwner()
        before = Membership.objects.filter(pk=membership.pk).values_list("role", flat=True).first()
        if Membership.objects.filter(pk=membership.pk).delete()[0]:
            audit.record(
                actor=by,
                action=audit.AuditEntry.Action.MEMBER_REMOVED,
                obj=membership,
                description=f"{membership.user.get_username()} in {membership.project.name!r}: "
                f"{before} -> none",
            )


# --- order ---------------------------------------------------------------------------------------


def _move(siblings: models.QuerySet, obj: models.Model, *, direction: str) -> bool:
    """Swap `obj` with its neighbour in `siblings` ("up" is earlier), renumbering positions 0..n-1
    on the way. The siblings are locked, so two moves at once cannot give two rows one position.
    Returns False, changing nothing, when there is no neighbour that way. Call in a transaction."""
    items = list(siblings.select_for_update())
    index = next((i for i, item in enumerate(items) if item.pk == obj.pk), None)
    if index is None:
        return False
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(items):
        return False
    items[index], items[target] = items[target], items[index]
    for position, item in enumerate(items):
        item.position = position
    type(obj).objects.bulk_update(items, ["position"])
    return True


def move_reference_image(image: ReferenceImage, *, direction: str) -> bool:
    """Move an image one place earlier ("up") or later ("down") in its set; False at either end."""
    with transaction.atomic():
        return _move(image.reference_set.images.order_by("position", "pk"), image, direction=direction)


# --- a sequence and its shots --------------------------------------------------------------------


@contextmanager
def _editable(sequence_id: int) -> Iterator[Sequence]:
    """The sequence, locked until the block's changes commit; SequenceIsGenerating if it is busy."""
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().get(pk=sequence_id)
        if sequence.is_generating:
            raise SequenceIsGenerating()
        yield sequence


# Changing any of these makes the finished takes no longer what the sequence or shot asks for.
_SEQUENCE_FIELDS_OF_TAKES = {"model", "ratio", "is_stitched", "has_audio", "reference_set", "image_fit"}


def _changed(row: models.Model, values: dict) -> set[str]:
    """The names in `values` whose value differs from `row`'s (a related row compared by pk)."""
    changed = set()
    for name, value in values.items():
        field = row._meta.get_field(name)
        now = getattr(row, field.attname)
        if (value.pk if isinstance(value, models.Model) else value) != now:
            changed.add(name)
    return changed


def _save_edit(row: models.Model, *, seen_version: int, version_attr: str, values: dict, **extra) -> set[str]:
    """Write the user's `values` (and `extra`, which the edit implies) to `row` with a compare-and-set
    on its version: only if the version is still `seen_version`, bumping it. Raises EditConflict,
    writing nothing, when someone saved since. Only the fields in `values` and `extra` are written,
    so whatever else changed meanwhile (the pipeline's status, film and progress) stays. Returns the
    names of the changed fields; a save that changes nothing writes nothing."""
    model = type(row)
    if getattr(row, version_attr) != seen_version:
        raise EditConflict(row, version=getattr(row, version_attr))
    changed = _changed(row, values)
    if not changed:
        return changed
    written = model.objects.filter(pk=row.pk, **{version_attr: seen_version}).update(
        **values, **extra, **{version_attr: F(version_attr) + 1}
    )
    if not written:
        current = model.objects.filter(pk=row.pk).first()
        raise EditConflict(current, version=getattr(current, version_attr, 0))
    for name, value in {**values, **extra}.items():
        setattr(row, name, value)
    setattr(row, version_attr, seen_version + 1)
    return changed


def save_sequence(
    sequence: Sequence,
    *,
    seen_version: int,
    title: str,
    model: str,
    ratio: str,
    is_stitched: bool,
    has_audio: bool,
    reference_set: ReferenceSet | None,
    image_fit: str,
) -> Sequence:
    """Change a sequence's settings, if they are still at `seen_version` (the version the user's
    form was made from). Raises EditConflict or SequenceIsGenerating, saving nothing. Writes only
    the settings: the pipeline's fields and the narration are left as they are. A change to what
    the clips are made of (model, ratio, sound, stitching, references, fit) marks every shot with a
    chosen take stale, so that "Generate again" remakes it."""
    values = {
        "title": title,
        "model": model,
        "ratio": ratio,
        "is_stitched": is_stitched,
        "has_audio": has_audio,
        "reference_set": reference_set,
        "image_fit": image_fit,
    }
    with _editable(sequence.pk) as locked:
        changed = _save_edit(locked, seen_version=seen_version, version_attr="edit_version", values=values)
        if not catalog.MODELS[model].has_audio:
            # A silent model's clips are the same whatever the sound setting said.
            changed.discard("has_audio")
        if _SEQUENCE_FIELDS_OF_TAKES & changed:
            locked.shots.exclude(chosen_take=None).update(is_stale=True)
        return locked


def save_narration(
    sequence: Sequence,
    *,
    seen_version: int,
    narration_script: str,
    narration_voice: str,
    narration_model: str,
    narration_speed: float | None,
) -> Sequence:
    """Change a sequence's narration settings (script, voice, model, speed), if they are still at
    `seen_version`. Raises EditConflict, saving nothing. Allowed while the film is made or
    assembled: only the narration's fields are written, and the pipeline never writes those (nor
    their version), so the pipeline's fields stay as it left them and it is no conflict."""
    values = {
        "narration_script": narration_script,
        "narration_voice": narration_voice,
        "narration_model": narration_model,
        "narration_speed": narration_speed,
    }
    with transaction.atomic():
        locked = Sequence.objects.select_for_update().get(pk=sequence.pk)
        _save_edit(locked, seen_version=seen_version, version_attr="narration_version", values=values)
        return locked


def add_shot(
    sequence: Sequence,
    *,
    prompt: str,
    duration: int,
    seed: int | None,
    first_frame: str,
    first_frame_image: ReferenceImage | None,
    last_frame_image: ReferenceImage | None,
) -> Shot:
    """Add a shot as the last of the sequence. Raises SequenceIsGenerating, saving nothing. The
    position is read under the sequence's lock, so two shots added at once get two positions."""
    with _editable(sequence.pk):
        last = Shot.objects.filter(sequence=sequence).aggregate(last=Max("position"))["last"]
        return Shot.objects.create(
            sequence=sequence,
            position=0 if last is None else last + 1,
            prompt=prompt,
            duration=duration,
            seed=seed,
            first_frame=first_frame,
            first_frame_image=first_frame_image,
            last_frame_image=last_frame_image,
        )


def save_shot(
    shot: Shot,
    *,
    seen_version: int,
    prompt: str,
    duration: int,
    seed: int | None,
    first_frame: str,
    first_frame_image: ReferenceImage | None,
    last_frame_image: ReferenceImage | None,
) -> Shot:
    """Change a shot, if it is still at `seen_version` (the version the user's form was made from).
    Raises EditConflict (also when the shot was deleted) or SequenceIsGenerating, saving nothing.
    Writes only what the shot's form changes. A changed prompt, duration, seed or frame marks a
    shot that has a chosen take stale: the take no longer matches it, and "Generate again" remakes
    it. The shot is changed under its sequence's lock, as every change of a sequence's shots is."""
    values = {
        "prompt": prompt,
        "duration": duration,
        "seed": seed,
        "first_frame": first_frame,
        "first_frame_image": first_frame_image,
        "last_frame_image": last_frame_image,
    }
    with _editable(shot.sequence_id):
        locked = Shot.objects.select_for_update().filter(pk=shot.pk).first()
        if locked is None:
            raise EditConflict(None, version=0)
        extra = {"is_stale": True} if locked.chosen_take_id is not None and _changed(locked, values) else {}
        _save_edit(locked, seen_version=seen_version, version_attr="edit_version", values=values, **extra)
        return locked


def move_shot(shot: Shot, *, direction: str) -> bool:
    """Move a shot one place earlier ("up") or later ("down"); False at either end. Raises
    SequenceIsGenerating, moving nothing. Finished shots whose keyframes now come from elsewhere
    (another previous shot, the reference image at their new place) become stale."""
    with _editable(shot.sequence_id) as sequence:
        before = _frame_origins(sequence)
        moved = _move(
            Shot.objects.filter(sequence_id=shot.sequence_id).order_by("position", "pk"),
            shot,
            direction=direction,
        )
        if moved:
            after = _frame_origins(sequence)
            changed = [pk for pk, origin in after.items() if origin != before[pk]]
            Shot.objects.filter(pk__in=changed).exclude(chosen_take=None).update(is_stale=True)
        return moved


class OrderChanged(Exception):
    """The shots are no longer in the order the user saw when they moved one: someone else moved,
    added or deleted a shot meanwhile. Nothing was moved."""

    def __init__(self, *, seen: list[int], current: list[int]) -> None:
        super().__init__("Someone else changed the order of the shots while you were moving one.")
        self.seen = seen
        self.current = current


def place_shot(shot: Shot, *, position: int, seen_order: list[int] | None = None) -> bool:
    """Move a shot to `position` (0 is first; past the end is last), the others keeping their order;
    False when it is there already. Under the sequence's lock, like every change of its shots.

    `seen_order` is the order of shot pks the user moved it in (the page they dragged on): when the
    shots are no longer in that order, raises OrderChanged, moving nothing, so that a drop never
    lands somewhere the user did not see. Raises SequenceIsGenerating, moving nothing. Finished
    shots whose keyframes now come from elsewhere become stale, as with `move_shot`. Running it
    twice changes nothing the second time."""
    with _editable(shot.sequence_id) as sequence:
        items = list(
            Shot.objects.filter(sequence_id=shot.sequence_id).order_by("position", "pk").select_for_update()
        )
        current = [item.pk for item in items]
        if seen_order is not None and seen_order != current:
            raise OrderChanged(seen=seen_order, current=current)
        if shot.pk not in current:
            raise OrderChanged(seen=seen_order or [], current=current)
        index = current.index(shot.pk)
        target = max(0, min(position, len(items) - 1))
        if target == index and all(item.position == n for n, item in enumerate(items)):
            return False
        before = _frame_origins(sequence)
        items.insert(target, items.pop(index))
        for number, item in enumerate(items):
            item.position = number
        Shot.objects.bulk_update(items, ["position"])
        after = _frame_origins(sequence)
        changed = [pk for pk, origin in after.items() if origin != before[pk]]
        Shot.objects.filter(pk__in=changed).exclude(chosen_take=None).update(is_stale=True)
        return target != index


def _frame_origins(sequence: Sequence) -> dict[int, tuple]:
    """Where each shot's first and last frames come from, by shot: the keyframe plan, with the
    shot it follows when it starts on the previous shot's last frame."""
    shots = list(sequence.shots.select_related("first_frame_image", "last_frame_image"))
    references = estimates.references_of(sequence)
    origins = {}
    for index, item in enumerate(shots):
        plan = estimates.plan_shot(sequence, item, index, references)
        first = shots[index - 1].pk if plan.first == "previous" else getattr(plan.first_image, "pk", None)
        origins[item.pk] = (plan.first, first, getattr(plan.last_image, "pk", None))
    return origins


def delete_shot(shot: Shot) -> None:
    """Delete the shot with its takes and their clips.

    Raises SequenceIsGenerating, deleting nothing, while the sequence generates or while one of the
    shot's takes still holds credits (a cancelled take that is still being sent to Runway, or one
    waiting for an admin to confirm what Runway did): its hold must be closed by the take first.
    """
    with _editable(shot.sequence_id):
        if credits.open_holds().filter(take__shot=shot).exists():
            raise SequenceIsGenerating(
                f"{shot} still has credits held for a take that Runway has not confirmed yet. "
                "Try again in a minute."
            )
        shot.delete()


def new_shot_initial(sequence: Sequence, *, shot_count: int, references: list[ReferenceImage]) -> dict:
    """What the "Add a shot" form starts with: the first shot starts on the previous frame (R1),
    and on a model that can end on an image, a shot ends on the next reference image, which
    re-anchors every cut (shot n starts on R n and ends on R n+1)."""
    initial = {}
    if sequence.video_model.has_last_frame and shot_count + 1 < len(references):
        initial["last_frame_image"] = str(references[shot_count + 1].pk)
    if not shot_count and references:
        initial["first_frame"] = Shot.FirstFrame.PREVIOUS
    return initial


# --- keyframes made from reference images --------------------------------------------------------


def set_keyframe(
    shot: Shot,
    *,
    slot: str,
    model: str,
    prompt: str,
    references: list[tuple[ReferenceImage, str]],
    seen_version: int | None = None,
) -> Keyframe:
    """Make the shot's first frame (`slot` "first") or, on a model that ends on an image, its last
    frame ("last") an image made by `model` from `references`, one (image, tag) each, in order,
    described by `prompt` (which may cite the tags as @tag). Creates or replaces the keyframe.

    Raises catalog.UnsupportedRequest with what would work (a bad or repeated tag, a prompt citing
    an unknown @tag, too many or too few references, an image outside the sequence's reference set,
    a last frame on a model without one, a ratio the image model does not make) or
    SequenceIsGenerating (the sequence or an image of this keyframe is being made), changing
    nothing. A changed keyframe loses its chosen image; a shot whose chosen clip no longer starts
    (ends) on what the shot asks for becomes stale. Setting the same keyframe again changes nothing.

    With `seen_version` (the version of the keyframe the user's form was made from, 0 for none),
    raises EditConflict, changing nothing, when someone made, changed or removed the keyframe since.
    """
    with _editable(shot.sequence_id) as sequence:
        shot = Shot.objects.select_for_update().get(pk=shot.pk)
        number = shot.position + 1
        if slot not in Keyframe.Slot.values:
            raise catalog.UnsupportedRequest(f"A keyframe is a first or a last frame, not '{slot}'.")
        if slot == Keyframe.Slot.LAST and not sequence.video_model.has_last_frame:
            takers = [m.id for m in catalog.MODELS.values() if m.has_last_frame]
            raise catalog.UnsupportedRequest(
                f"{sequence.model} cannot end a clip on an image, so shot {number} cannot have a last "
                f"keyframe. Make its first frame instead, or switch the sequence to {' or '.join(takers)}."
            )
        cleaned = _check_keyframe_references(sequence, references)
        estimates.check_keyframe_request(sequence, model=model, prompt=prompt, tags=[t for _, t in cleaned])
        keyframe = Keyframe.objects.select_for_update().filter(shot=shot, slot=slot).first()
        version = keyframe.edit_version if keyframe is not None else 0
        if seen_version is not None and seen_version != version:
            raise EditConflict(keyframe, version=version)
        if keyframe is not None and _keyframe_busy(keyframe):
            raise SequenceIsGenerating(
                f"An image of shot {number}'s keyframe is being made. Wait for it, or cancel it, before "
                "editing the keyframe."
            )
        wanted = [(image.pk, tag) for image, tag in cleaned]
        prompt = prompt.strip()
        changed = keyframe is None or (
            keyframe.model != model
            or keyframe.prompt != prompt
            or [(r.image_id, r.tag) for r in keyframe.references.all()] != wanted
        )
        # A new keyframe starts at version 1: a form made when there was none carries 0.
        if keyframe is None:
            keyframe = Keyframe.objects.create(
                shot=shot, slot=slot, model=model, prompt=prompt, edit_version=1
            )
        elif changed:
            keyframe.model, keyframe.prompt, keyframe.chosen_take = model, prompt, None
            keyframe.edit_version += 1
            keyframe.save(update_fields=["model", "prompt", "chosen_take", "edit_version"])
            keyframe.references.all().delete()
        if changed:
            KeyframeReference.objects.bulk_create(
                KeyframeReference(keyframe=keyframe, image_id=pk, tag=tag, position=position)
                for position, (pk, tag) in enumerate(wanted)
            )
        fields = ["is_stale"]
        if slot == Keyframe.Slot.FIRST and shot.first_frame != Shot.FirstFrame.KEYFRAME:
            shot.first_frame = Shot.FirstFrame.KEYFRAME
            fields.append("first_frame")
        if slot == Keyframe.Slot.LAST and not shot.has_made_last_frame:
            shot.has_made_last_frame = True
            fields.append("has_made_last_frame")
        if (changed or len(fields) > 1) and shot.chosen_take_id is not None:
            shot.is_stale = True
        if len(fields) > 1:
            # The shot's form shows its first frame: a form opened before this is out of date.
            shot.edit_version += 1
            fields.append("edit_version")
        shot.save(update_fields=fields)
        return keyframe


def _check_keyframe_references(
    sequence: Sequence, references: list[tuple[ReferenceImage, str]]
) -> list[tuple[ReferenceImage, str]]:
    """The references with their tags stripped; raises catalog.UnsupportedRequest for an image
    outside the sequence's reference set, one chosen twice, or a missing tag."""
    cleaned = []
    seen = set()
    for number, (image, tag) in enumerate(references, start=1):
        if sequence.reference_set_id is None or image.reference_set_id != sequence.reference_set_id:
            raise catalog.UnsupportedRequest(
                f"Reference {number} ({image}) is not in this sequence's reference set; choose images "
                "from the set, or add the image to it first."
            )
        if image.pk in seen:
            raise catalog.UnsupportedRequest(f"Reference {number} ({image}) is chosen twice; choose it once.")
        seen.add(image.pk)
        tag = (tag or "").strip()
        if not tag:
            suggestion = catalog.suggest_tag(image.original_name or image.image.name, [t for _, t in cleaned])
            raise catalog.UnsupportedRequest(
                f"Reference {number} ({image}) has no tag; give it one, for example '{suggestion}'."
            )
        cleaned.append((image, tag))
    return cleaned


def _keyframe_busy(keyframe: Keyframe) -> bool:
    """An image of the keyframe is on its way, or one still holds credits."""
    takes = keyframe.takes.all()
    if takes.filter(status__in=Take.ACTIVE).exists():
        return True
    return credits.open_holds().filter(take__in=takes).exists()


def remove_keyframe(shot: Shot, *, slot: str) -> None:
    """Stop making the shot's first (last) frame from reference images: delete the keyframe with its
    images. The first frame goes back to the previous shot's last frame (or R n, see the plan);
    the last frame to none. A shot with a chosen clip becomes stale. Raises SequenceIsGenerating,
    changing nothing, while the sequence or an image of the keyframe is being made. Removing a
    keyframe the shot does not have changes nothing."""
    with _editable(shot.sequence_id):
        shot = Shot.objects.select_for_update().get(pk=shot.pk)
        keyframe = Keyframe.objects.filter(shot=shot, slot=slot).first()
        if keyframe is not None and _keyframe_busy(keyframe):
            raise SequenceIsGenerating(
                f"An image of shot {shot.position + 1}'s keyframe is being made. Wait for it, or cancel "
                "it, before removing the keyframe."
            )
        fields = []
        if slot == Keyframe.Slot.FIRST and shot.first_frame == Shot.FirstFrame.KEYFRAME:
            shot.first_frame = Shot.FirstFrame.PREVIOUS
            fields.append("first_frame")
        if slot == Keyframe.Slot.LAST and shot.has_made_last_frame:
            shot.has_made_last_frame = False
            fields.append("has_made_last_frame")
        if keyframe is not None:
            keyframe.delete()
        if fields:
            shot.is_stale = shot.chosen_take_id is not None or shot.is_stale
            shot.edit_version += 1
            shot.save(update_fields=[*fields, "is_stale", "edit_version"])


# --- share links ---------------------------------------------------------------------------------


def issue_share_link(
    sequence: Sequence,
    *,
    created_by,
    expires_in_days: int | None,
    version_number: int | None = None,
    can_review: bool = True,
) -> tuple[ShareLink, str]:
    """A new share link and its token (see `projects.review.issue_link`, which owns the rules).
    Raises NotShareable, making nothing, while there is no version to show."""
    from projects import review

    try:
        return review.issue_link(
            sequence,
            created_by=created_by,
            expires_in_days=expires_in_days,
            version_number=version_number,
            can_comment=can_review,
            can_approve=can_review,
        )
    except (review.NothingToShare, review.NoSuchVersion):
        raise NotShareable() from None
