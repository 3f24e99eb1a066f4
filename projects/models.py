from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from generation import catalog


def with_my_role(queryset: models.QuerySet, user, *, project_path: str) -> models.QuerySet:
    """The rows of `queryset` in projects `user` is a member of, each with `my_role`, the user's role
    in that project (`project_path` leads from a row to its project). One query, no join fan-out."""
    if not user.is_authenticated:
        return queryset.none()
    role = models.Subquery(
        Membership.objects.filter(project=models.OuterRef(project_path), user=user).values("role")[:1]
    )
    return queryset.annotate(my_role=role).filter(my_role__isnull=False)


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user) -> ProjectQuerySet:
        """The user's projects, each with `my_role`."""
        return with_my_role(self, user, project_path="pk")


def _logo_upload_to(instance: Project, filename: str) -> str:
    return f"logos/{secrets.token_hex(8)}.{filename.rsplit('.', 1)[-1].lower()}"


class Project(models.Model):
    DESCRIPTION_MAX_LENGTH = 5000

    name = models.CharField(max_length=200)
    # A TextField's max_length only reaches its form field; the validator holds it for full_clean too.
    description = models.TextField(
        blank=True, max_length=DESCRIPTION_MAX_LENGTH, validators=[MaxLengthValidator(DESCRIPTION_MAX_LENGTH)]
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # Branding of the project's share pages, shown to clients instead of the app's own header.
    client_name = models.CharField(max_length=200, blank=True)
    logo = models.ImageField(upload_to=_logo_upload_to, blank=True)
    accent_color = models.CharField(
        max_length=7,
        blank=True,
        validators=[
            RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give the colour as # and six hex digits, like #1a73e8.")
        ],
    )
    # Generate spends on video only once the client approved the storyboard at its current
    # estimate (projects/storyboard_review.py); owners change it.
    requires_storyboard_approval = models.BooleanField(default=False)
    # What the agency adds to the credits' money value on this project's statements (percent);
    # owners and admins set it (projects/statements.py). It changes no hold or charge.
    markup_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(999)],
        help_text="Agency markup on statements, in percent of the credits' value.",
    )

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet):
    def with_sequence_count(self) -> MembershipQuerySet:
        return self.annotate(sequence_count=models.Count("project__sequences", distinct=True))


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    # The roles that may change a project's sequences, references and share links.
    EDITING_ROLES = (Role.OWNER, Role.EDITOR)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]
        ordering = ["project", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.project}"


class ReferenceSetQuerySet(models.QuerySet):
    def with_images(self) -> ReferenceSetQuerySet:
        """Each set with `image_count` and its images in order, prefetched."""
        return self.annotate(image_count=models.Count("images")).prefetch_related(
            models.Prefetch("images", queryset=ReferenceImage.objects.order_by("position", "pk"))
        )


