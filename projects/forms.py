from __future__ import annotations

import json

from django import forms
from django.contrib.auth import get_user_model
from django.core import signing, validators
from django.core.files.uploadedfile import UploadedFile
from django.db import models

from generation import catalog, mail
from projects import images, review
from projects.models import Keyframe, Membership, Project, ReferenceImage, ReferenceSet, Sequence, Shot


def _join_or(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"


def counted(field: forms.Field, limit: int, *, limits: dict[str, int] | None = None, by: str = "") -> None:
    """Show a live character count under `field` (static/js/counter.js) in place of the browser's
    `maxlength`, which cuts pasted text silently: a text over the limit is kept and refused by the
    form with its length. `limits` per value of the field named `by` (a speech model's own)."""
    field.widget.attrs.pop("maxlength", None)
    field.widget.attrs["data-count-limit"] = limit
    # The form's own check says how long the text is, counted as Runway counts (UTF-16 units).
    field.validators = [v for v in field.validators if not isinstance(v, validators.MaxLengthValidator)]
    if limits:
        field.widget.attrs["data-count-limits"] = json.dumps(limits)
        field.widget.attrs["data-count-by"] = by


def model_choices() -> list[tuple[str, str]]:
    return [(m.id, m.label) for m in catalog.MODELS.values()]


def ratio_label(ratio: str) -> str:
    width, height = (int(x) for x in ratio.split(":"))
    shape = "square" if width == height else ("landscape" if width > height else "portrait")
    return f"{width}×{height} ({shape})"


def catalog_for_pages() -> dict:
    """What each model can do, for the builder's script that swaps ratio and duration choices."""
    return {
        m.id: {
            "label": m.label,
            "ratios": [[r, ratio_label(r)] for r in m.all_ratios()],
            "durations": list(m.durations),
            "has_audio": m.has_audio,
            "has_last_frame": m.has_last_frame,
        }
        for m in catalog.MODELS.values()
    }


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        error_messages = {
            "description": {
                "max_length": f"Keep the description to {Project.DESCRIPTION_MAX_LENGTH:,} characters "
                "(it has %(show_value)s). Longer notes belong in a document shared with the team."
            }
        }


# --- edits that carry the version the user saw -------------------------------------------------
#
# A form that changes a row others may change too (another member, or the pipeline writing its own
# fields) carries the row's edit version and, signed, the values of the fields it changes as they
# were when it was made. The service saves only if the version is still the same; otherwise the
# page shows, from these values, what someone else changed since, and the user's form again.


def _seen_signer() -> signing.Signer:
    # Not timestamped: the same values give the same token, so an unbound form renders the same.
    return signing.Signer(salt="projects.forms.seen")


def version_field() -> forms.IntegerField:
    return forms.IntegerField(min_value=0, required=False, widget=forms.HiddenInput)


# No row has this version: a form without one (from a page made before versions) is stale.
UNKNOWN_VERSION = -1


def seen_field() -> forms.CharField:
    return forms.CharField(required=False, widget=forms.HiddenInput)


def _plain(value: object) -> object:
    """A model value as JSON keeps it (a related row by its pk)."""
    if isinstance(value, models.Model):
        return value.pk
    return value


class VersionedForm:
    """What the versioned forms share. Each declares `edit_version = version_field()` and
    `seen = seen_field()`, names the model field its version mirrors (`version_attr`) and the
    fields it changes (`edited_fields`), and calls `start_version` from its __init__."""

    version_attr = "edit_version"
    edited_fields: tuple[str, ...] = ()

    def start_version(self, instance: models.Model | None) -> None:
        """An unbound form starts from what the user sees now: `instance` (None: no row yet)."""
        if self.is_bound:
            return
        self.initial.setdefault("edit_version", self.version_of(instance))
        self.initial.setdefault("seen", self.seen_token(instance))

    def clean_edit_version(self) -> int:
        version = self.cleaned_data.get("edit_version")
        return UNKNOWN_VERSION if version is None else version

    def version_of(self, instance: models.Model | None) -> int:
        if instance is None or instance.pk is None:
            return 0
        return getattr(instance, self.version_attr)

    def seen_values(self, instance: models.Model | None) -> dict:
        """The values the form changes, as they are in `instance`, keyed by form field."""
        if instance is None:
            return {}
        values = {}
        for name in self.edited_fields:
            if name in self.fields:
                attname = instance._meta.get_field(name).attname
                values[name] = _plain(getattr(instance, attname))
        return values

    def seen_token(self, instance: models.Model | None) -> str:
        return _seen_signer().sign_object(self.seen_values(instance), compress=True)

    def edited_data(self) -> dict:
        """The cleaned values of the fields the form changes, for the service's keywords."""
        return {name: self.cleaned_data.get(name) for name in self.edited_fields}

    def label_of(self, name: str) -> str:
        field = self.fields.get(name)
        return str(field.label) if field is not None and field.label else name.replace("_", " ").capitalize()

    def describe(self, name: str, value: object) -> str:
        """`value` of field `name` as the form shows it: a choice by its label."""
        field = self.fields.get(name)
        if value is None or value == "":
            return "(empty)"
        if field is None:
            return str(value)
        if isinstance(field, forms.BooleanField):
            return "Yes" if value else "No"
        choices = getattr(field, "choices", None) or getattr(field.widget, "choices", None)
        for key, label in choices or ():
            if str(getattr(key, "value", key)) == str(value):
                return str(label)
        return str(value)

    def reopen(self, current: models.Model | None) -> None:
        """After a conflict: the form keeps what the user typed, now carrying `current`'s version
        and values, so that saving it again applies the user's text over what is there now; and
        `conflict` lists what changed since the user opened the form, field by field."""
        try:
            seen = _seen_signer().unsign_object(self.data.get(self.add_prefix("seen"), ""))
        except signing.BadSignature:
            seen = None
        now = self.seen_values(current)
        rows = []
        for name in self.edited_fields:
            if name not in now and name not in (seen or {}):
                continue
            theirs = now.get(name)
            if seen is not None and seen.get(name) == theirs:
                continue
            rows.append(
                {
                    "label": self.label_of(name),
                    "seen": self.describe(name, seen.get(name)) if seen is not None else "(not known)",
                    "theirs": self.describe(name, theirs) if current is not None else "(deleted)",
                }
            )
        self.conflict = {"changes": rows, "is_gone": current is None}
        data = self.data.copy()
        data[self.add_prefix("edit_version")] = str(self.version_of(current))
        data[self.add_prefix("seen")] = self.seen_token(current)
        self.data = data


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="Their Videogen user name.")
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.EDITOR)

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_username(self) -> object:
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
        # The same message whether or not the account exists elsewhere would leak nothing more:
        # staff add colleagues they know, so naming the problem plainly is more useful.
        if user is None:
            raise forms.ValidationError(f"There is no active user called “{username}”.")
        if self.project.memberships.filter(user=user).exists():
            raise forms.ValidationError(f"{user.get_username()} is already a member of this project.")
        return user


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class ProjectBudgetForm(forms.Form):
    monthly_limit = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=2_147_483_647,  # the column is a PositiveIntegerField
        label="Monthly cap (credits)",
        help_text="Credits this project may use per calendar month (UTC). Leave empty for no cap.",
    )


