from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.template.defaultfilters import pluralize
from django.utils import timezone

from generation import catalog


def _take_upload_to(instance: Take, filename: str) -> str:
    return f"takes/{instance.sequence_id}/{secrets.token_hex(8)}-{filename}"


class Take(models.Model):
    """One Runway task: a shot's clip or keyframe image, or a sequence's narration or 4K master part.

    Every take belongs to its `sequence`; its `kind` says what it makes and what else it belongs to:
    a clip or keyframe image to its `shot` (a keyframe image also to its `keyframe`), a master part
    to the film `version` it upscales. A shot can have many takes; the shot names the chosen one,
    and the sequence its chosen narration."""

    class Kind(models.TextChoices):
        CLIP = "clip", "Clip"
        KEYFRAME_IMAGE = "keyframe", "Keyframe image"
        NARRATION = "narration", "Narration"
        MASTER_PART = "master_part", "4K master part"

    # Made for a shot (and in its sequence's run), or for the whole sequence apart from any run.
    SHOT_KINDS = (Kind.CLIP, Kind.KEYFRAME_IMAGE)
    FINISHING_KINDS = (Kind.NARRATION, Kind.MASTER_PART)

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"  # reserved, waiting for its turn (stitching, concurrency)
        SUBMITTING = "submitting", "Submitting"  # committed before the Runway call
        PENDING = "pending", "Pending"
        THROTTLED = "throttled", "Waiting for a Runway slot"
        RUNNING = "running", "Generating"
        DOWNLOADING = "downloading", "Saving"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        # Nobody can know whether Runway made (and charged) this task: the create got no clear
        # answer, or its worker died during the call. The hold stays open until an admin resolves it.
        UNCONFIRMED = "unconfirmed", "Unconfirmed"

    IN_FLIGHT = (Status.PENDING, Status.THROTTLED, Status.RUNNING)
    # Holding credits and on its way: not yet final.
    ACTIVE = (Status.QUEUED, Status.SUBMITTING, *IN_FLIGHT, Status.DOWNLOADING)
    FINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.UNCONFIRMED)

    kind = models.CharField(max_length=12, choices=Kind.choices, db_index=True)
    sequence = models.ForeignKey("projects.Sequence", on_delete=models.CASCADE, related_name="takes")
    # Empty on a narration or master part, which belong to the whole sequence.
    shot = models.ForeignKey(
        "projects.Shot", on_delete=models.CASCADE, null=True, blank=True, related_name="takes"
    )
    # A master part: the film version it upscales, and the frames of that film it covers
    # (from `part_start_frame`, up to but not including `part_end_frame`).
    version = models.ForeignKey(
        "projects.FilmVersion", on_delete=models.CASCADE, null=True, blank=True, related_name="master_takes"
    )
    part_start_frame = models.PositiveIntegerField(null=True, blank=True)
    part_end_frame = models.PositiveIntegerField(null=True, blank=True)
    # Set on the takes of a keyframe image (endpoint "text_to_image"); empty on a shot's clips.
    keyframe = models.ForeignKey(
        "projects.Keyframe", on_delete=models.CASCADE, null=True, blank=True, related_name="takes"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="takes")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    # The Runway request body without its images, which are sent from the files below.
    endpoint = models.CharField(max_length=20, default="image_to_video")
    request = models.JSONField(default=dict)
    notices = models.JSONField(default=list, blank=True)

    class FirstFrame(models.TextChoices):
        """Where a clip's first frame comes from (the shot's plan: `Shot.FirstFrame`)."""

        PREVIOUS = "previous", "The last frame of the shot before"
        REFERENCE = "reference", "A reference image"
        KEYFRAME = "keyframe", "The keyframe image made for the shot"
        NONE = "none", "None (the prompt alone)"

    # Copied into the input files when the take is submitted, outside any transaction.
    first_frame_from = models.CharField(max_length=10, choices=FirstFrame.choices, default=FirstFrame.NONE)
    first_frame_image = models.ForeignKey(
        "projects.ReferenceImage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_frame_image = models.ForeignKey(
        "projects.ReferenceImage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    input_first_frame = models.FileField(upload_to=_take_upload_to, blank=True)
    input_last_frame = models.FileField(upload_to=_take_upload_to, blank=True)
    runway_task_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # Which Runway made the task: its API base and a fingerprint of the key (never the key itself).
    # A poller, a recovery pass or a command line touches only the takes of its own Runway.
    runway_origin = models.CharField(max_length=300, blank=True, db_index=True)
    progress = models.FloatField(default=0)
    failure_code = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=1000, blank=True)
    estimated_credits = models.PositiveIntegerField(default=0)
    cost_credits = models.PositiveIntegerField(null=True, blank=True)
    output = models.FileField(upload_to=_take_upload_to, blank=True)
    last_frame = models.FileField(upload_to=_take_upload_to, blank=True)
    duration = models.FloatField(null=True, blank=True)
    # How many automatic retakes came before this one (after INTERNAL.* failures).
    attempt = models.PositiveSmallIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    # The worker that sends the take, saves its output or finishes its cancel holds it until then,
    # renewing the lease while it works (generation/leases.py); a lapsed claim is taken over.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The holder's own token: it writes its outcome only while the token is still there.
    claim_token = models.CharField(max_length=32, blank=True)
    # When another worker last took this take over from one that stopped mid-work.
    taken_over_at = models.DateTimeField(null=True, blank=True)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    # Set just before the create request leaves; a submission that died before it is safe to resend.
    create_sent_at = models.DateTimeField(null=True, blank=True)
    # The highest Runway status seen for this task; Runway keeps the charge of a task it saw RUNNING.
    was_running = models.BooleanField(default=False)
    download_attempts = models.PositiveSmallIntegerField(default=0)
    # Polls in a row that got no answer from Runway: the next poll backs off with each.
    poll_errors = models.PositiveSmallIntegerField(default=0)
    # What Runway's create answered as the most the task may charge (`estimatedCost`).
    runway_estimated_credits = models.PositiveIntegerField(null=True, blank=True)
    # Queued because Runway's daily generation limit for its kind of model was reached: it is sent
    # again after `next_poll_at`, and never fails for it.
    is_waiting_for_daily_limit = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["status", "next_poll_at"])]
        constraints = [
            # What a take belongs to follows from its kind, and nothing else does.
            models.CheckConstraint(
                condition=Q(kind="clip", shot__isnull=False, keyframe__isnull=True, version__isnull=True)
                | Q(kind="keyframe", shot__isnull=False, keyframe__isnull=False, version__isnull=True)
                | Q(kind="narration", shot__isnull=True, keyframe__isnull=True, version__isnull=True)
                | Q(kind="master_part", shot__isnull=True, keyframe__isnull=True, version__isnull=False),
                name="take_belongs_as_its_kind_says",
            ),
        ]

    def __str__(self) -> str:
        if self.is_narration:
            return f"Take {self.pk}: narration of sequence {self.sequence_id}"
        if self.is_master_part:
            return f"Take {self.pk}: 4K master part of film version {self.version_id}"
        return f"Take {self.pk} of {self.shot}"

    def save(self, *args, **kwargs) -> None:
        # A take made by hand (a test, a shell) without its kind or sequence gets them from what it
        # is made for; the pipeline's factories always name both.
        if not self.kind:
            self.kind = self.kind_for(
                shot_id=self.shot_id, keyframe_id=self.keyframe_id, version_id=self.version_id
            )
        if self.sequence_id is None and self.shot_id is not None:
            self.sequence_id = self.shot.sequence_id
        super().save(*args, **kwargs)

    @classmethod
    def kind_for(cls, *, shot_id=None, keyframe_id=None, version_id=None) -> str:
        """The kind of a take made for these: a keyframe's image, a shot's clip, a version's master
        part, or else the sequence's narration."""
        if keyframe_id is not None:
            return cls.Kind.KEYFRAME_IMAGE
        if shot_id is not None:
            return cls.Kind.CLIP
        if version_id is not None:
            return cls.Kind.MASTER_PART
        return cls.Kind.NARRATION

    @property
    def is_clip(self) -> bool:
        return self.kind == self.Kind.CLIP

    @property
    def is_keyframe_image(self) -> bool:
        return self.kind == self.Kind.KEYFRAME_IMAGE

    @property
    def is_narration(self) -> bool:
        return self.kind == self.Kind.NARRATION

    @property
    def is_master_part(self) -> bool:
        return self.kind == self.Kind.MASTER_PART

    @property
    def is_finishing(self) -> bool:
        """A narration or master part: made for the whole sequence, apart from its run."""
        return self.kind in self.FINISHING_KINDS

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def takeover_note(self) -> str:
        """A line for the take's progress when a worker stopped while saving it and another took over."""
        if self.taken_over_at is None or self.status != self.Status.DOWNLOADING:
            return ""
        at = timezone.localtime(self.taken_over_at).strftime("%H:%M")
        return f"A worker stopped while saving this {self.output_word}; another took it over at {at}."

    @property
    def output_word(self) -> str:
        return {
            self.Kind.CLIP: "clip",
            self.Kind.KEYFRAME_IMAGE: "image",
            self.Kind.NARRATION: "narration",
            self.Kind.MASTER_PART: "master part",
        }[self.kind]

    @property
    def charge_note(self) -> str:
        """What this take cost, in words, for takes that did not end in a clip."""
        if self.status == self.Status.UNCONFIRMED:
            return (
                f"Its {self.estimated_credits} credits stay held until an admin confirms with Runway "
                "whether it was charged."
            )
        if self.cost_credits:
            return f"Runway charged {self.cost_credits} credit{pluralize(self.cost_credits)} for it."
        return "No credits were charged."


