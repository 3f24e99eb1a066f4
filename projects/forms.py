from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from generation import catalog
from projects.models import Membership, Project, ReferenceImage, ReferenceSet, Sequence, Shot


def _join_or(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"


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


class SequenceForm(forms.ModelForm):
    """Title, model and shape of a sequence. Ratio choices follow the chosen model."""

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


class ShotForm(forms.ModelForm):
    """One shot. Duration and last-frame choices depend on the sequence's model.

    Image choices are built from a list the caller already loaded, so that a page with one form per
    shot runs no query per form.
    """

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
            "prompt": forms.Textarea(attrs={"rows": 3, "maxlength": catalog.PROMPT_MAX_LENGTH}),
            "first_frame": forms.RadioSelect,
        }
        help_texts = {"prompt": f"What happens in this shot, at most {catalog.PROMPT_MAX_LENGTH} characters."}

    def __init__(self, *args, sequence: Sequence, images: list[ReferenceImage], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sequence = sequence
        self.video_model = sequence.video_model
        self.images_by_pk = {str(image.pk): image for image in images}
        image_choices = [("", "None")] + [
            (str(image.pk), f"R{number}: {image}") for number, image in enumerate(images, start=1)
        ]
        self.fields["duration"].choices = [(d, f"{d} s") for d in self.video_model.durations]
        self.fields["duration"].error_messages["invalid_choice"] = self._durations_message()
        self.fields["first_frame_image"].choices = image_choices
        self.fields["first_frame_image"].coerce = self.images_by_pk.get
        self.fields["last_frame_image"].choices = image_choices
        self.fields["last_frame_image"].coerce = self.images_by_pk.get
        if not self.video_model.has_last_frame:
            del self.fields["last_frame_image"]
        if not self.is_bound and self.instance.pk is None:
            self.initial.setdefault("duration", catalog.default_duration(self.video_model))

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


class ShareLinkForm(forms.Form):
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=365,
        label="Expires after (days)",
        help_text="Leave empty for a link that works until you revoke it.",
    )