class ReferenceSetForm(forms.ModelForm):
    class Meta:
        model = ReferenceSet
        fields = ["name"]


class ReferenceUploadForm(forms.Form):
    """Only checks that something was sent; each file is judged by projects.images."""

    def clean(self) -> dict:
        files = self.files.getlist("images")
        if not files:
            raise forms.ValidationError("Choose at least one image to upload.")
        self.cleaned_data["images"] = files
        return self.cleaned_data


class DirectionForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class SequenceForm(VersionedForm, forms.ModelForm):
    """Title, model and shape of a sequence. Ratio choices follow the chosen model. The form of an
    existing sequence carries the version of its settings the user saw (see VersionedForm)."""

    edit_version = version_field()
    seen = seen_field()
    model = forms.ChoiceField(choices=model_choices, label="Video model")
    ratio = forms.CharField(label="Aspect ratio", widget=forms.Select)
    image_fit = forms.ChoiceField(
        choices=Sequence.ImageFit.choices,
        required=False,
        initial=Sequence.ImageFit.PAD,
        label="Very wide or tall images",
        help_text="Runway takes images between 2:1 and 1:2.",
    )

    class Meta:
        model = Sequence
        fields = ["title", "model", "ratio", "is_stitched", "has_audio", "reference_set", "image_fit"]
        labels = {
            "is_stitched": "Stitch shots (each shot starts on the last frame of the one before)",
            "has_audio": "Generate sound (Veo only)",
            "reference_set": "Reference images",
        }
        help_texts = {"has_audio": "Silent Veo clips cost half as much."}

    edited_fields = ("title", "model", "ratio", "is_stitched", "has_audio", "reference_set", "image_fit")

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.fields["reference_set"].queryset = ReferenceSet.objects.filter(project=project)
        self.fields["reference_set"].empty_label = "None"
        chosen = self.data.get(self.add_prefix("model")) if self.is_bound else None
        chosen = chosen or self.initial.get("model") or self.instance.model or catalog.DEFAULT_MODEL
        video_model = catalog.MODELS.get(chosen, catalog.MODELS[catalog.DEFAULT_MODEL])
        self.fields["ratio"].widget.choices = [(r, ratio_label(r)) for r in video_model.all_ratios()]
        self.fields["model"].widget.attrs["data-model-select"] = ""
        self.fields["ratio"].widget.attrs["data-ratio-select"] = ""
        self.fields["has_audio"].widget.attrs["data-audio-toggle"] = ""
        if self.instance.pk is None:
            # A new sequence has no version yet.
            del self.fields["edit_version"], self.fields["seen"]
        else:
            self.start_version(self.instance)

    def clean_image_fit(self) -> str:
        # Forms posted before this choice existed keep the default.
        return self.cleaned_data.get("image_fit") or Sequence.ImageFit.PAD

    def clean(self) -> dict:
        cleaned = super().clean()
        model_id = cleaned.get("model")
        ratio = cleaned.get("ratio")
        if model_id in catalog.MODELS and ratio:
            video_model = catalog.MODELS[model_id]
            if ratio not in video_model.all_ratios():
                allowed = _join_or([ratio_label(r) for r in video_model.all_ratios()])
                self.add_error("ratio", f"{video_model.label} makes {allowed}; choose one of those.")
            if not video_model.has_audio:
                cleaned["has_audio"] = False
        return cleaned