class ModelPriceQuerySet(models.QuerySet):
    def book(self) -> dict[str, dict[str, int]]:
        """Every correction as a `catalog.PriceBook`: {model: {field: credits}}."""
        book: dict[str, dict[str, int]] = {}
        for model, field, credits in self.values_list("model", "field", "credits"):
            book.setdefault(model, {})[field] = credits
        return book


class ModelPrice(models.Model):
    """An admin's correction of one of the catalog's prices, used by every estimate in place of the
    catalog's figure (`catalog.with_prices`), so that a price Runway raised is corrected without a
    release. Delete the row to go back to the catalog's figure."""

    model = models.CharField(max_length=60)
    # A price field of the model (`catalog.price_fields`): credits_per_second, credits_per_image, ...
    field = models.CharField(max_length=60, default="credits_per_second")
    credits = models.PositiveIntegerField()
    note = models.CharField(max_length=300, blank=True, help_text="Why, e.g. what Runway now charges.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelPriceQuerySet.as_manager()

    class Meta:
        ordering = ["model", "field"]
        constraints = [models.UniqueConstraint(fields=["model", "field"], name="one_price_per_model_field")]

    def __str__(self) -> str:
        return f"{self.model} {self.field} = {self.credits}"

    @property
    def catalog_credits(self) -> int | None:
        return catalog.price_fields(self.model).get(self.field)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        fields = catalog.price_fields(self.model)
        if not fields:
            raise ValidationError({"model": f"The catalog has no model '{self.model}'."})
        if self.field not in fields:
            raise ValidationError({"field": f"{self.model}'s prices are {', '.join(fields)}."})
        if self.credits is not None and self.credits < 1 and self.field != "min_credits":
            raise ValidationError({"credits": "A price is at least 1."})


class PriceDrift(models.Model):
    """A model whose price at Runway was found above the catalog's (plus admins' corrections): a
    create answered an `estimatedCost` above the take's hold. One row per model with the latest
    figures; the admins are mailed once per model (`mailed_at`), again only after a price for the
    model is corrected in admin (which forgets the row)."""

    model = models.CharField(max_length=60, unique=True)
    asked_credits = models.PositiveIntegerField(help_text="Runway's estimatedCost for the take.")
    held_credits = models.PositiveIntegerField(help_text="What the price table made of it (held).")
    take = models.ForeignKey(Take, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    noticed_at = models.DateTimeField(default=timezone.now)
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-noticed_at"]

    def __str__(self) -> str:
        return f"{self.model}: Runway asks {self.asked_credits}, the table says {self.held_credits}"


class CreditBudget(models.Model):
    """A user's monthly credit limit, and the credits the user holds right now (all open holds).

    `held` is maintained by `generation.credits` in the transaction of each hold, settle and
    release, so checking the balance never reads the ledger's history.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_budget"
    )
    monthly_limit = models.PositiveIntegerField(default=0, help_text="Credits per calendar month (UTC).")
    held = models.BigIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Budget of {self.user}"


class ProjectBudget(models.Model):
    """A project's optional monthly cap (for example one client's work), and its open holds."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="credit_budget")
    monthly_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Credits per calendar month (UTC); empty means no cap."
    )
    held = models.BigIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Budget of {self.project}"