class ReferenceSet(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reference_sets")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ReferenceSetQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.name


def _reference_upload_to(instance: ReferenceImage, filename: str) -> str:
    return (
        f"references/{instance.reference_set.project_id}/{secrets.token_hex(8)}.{filename.rsplit('.', 1)[-1]}"
    )


def _thumbnail_upload_to(instance: ReferenceImage, filename: str) -> str:
    return f"references/{instance.reference_set.project_id}/thumbs/{secrets.token_hex(8)}.jpg"


class ReferenceImage(models.Model):
    reference_set = models.ForeignKey(ReferenceSet, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to=_reference_upload_to, width_field="width", height_field="height")
    thumbnail = models.ImageField(upload_to=_thumbnail_upload_to, blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    original_name = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.original_name or f"image {self.pk}"


class SequenceQuerySet(models.QuerySet):
    def with_totals(self) -> SequenceQuerySet:
        """Each sequence with `shot_count` and `cost`, the credits its takes were charged (clips,
        keyframe images, narrations and 4K master parts). Each figure is its own subquery (an index
        lookup per sequence): joining shots and takes would multiply rows."""
        take = apps.get_model("generation", "Take")
        shots = Shot.objects.filter(sequence=models.OuterRef("pk")).values("sequence")
        takes = take.objects.filter(sequence=models.OuterRef("pk")).values("sequence")
        return self.annotate(
            shot_count=Coalesce(models.Subquery(shots.annotate(n=models.Count("pk")).values("n")), 0),
            cost=Coalesce(models.Subquery(takes.annotate(c=models.Sum("cost_credits")).values("c")), 0),
        )


class Sequence(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Generating"
        ASSEMBLING = "assembling", "Assembling"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # A shot failed; the shots after it were stopped and released. The user edits and retakes
        # that shot (the sequence goes on from its new last frame) or stops.
        NEEDS_ATTENTION = "attention", "Needs attention"

    # The states a run stops in; nothing changes until someone acts.
    STOPPED = (Status.DONE, Status.FAILED, Status.CANCELLED, Status.NEEDS_ATTENTION)
    # Its shots are being made or assembled into the film: nobody may change them meanwhile.
    GENERATING = (Status.RUNNING, Status.ASSEMBLING)
    # A run is under way or waits for the user to go on: it can be cancelled.
    UNFINISHED = (*GENERATING, Status.NEEDS_ATTENTION)
    # "Generate" may start a run from these (after a failure or a cancel it makes what is missing).
    STARTABLE = (Status.DRAFT, Status.FAILED, Status.CANCELLED, Status.NEEDS_ATTENTION)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sequences")
    title = models.CharField(max_length=200)
    model = models.CharField(
        max_length=40,
        choices=[(m.id, m.label) for m in catalog.MODELS.values()],
        default=catalog.DEFAULT_MODEL,
    )
    ratio = models.CharField(max_length=20, default="1280:720")
    is_stitched = models.BooleanField(default=True)
    has_audio = models.BooleanField(default=True)

    class ImageFit(models.TextChoices):
        PAD = "pad", "Pad with bars (keep the whole picture)"
        CROP = "crop", "Crop to fit (fill the frame)"

    # Runway takes images with a width/height between 0.5 and 2.0; wider or taller ones are
    # brought inside that range this way.
    image_fit = models.CharField(max_length=4, choices=ImageFit.choices, default=ImageFit.PAD)
    reference_set = models.ForeignKey(
        ReferenceSet, on_delete=models.SET_NULL, null=True, blank=True, related_name="sequences"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    status_message = models.CharField(max_length=500, blank=True)
    # The Runway (API base and key fingerprint) of the process that started the sequence: only
    # processes of that Runway submit, poll and recover its takes.
    runway_origin = models.CharField(max_length=300, blank=True, db_index=True)
    # Who pressed Generate: their budget pays for every take of this run.
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    film = models.FileField(upload_to="films/", blank=True)
    poster = models.FileField(upload_to="films/", blank=True)
    film_duration = models.FloatField(null=True, blank=True)
    # The voice-over: what is said, by which of Runway's text_to_speech voices and models (speed
    # only where the model takes one), and the take chosen to be mixed over the film at assembly.
    narration_script = models.TextField(blank=True, max_length=5000)
    narration_voice = models.CharField(max_length=40, default=catalog.DEFAULT_VOICE)
    narration_model = models.CharField(
        max_length=40,
        choices=[(m.id, m.label) for m in catalog.SPEECH_MODELS.values()],
        default=catalog.DEFAULT_SPEECH_MODEL,
    )
    narration_speed = models.FloatField(null=True, blank=True)
    narration_take = models.ForeignKey(
        "generation.Take", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The worker assembling the film holds the sequence until then, renewing the lease while it works
    # (generation/leases.py), and writes the film only while its token is still there; a lapsed
    # claim is taken over, and when is kept for the page.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    taken_over_at = models.DateTimeField(null=True, blank=True)
    # What a user saw when they opened a form, bumped by each save of a user's edit and never by the
    # pipeline: a save against another number was made over someone else's change and is refused.
    # The settings and the narration are edited in two forms, so each has its own.
    edit_version = models.PositiveIntegerField(default=0, editable=False)
    narration_version = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = SequenceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def video_model(self) -> catalog.VideoModel:
        return catalog.MODELS[self.model]

    @property
    def is_generating(self) -> bool:
        return self.status in self.GENERATING

    @property
    def is_unfinished(self) -> bool:
        return self.status in self.UNFINISHED

    @property
    def takeover_note(self) -> str:
        """A line for the status while assembling, when a worker stopped and another took over."""
        if self.taken_over_at is None or self.status != self.Status.ASSEMBLING:
            return ""
        at = timezone.localtime(self.taken_over_at).strftime("%H:%M")
        return f"A worker stopped while assembling the film; another took it over at {at}."

    @property
    def is_startable(self) -> bool:
        return self.status in self.STARTABLE

    @property
    def is_shareable(self) -> bool:
        """Whether clients may be sent this sequence's film: it is finished and has one."""
        return self.status == self.Status.DONE and bool(self.film)


class Shot(models.Model):
    class FirstFrame(models.TextChoices):
        PREVIOUS = "previous", "Last frame of the previous shot"
        REFERENCE = "reference", "A reference image"
        KEYFRAME = "keyframe", "An image made from reference images"
        NONE = "none", "None (text only)"

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="shots")
    position = models.PositiveIntegerField(default=0)
    prompt = models.TextField(max_length=catalog.PROMPT_MAX_LENGTH)
    duration = models.PositiveSmallIntegerField(default=5)
    seed = models.PositiveBigIntegerField(null=True, blank=True)
    first_frame = models.CharField(max_length=10, choices=FirstFrame.choices, default=FirstFrame.PREVIOUS)
    first_frame_image = models.ForeignKey(
        ReferenceImage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_frame_image = models.ForeignKey(
        ReferenceImage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Veo only: the last frame is an image made from reference images (the shot's LAST keyframe)
    # rather than `last_frame_image`.
    has_made_last_frame = models.BooleanField(default=False)
    chosen_take = models.ForeignKey(
        "generation.Take", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set when the chosen take no longer matches the shot: an earlier shot's chosen take changed
    # after this shot was generated from it, or the shot or its sequence was edited since.
    is_stale = models.BooleanField(default=False)
    # Bumped by each save of the shot's form, never by the pipeline (see Sequence.edit_version).
    edit_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"Shot {self.position + 1}: {self.prompt[:40]}"


class Keyframe(models.Model):
    """An image made by Runway's text_to_image from up to three tagged reference images, to be a
    shot's first frame (or, on Veo, its last). Its takes are reviewed and one is chosen before any
    video is paid for."""

    class Slot(models.TextChoices):
        FIRST = "first", "First frame"
        LAST = "last", "Last frame"

    shot = models.ForeignKey(Shot, on_delete=models.CASCADE, related_name="keyframes")
    slot = models.CharField(max_length=5, choices=Slot.choices, default=Slot.FIRST)
    model = models.CharField(
        max_length=40,
        choices=[(m.id, m.label) for m in catalog.IMAGE_MODELS.values()],
        default=catalog.DEFAULT_IMAGE_MODEL,
    )
    # May cite the references' tags as @tag.
    prompt = models.TextField(max_length=catalog.PROMPT_MAX_LENGTH)
    chosen_take = models.ForeignKey(
        "generation.Take", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Bumped by each save of the keyframe's form, never by the pipeline (see Sequence.edit_version).
    edit_version = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["shot", "slot"]
        constraints = [models.UniqueConstraint(fields=["shot", "slot"], name="one_keyframe_per_shot_slot")]

    def __str__(self) -> str:
        return f"{self.get_slot_display()} of {self.shot}"


class KeyframeReference(models.Model):
    """One reference image a keyframe is made from, and the tag its prompt cites it by."""

    keyframe = models.ForeignKey(Keyframe, on_delete=models.CASCADE, related_name="references")
    image = models.ForeignKey(ReferenceImage, on_delete=models.CASCADE, related_name="+")
    tag = models.CharField(max_length=16)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["keyframe", "tag"], name="one_reference_per_keyframe_tag"),
            models.UniqueConstraint(fields=["keyframe", "image"], name="one_tag_per_keyframe_image"),
        ]

    def __str__(self) -> str:
        return f"@{self.tag}"


def _version_upload_to(instance: FilmVersion, filename: str) -> str:
    return f"films/{instance.sequence_id}/v{instance.number}-{secrets.token_hex(8)}-{filename}"


def film_contents(sequence_id: int) -> dict:
    """What a film assembled now is made of: each shot in order with its chosen take (numbered as
    the take list numbers them, oldest first) and whether it is stale, and the narration mixed over
    it. Kept with each version, so that the next one can say what changed."""
    take = apps.get_model("generation", "Take")
    shots = list(Shot.objects.filter(sequence_id=sequence_id).order_by("position", "pk"))
    chosen = [s.chosen_take_id for s in shots if s.chosen_take_id]
    numbers: dict[int, int] = {}
    if chosen:
        clips = take.objects.filter(shot_id__in=[s.pk for s in shots], kind=take.Kind.CLIP)
        per_shot: dict[int, int] = {}
        for pk, shot_id in clips.order_by("created_at", "pk").values_list("pk", "shot_id"):
            per_shot[shot_id] = per_shot.get(shot_id, 0) + 1
            numbers[pk] = per_shot[shot_id]
    narration = Sequence.objects.filter(pk=sequence_id).values_list("narration_take_id", flat=True).first()
    return {
        "shots": [
            {
                "shot": s.pk,
                "take": s.chosen_take_id,
                "take_number": numbers.get(s.chosen_take_id),
                "is_stale": s.is_stale,
            }
            for s in shots
        ],
        "narration": narration,
    }


class FilmVersionQuerySet(models.QuerySet):
    def sent(self) -> FilmVersionQuerySet:
        """The versions sent to the client: the only ones a share link ever shows."""
        return self.filter(sent_at__isnull=False)


class FilmVersion(models.Model):
    """One assembled film of a sequence. Every assembly adds a version; none is overwritten. A
    version is a draft for staff until someone sends it to the client; share links show only the
    versions sent."""

    NOTE_MAX_LENGTH = 2000

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    film = models.FileField(upload_to=_version_upload_to)
    poster = models.FileField(upload_to=_version_upload_to, blank=True)
    duration = models.FloatField(null=True, blank=True)
    # Frames per second of the film, probed from its file the first time a review page needs it
    # (review.frame_rate): the players step frame by frame and write timecodes in frames.
    frame_rate = models.FloatField(null=True, blank=True, editable=False)
    # The 4K master made from this version's film, once made.
    master = models.FileField(upload_to=_version_upload_to, blank=True)
    # The narration mixed over this version's film, if any.
    narration = models.ForeignKey(
        "generation.Take", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What the film is made of (`film_contents`), taken when the version is recorded: the shots'
    # chosen takes change afterwards, so this cannot be worked out later. Empty on versions
    # assembled before it was kept.
    contents = models.JSONField(default=dict, blank=True, editable=False)
    # When and by whom it was sent to the client, with what the client is told about it.
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_note = models.TextField(
        blank=True, max_length=NOTE_MAX_LENGTH, validators=[MaxLengthValidator(NOTE_MAX_LENGTH)]
    )
    # The captions as saved from the captions page (generation/captions.py drafts them from the
    # narration): [{"start": s, "end": s, "text": str}, ...]. Empty until saved: only saved cues
    # are played as a track or burned in. Bumped by each save of the captions form only.
    captions = models.JSONField(default=list, blank=True, editable=False)
    captions_version = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = FilmVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "number"], name="one_version_number_per_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.sequence} v{self.number}"

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None

    def send(self, *, by, note: str = "") -> bool:
        """Send the version to the client: from now on share links show it. Compare-and-set, so a
        second send (a double click, two staff at once) changes nothing and returns False."""
        now = timezone.now()
        sent = FilmVersion.objects.filter(pk=self.pk, sent_at__isnull=True).update(
            sent_at=now, sent_by=by, sent_note=note
        )
        if sent:
            self.sent_at, self.sent_by, self.sent_note = now, by, note
        return bool(sent)


class ShareLinkQuerySet(models.QuerySet):
    def active(self) -> ShareLinkQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    # 32 bytes = 256 bits, URL-safe. (Migration 0001 refers to this name.)
    return secrets.token_urlsafe(32)


class ShareLink(models.Model):
    class Kind(models.TextChoices):
        FILM = "film", "Film versions"
        STORYBOARD = "storyboard", "Storyboard, before generating"

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="share_links")
    # Only the token's digest is kept: a database dump or a look over an admin's shoulder gives no
    # working link. The token itself is shown once, when the link is issued. Lookups go by digest,
    # so the time a lookup takes says nothing about the token.
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    # A film link shows versions sent to the client; a storyboard link shows the shots, their
    # prompts, keyframes and durations and the estimate, for comments per shot and approval.
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FILM)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The version the link shows; empty means always the latest version sent to the client.
    version = models.ForeignKey(
        FilmVersion, on_delete=models.CASCADE, null=True, blank=True, related_name="share_links"
    )
    # Who the link is for: named on the staff's list, and mailed the link when it is made.
    recipient_name = models.CharField(max_length=80, blank=True)
    recipient_email = models.EmailField(blank=True)
    # What the client may do through the link besides watching in the page's player.
    can_comment = models.BooleanField(default=True)
    can_approve = models.BooleanField(default=True)
    can_download = models.BooleanField(default=True)
    can_download_master = models.BooleanField(default=True)
    # A hash by Django's password hashers; empty for a link without a password.
    password_hash = models.CharField(max_length=128, blank=True, editable=False)
    # Downloads and plays in the page's player, each counted once per fetch (not per byte range).
    download_count = models.PositiveIntegerField(default=0, editable=False)
    play_count = models.PositiveIntegerField(default=0, editable=False)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Share link for {self.sequence}"

    @classmethod
    def issue(
        cls, sequence: Sequence, *, created_by, expires_at: dt.datetime | None = None, **options
    ) -> tuple[ShareLink, str]:
        """A new link and its token; the token is not stored, so this is the only time it is known.
        `options` are the link's other fields (version, recipient, switches)."""
        token = _new_token()
        link = cls.objects.create(
            sequence=sequence,
            created_by=created_by,
            expires_at=expires_at,
            token_digest=token_digest(token),
            **options,
        )
        return link, token

    @classmethod
    def find(cls, token: str) -> ShareLink | None:
        """The link for a token from a URL, or None."""
        # The project too: every client page shows its branding.
        return (
            cls.objects.select_related("sequence__project").filter(token_digest=token_digest(token)).first()
        )

    def count_fetch(self, *, is_play: bool) -> None:
        field = "play_count" if is_play else "download_count"
        ShareLink.objects.filter(pk=self.pk).update(**{field: models.F(field) + 1})

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    @property
    def can_review(self) -> bool:
        """Whether the client may send any feedback (comments or a decision) through the link."""
        return self.can_comment or self.can_approve

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @staticmethod
    def hash_password(raw: str) -> str:
        return make_password(raw) if raw else ""

    def check_password(self, raw: str) -> bool:
        return bool(self.password_hash) and check_password(raw, self.password_hash)

    @property
    def password_fingerprint(self) -> str:
        """Names the link's current password in the visitor's unlock cookie, so that a new password
        asks again; says nothing about the password."""
        return hashlib.sha256(f"{self.pk}:{self.password_hash}".encode()).hexdigest()[:32]

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class ReviewCommentQuerySet(models.QuerySet):
    def for_client(self) -> ReviewCommentQuerySet:
        """What a client may read: everything but the staff's internal comments (and their replies)."""
        return self.filter(is_internal=False).exclude(parent__is_internal=True)


class ReviewComment(models.Model):
    """A comment on a film version, pinned to a time in the film: a client's (through a share link),
    or a staff member's (`author`), which is internal when clients are not to see it. A reply has a
    `parent` and the parent's time. A drawing is a few shapes in coordinates normalised to the frame
    (review.clean_drawing), shown over the frame at the comment's time."""

    BODY_MAX_LENGTH = 2000

    version = models.ForeignKey(FilmVersion, on_delete=models.CASCADE, related_name="comments")
    share_link = models.ForeignKey(
        ShareLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    author_name = models.CharField(max_length=80)
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    at_seconds = models.FloatField(default=0)
    is_internal = models.BooleanField(default=False)
    drawing = models.JSONField(default=list, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ReviewCommentQuerySet.as_manager()

    class Meta:
        ordering = ["at_seconds", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author_name} at {self.at_seconds:.1f} s"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None

    def set_resolved(self, resolved: bool) -> None:
        self.resolved_at = timezone.now() if resolved else None
        self.save(update_fields=["resolved_at"])


class ReviewDecision(models.Model):
    """A client's approval of a film version, or their request for changes, with a note."""

    class Verdict(models.TextChoices):
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes", "Changes requested"

    NOTE_MAX_LENGTH = 2000

    version = models.ForeignKey(FilmVersion, on_delete=models.CASCADE, related_name="decisions")
    share_link = models.ForeignKey(
        ShareLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    author_name = models.CharField(max_length=80)
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    note = models.TextField(max_length=NOTE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} by {self.author_name}"


class StoryboardComment(models.Model):
    """A client's comment on one shot of a storyboard shared before generating."""

    BODY_MAX_LENGTH = 2000

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="storyboard_comments")
    shot = models.ForeignKey(Shot, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    share_link = models.ForeignKey(
        ShareLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=80)
    body = models.TextField(max_length=BODY_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author_name} on the storyboard"


class StoryboardApproval(models.Model):
    """A client's approval of a sequence's storyboard, with what it covered: the estimate of what
    Generate spends and a digest of the shots as they were shown (`estimates.storyboard_digest`).
    It stands for Generate while both are unchanged, and for retakes while the shots are
    (`content_digest`, the same digest without prices)."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="storyboard_approvals")
    share_link = models.ForeignKey(
        ShareLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    author_name = models.CharField(max_length=80)
    estimate_credits = models.PositiveIntegerField()
    storyboard_digest = models.CharField(max_length=64)
    # Empty on approvals recorded before it was kept.
    content_digest = models.CharField(max_length=64, blank=True)
    note = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Storyboard approved by {self.author_name} at {self.estimate_credits} credits"


class StudioVisit(models.Model):
    """A user's visits to the dashboard, which lists what finished since the one before, and the
    address they use the studio at (a finish mail links to it; a worker has no request to ask)."""

    # Dashboard views closer together than this are one visit: a reload keeps the list.
    GAP = dt.timedelta(minutes=30)

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="studio_visit"
    )
    seen_at = models.DateTimeField(default=timezone.now)
    # The visit before this one: what finished after it is new.
    previous_at = models.DateTimeField(null=True, blank=True)
    studio_url = models.URLField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"Visits of {self.user}"


class SequenceLook(models.Model):
    """When a user last had a sequence's page open (it says so every half minute while it is shown):
    client feedback after it is waiting for them, and a run that ends while they look is not mailed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="looks")
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "sequence"], name="one_look_per_user_and_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.user} looked at {self.sequence}"


class FinishNotice(models.Model):
    """A run's end, told to the user who started it: one row per end, so that a mail task that runs
    twice sends once (`generation.notifications`)."""

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="+")
    finished_at = models.DateTimeField()
    is_mailed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sequence", "finished_at"], name="one_notice_per_run_end")
        ]

    def __str__(self) -> str:
        return f"End of {self.sequence} at {self.finished_at}"