class ShotForm(VersionedForm, forms.ModelForm):
    """One shot. Duration and last-frame choices depend on the sequence's model. The form of an
    existing shot carries the version the user saw (see VersionedForm).

    Image choices are built from a list the caller already loaded, so that a page with one form per
    shot runs no query per form.
    """

    edit_version = version_field()
    seen = seen_field()
    duration = forms.TypedChoiceField(coerce=int, label="Duration (seconds)")
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=catalog.SEED_MAX,
        help_text="Optional. The same seed and prompt give a similar result.",
    )
    first_frame_image = forms.TypedChoiceField(
        required=False, label="Reference image to start on", empty_value=None
    )
    last_frame_image = forms.TypedChoiceField(
        required=False, label="End on a reference image (optional)", empty_value=None
    )

    class Meta:
        model = Shot
        fields = ["prompt", "duration", "seed", "first_frame", "first_frame_image", "last_frame_image"]
        labels = {"first_frame": "First frame"}
        widgets = {
            "prompt": forms.Textarea(attrs={"rows": 3}),
            "first_frame": forms.RadioSelect,
        }
        help_texts = {"prompt": f"What happens in this shot, at most {catalog.PROMPT_MAX_LENGTH} characters."}

    edited_fields = ("prompt", "duration", "seed", "first_frame", "first_frame_image", "last_frame_image")

    def __init__(self, *args, sequence: Sequence, images: list[ReferenceImage], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sequence = sequence
        self.video_model = sequence.video_model
        self.images_by_pk = {str(image.pk): image for image in images}
        image_choices = [("", "None")] + [
            (str(image.pk), f"R{number}: {image}") for number, image in enumerate(images, start=1)
        ]
        counted(self.fields["prompt"], catalog.PROMPT_MAX_LENGTH)
        self.fields["duration"].choices = [(d, f"{d} s") for d in self.video_model.durations]
        self.fields["duration"].error_messages["invalid_choice"] = self._durations_message()
        self.fields["first_frame_image"].choices = image_choices
        self.fields["first_frame_image"].coerce = self.images_by_pk.get
        self.fields["last_frame_image"].choices = image_choices
        self.fields["last_frame_image"].coerce = self.images_by_pk.get
        if not self.video_model.has_last_frame:
            del self.fields["last_frame_image"]
        self._name_the_previous_frame(len(images))
        if not self.is_bound and self.instance.pk is None:
            self.initial.setdefault("duration", catalog.default_duration(self.video_model))
        if self.instance.pk is None:
            del self.fields["edit_version"], self.fields["seen"]
        else:
            self.start_version(self.instance)

    def _name_the_previous_frame(self, references: int) -> None:
        """Say what "last frame of the previous shot" means where there is none to start on: the
        first shot, or any shot of an unstitched sequence, starts on the reference image at its
        place (S1 on R1), or on none (`estimates.plan_shot`)."""
        shots = self.sequence.shots
        if self.instance.pk is None:
            index = shots.count()
        else:
            index = shots.filter(position__lt=self.instance.position).count()
        if self.sequence.is_stitched and index > 0:
            return
        reason = "the first shot has no shot before it" if index == 0 else "the shots are not stitched"
        if index < references:
            label = f"R{index + 1}, the reference image at this shot's place ({reason})"
        else:
            label = f"None: text only ({reason}, and there is no R{index + 1})"
        field = self.fields["first_frame"]
        field.choices = [(v, label if v == Shot.FirstFrame.PREVIOUS else text) for v, text in field.choices]

    def _durations_message(self) -> str:
        allowed = _join_or([str(d) for d in self.video_model.durations])
        return f"{self.video_model.label} makes clips of {allowed} seconds."

    def clean_duration(self) -> int:
        duration = self.cleaned_data["duration"]
        if duration not in self.video_model.durations:
            raise forms.ValidationError(self._durations_message())
        return duration

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"].strip()
        # Runway counts UTF-16 code units, so an emoji counts as two.
        length = len(prompt.encode("utf-16-le")) // 2
        if length > catalog.PROMPT_MAX_LENGTH:
            raise forms.ValidationError(
                f"The prompt is {length} characters long; the limit is {catalog.PROMPT_MAX_LENGTH} "
                "(emoji count as two)."
            )
        return prompt

    def clean(self) -> dict:
        cleaned = super().clean()
        first_frame = cleaned.get("first_frame")
        if first_frame == Shot.FirstFrame.REFERENCE and not cleaned.get("first_frame_image"):
            self.add_error("first_frame_image", "Choose the reference image this shot starts on.")
        elif first_frame and first_frame != Shot.FirstFrame.REFERENCE:
            cleaned["first_frame_image"] = None
        if not self.video_model.has_last_frame:
            cleaned["last_frame_image"] = None
        return cleaned

    def _post_clean(self) -> None:
        if "last_frame_image" not in self.fields:
            self.instance.last_frame_image = None
        super()._post_clean()


def _refuse_control_characters(text: str, what: str) -> str:
    # The text goes into the subject and body of a mail (projects/review.py).
    if mail.CONTROL_CHARACTERS.search(text):
        raise forms.ValidationError(f"{what} cannot contain line breaks, tabs or other control characters.")
    return text


class ShareLinkForm(forms.Form):
    LATEST = ""
    PASSWORD_MIN_LENGTH = 6

    recipient_name = forms.CharField(
        max_length=80, required=False, label="For", help_text="The reviewer's name, shown on your list."
    )
    recipient_email = forms.EmailField(
        required=False, label="Email", help_text="Filled in, the link is mailed to them from the studio."
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=365,
        label="Expires after (days)",
        help_text="Leave empty for a link that works until you revoke it.",
    )
    version = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Version",
        help_text="“Always the latest” shows each version sent to the client, the latest first.",
    )
    can_comment = forms.BooleanField(required=False, initial=True, label="Comment")
    can_approve = forms.BooleanField(required=False, initial=True, label="Approve or request changes")
    can_download = forms.BooleanField(required=False, initial=True, label="Download the film")
    can_download_master = forms.BooleanField(required=False, initial=True, label="Download the 4K master")
    password = forms.CharField(
        required=False,
        max_length=128,
        label="Password",
        help_text="Optional. Give it to the client yourself: it is not in the mail.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, sequence: Sequence | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        versions = list(sequence.versions.values_list("number", "sent_at")) if sequence else []
        self.fields["version"].choices = [(self.LATEST, "Always the latest sent")] + [
            (str(n), f"Version {n}" if sent_at else f"Version {n} (a draft: the link sends it)")
            for n, sent_at in versions
        ]

    def clean_recipient_name(self) -> str:
        return _refuse_control_characters(self.cleaned_data["recipient_name"].strip(), "The name")

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if password and len(password) < self.PASSWORD_MIN_LENGTH:
            raise forms.ValidationError(f"Give a password of at least {self.PASSWORD_MIN_LENGTH} characters.")
        return password


class SendVersionForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        required=False,
        label="Note for the client",
        help_text="Optional: what changed, what to look at.",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 2000}),
    )