class CreditMonth(models.Model):
    """Running figures of one user or one project for one calendar month (UTC).

    Written in the same transaction as the ledger rows they sum, so the balance check is
    constant-time; `manage.py check_ledger` recomputes them from the ledger.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="credit_months",
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="credit_months"
    )
    month = models.DateField(help_text="First day of the month (UTC).")
    granted = models.BigIntegerField(default=0)
    used = models.BigIntegerField(default=0)
    # The highest soft alert (80 or 100 percent) already sent for this month.
    alerted_percent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "month"], condition=Q(user__isnull=False), name="one_credit_month_per_user"
            ),
            models.UniqueConstraint(
                fields=["project", "month"],
                condition=Q(project__isnull=False),
                name="one_credit_month_per_project",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False, project__isnull=True)
                | Q(user__isnull=True, project__isnull=False),
                name="credit_month_for_a_user_or_a_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.project} {self.month:%Y-%m}"


class UsageReconciliation(models.Model):
    """What the ledger settled against what Runway reports as used, for one UTC day and model."""

    day = models.DateField()
    model = models.CharField(max_length=40)
    ledger_credits = models.BigIntegerField(default=0)
    runway_credits = models.BigIntegerField(default=0)
    checked_at = models.DateTimeField(default=timezone.now)
    # The difference (Runway - ledger) last mailed to the admins, and when; empty while the row
    # agrees or has not been mailed. A later run mails the row again only when it differs from this.
    mailed_difference = models.BigIntegerField(null=True, blank=True)
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day", "model"]
        constraints = [
            models.UniqueConstraint(fields=["day", "model"], name="one_reconciliation_per_day_model")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model}"

    @property
    def difference(self) -> int:
        return self.runway_credits - self.ledger_credits


class LedgerEntry(models.Model):
    """Append-only record of every credit held, settled, released or granted."""

    class Kind(models.TextChoices):
        HOLD = "hold", "Hold"
        SETTLE = "settle", "Settle"
        RELEASE = "release", "Release"
        GRANT = "grant", "Grant"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    credits = models.IntegerField()
    project = models.ForeignKey(
        "projects.Project", on_delete=models.SET_NULL, null=True, blank=True, related_name="ledger_entries"
    )
    take = models.ForeignKey(
        Take, on_delete=models.SET_NULL, null=True, blank=True, related_name="ledger_entries"
    )
    # A settle or release names the hold it closes.
    hold = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="closures")
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            # A hold is settled at most once and released at most once: calling either twice
            # cannot write a second row, whatever the callers' timing.
            models.UniqueConstraint(fields=["hold", "kind"], name="one_closure_of_each_kind_per_hold"),
            models.CheckConstraint(
                condition=Q(kind__in=["settle", "release"], hold__isnull=False)
                | Q(~Q(kind__in=["settle", "release"]), hold__isnull=True),
                name="closures_name_their_hold",
            ),
            models.CheckConstraint(
                condition=Q(credits__gte=0) | Q(kind="grant"), name="only_grants_may_be_negative"
            ),
        ]
        indexes = [models.Index(fields=["user", "kind", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.credits} for {self.user}"


class WorkerHeartbeat(models.Model):
    """The latest ping a worker supervisor (generation/supervisor.py) had answered through the task
    queue. Each supervisor, and each `worker_health` run, owns one row under its own token; the
    ping task only ever raises `answered_seq`, so an answer arriving late or twice changes nothing."""

    token = models.CharField(max_length=100, unique=True)
    answered_seq = models.PositiveIntegerField(default=0)
    answered_at = models.DateTimeField(null=True, blank=True)
    # host:pid of the worker that answered (any cluster serving the queue may).
    answered_by = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.token} answered {self.answered_seq}"


# The audit log's model lives with its one writer, generation/audit.py; importing it here registers it.
from generation.audit import AuditEntry  # noqa: E402, F401