class SharePasswordForm(forms.Form):
    password = forms.CharField(max_length=128, label="Password", widget=forms.PasswordInput)


# --- client review and branding ------------------------------------------------------------------


def parse_timecode(text: str) -> float | None:
    """Seconds from "75", "75.5", "1:15" or "1:02:03"; None when it is none of these."""
    parts = text.strip().split(":")
    if not parts[0] or len(parts) > 3:
        return None
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        return None
    if any(n < 0 or n != n for n in numbers) or any(n >= 60 for n in numbers[1:]):
        return None
    seconds = 0.0
    for n in numbers:
        seconds = seconds * 60 + n
    return seconds


class ReviewNameForm(forms.Form):
    name = forms.CharField(max_length=80, label="Your name", help_text="Shown beside your comments.")

    def clean_name(self) -> str:
        return _refuse_control_characters(self.cleaned_data["name"], "Your name")


class ReviewCommentForm(forms.Form):
    # The longest film a timecode may point into; a later time is a typing mistake.
    MAX_SECONDS = 24 * 3600

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    at = forms.CharField(
        max_length=12,
        required=False,
        label="At",
        help_text="The time in the film, like 0:03. Pausing the player fills it in.",
    )
    body = forms.CharField(
        max_length=2000,
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
    )
    # The shapes drawn on the paused frame, as JSON (review.clean_drawing); empty for none.
    drawing = forms.CharField(required=False, max_length=40_000, widget=forms.HiddenInput)
    # The comment this one replies to; empty for a new thread.
    reply_to = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_at(self) -> float:
        text = self.cleaned_data["at"]
        if not text.strip():
            return 0.0
        seconds = parse_timecode(text)
        if seconds is None or seconds > self.MAX_SECONDS:
            raise forms.ValidationError("Give the time as minutes:seconds, like 1:05, or as seconds.")
        return round(seconds, 3)

    def clean_drawing(self) -> list[dict]:
        try:
            return review.clean_drawing(self.cleaned_data["drawing"])
        except review.BadDrawing as error:
            raise forms.ValidationError(f"The drawing was not saved: {error}") from None


class StaffCommentForm(ReviewCommentForm):
    is_internal = forms.BooleanField(
        required=False, initial=True, label="Only for staff (clients never see it)"
    )


class StoryboardCommentForm(forms.Form):
    shot = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    body = forms.CharField(
        max_length=2000,
        label="Comment on this shot",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 2000}),
    )


class StoryboardLinkForm(forms.Form):
    recipient_name = forms.CharField(max_length=80, required=False, label="For")
    recipient_email = forms.EmailField(required=False, label="Email")
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=365, label="Expires after (days)"
    )


class StoryboardApprovalForm(forms.Form):
    # The estimate and the storyboard the client was shown: an approval covers those, not what
    # changed meanwhile.
    credits = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    digest = forms.CharField(max_length=64, widget=forms.HiddenInput)
    note = forms.CharField(
        max_length=2000,
        required=False,
        label="Note",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 2000}),
    )


class ReviewDecisionForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    verdict = forms.ChoiceField(choices=[("approved", "Approve"), ("changes", "Request changes")])
    note = forms.CharField(
        max_length=2000,
        required=False,
        label="Note",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 2000}),
    )


class ProjectBrandingForm(forms.ModelForm):
    """What the project's share pages show clients: a name, a logo and an accent colour."""

    LOGO_MAX_BYTES = 2 * 1024 * 1024
    # Shown a few hundred pixels wide; a bigger JPEG is decoded at a fraction of its size.
    LOGO_MAX_SIDE = 1024

    class Meta:
        model = Project
        fields = ["client_name", "logo", "accent_color"]
        labels = {"client_name": "Name shown to clients", "accent_color": "Accent colour"}
        help_texts = {
            "client_name": "Shown at the top of the share pages instead of “Videogen”; leave empty for none.",
            "logo": "A JPEG, PNG or WebP image up to 2 MB, shown at the top of the share pages.",
            "accent_color": "Buttons and links on the share pages, like #1a73e8. Leave empty for the default.",
        }
        widgets = {"accent_color": forms.TextInput(attrs={"placeholder": "#1a73e8", "size": 8})}

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if not isinstance(logo, UploadedFile):
            return logo
        if logo.size is not None and logo.size > self.LOGO_MAX_BYTES:
            raise forms.ValidationError("The logo is larger than 2 MB; make it smaller and upload it again.")
        try:
            normalised = images.normalise_reference_image(logo, max_side=self.LOGO_MAX_SIDE)
        except images.RejectedImage as rejection:
            raise forms.ValidationError(f"The logo {rejection}") from None
        normalised.thumbnail.close()
        return normalised.image


def image_model_choices() -> list[tuple[str, str]]:
    return [(m.id, f"{m.label} ({_image_price(m)})") for m in catalog.IMAGE_MODELS.values()]


def _image_price(model: catalog.ImageModel) -> str:
    if model.credits_per_image == model.credits_per_image_720p:
        return f"{model.credits_per_image} credits an image"
    return f"{model.credits_per_image_720p}-{model.credits_per_image} credits an image"


class KeyframeForm(VersionedForm, forms.Form):
    """A shot's first (or last) frame made from up to three of the sequence's reference images: which
    images, the tag each is cited by, the image model and the prompt. One checkbox and one tag field
    per image of the set; tags are suggested from the file names. Every rule of the request is the
    catalog's (`catalog.build_image_request`); the service checks it again when it saves. It carries
    the version of the keyframe the user saw, 0 for none yet (see VersionedForm)."""

    edited_fields = ("model", "prompt", "references")

    edit_version = version_field()
    seen = seen_field()
    model = forms.ChoiceField(choices=image_model_choices, label="Image model")
    prompt = forms.CharField(
        label="Keyframe prompt",
        widget=forms.Textarea(attrs={"rows": 3, "data-count-limit": catalog.PROMPT_MAX_LENGTH}),
        help_text="Describe the picture and cite the chosen images by their tags, like “@kitchen at dawn”.",
    )

    def __init__(self, *args, images: list[ReferenceImage], keyframe=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.images = images
        chosen: dict[int, str] = {}
        if keyframe is not None:
            chosen = {ref.image_id: ref.tag for ref in keyframe.references.all()}
            self.initial.setdefault("model", keyframe.model)
            self.initial.setdefault("prompt", keyframe.prompt)
        self.initial.setdefault("model", catalog.DEFAULT_IMAGE_MODEL)
        self.start_version(keyframe)
        taken: list[str] = list(chosen.values())
        for number, image in enumerate(images, start=1):
            tag = chosen.get(image.pk)
            if tag is None:
                tag = catalog.suggest_tag(image.original_name or f"image{number}", taken)
                taken.append(tag)
            self.fields[f"use_{image.pk}"] = forms.BooleanField(
                required=False, label=f"Use R{number}", initial=image.pk in chosen
            )
            self.fields[f"tag_{image.pk}"] = forms.CharField(
                required=False,
                max_length=64,
                label=f"Tag of R{number}",
                initial=tag,
                widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            )

    def seen_values(self, instance: Keyframe | None) -> dict:
        if instance is None:
            return {}
        references = ", ".join(f"@{ref.tag} ({ref.image})" for ref in instance.references.all())
        return {"model": instance.model, "prompt": instance.prompt, "references": references}

    def reference_rows(self) -> list[dict]:
        """One row per reference image: the image, its number and its two fields."""
        return [
            {"image": image, "number": n, "use": self[f"use_{image.pk}"], "tag": self[f"tag_{image.pk}"]}
            for n, image in enumerate(self.images, start=1)
        ]

    def clean_prompt(self) -> str:
        return self.cleaned_data["prompt"].strip()

    def clean(self) -> dict:
        cleaned = super().clean()
        references = []
        for number, image in enumerate(self.images, start=1):
            if not cleaned.get(f"use_{image.pk}"):
                continue
            tag = (cleaned.get(f"tag_{image.pk}") or "").strip()
            if not tag:
                self.add_error(f"tag_{image.pk}", f"Give R{number} a tag: the prompt cites it as @tag.")
                continue
            try:
                catalog.check_tag(tag)
            except catalog.UnsupportedRequest as error:
                self.add_error(f"tag_{image.pk}", str(error))
                continue
            references.append((image, tag))
        cleaned["references"] = references
        if self.errors or "model" not in cleaned or "prompt" not in cleaned:
            return cleaned
        try:
            catalog.build_image_request(
                model=cleaned["model"],
                prompt_text=cleaned["prompt"],
                references=[(tag, True) for _, tag in references],
            )
        except catalog.UnsupportedRequest as error:
            raise forms.ValidationError(str(error)) from None
        return cleaned


class NarrationForm(VersionedForm, forms.ModelForm):
    """A sequence's voice-over: the script and which of Runway's voices and speech models says it.
    Whether the script fits the film is the estimate's to say (it may be edited before the film is
    made); what the model itself refuses is refused here. It carries the narration's own version,
    so that neither the pipeline's writes nor the settings form's make it stale."""

    version_attr = "narration_version"
    edited_fields = ("narration_script", "narration_voice", "narration_model", "narration_speed")

    edit_version = version_field()
    seen = seen_field()
    narration_voice = forms.ChoiceField(
        choices=[(v, v) for v in sorted(catalog.VOICES)], initial=catalog.DEFAULT_VOICE, label="Voice"
    )
    narration_model = forms.ChoiceField(
        choices=[(m.id, m.label) for m in catalog.SPEECH_MODELS.values()],
        initial=catalog.DEFAULT_SPEECH_MODEL,
        label="Speech model",
    )

    class Meta:
        model = Sequence
        fields = ["narration_script", "narration_voice", "narration_model", "narration_speed"]
        labels = {"narration_script": "Script", "narration_speed": "Speed"}
        help_texts = {
            "narration_script": "What the voice says over the film. [pause] or [laughs] direct the "
            "delivery (ElevenLabs v3) and are not read out.",
            "narration_speed": "ElevenLabs v3 only: 0.7 to 1.2; leave empty for the voice's own pace.",
        }
        widgets = {"narration_script": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.start_version(self.instance)
        limits = {m.id: m.max_characters for m in catalog.SPEECH_MODELS.values()}
        counted(self.fields["narration_script"], max(limits.values()), limits=limits, by="narration_model")

    def clean(self) -> dict:
        cleaned = super().clean()
        script = (cleaned.get("narration_script") or "").strip()
        cleaned["narration_script"] = script
        model_id = cleaned.get("narration_model")
        if not script or model_id not in catalog.SPEECH_MODELS:
            return cleaned
        try:
            catalog.build_speech_request(
                model=model_id,
                script=script,
                voice=cleaned.get("narration_voice"),
                speed=cleaned.get("narration_speed"),
            )
        except catalog.UnsupportedRequest as exc:
            field = (
                "narration_speed"
                if cleaned.get("narration_speed") is not None and "speed" in str(exc)
                else "narration_script"
            )
            self.add_error(field, str(exc))
        return cleaned
