"""The captions form: one row per cue (start, end, text) and blank rows to add more; a row whose
text is emptied is dropped. It carries the version's `captions_version` like the other edit forms."""

from __future__ import annotations

from django import forms

from generation import captions
from generation.captions import CaptionError, Cue
from projects.forms import VersionedForm, seen_field, version_field

BLANK_ROWS = 2


class CaptionsForm(VersionedForm, forms.Form):
    version_attr = "captions_version"
    edited_fields = ("captions",)

    edit_version = version_field()
    seen = seen_field()

    def __init__(self, *args, film_seconds: float | None, cues: list[Cue] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.film_seconds = film_seconds
        if self.is_bound:
            rows = sum(1 for key in self.data if key.startswith("text_"))
        else:
            rows = len(cues or []) + BLANK_ROWS
            for index, cue in enumerate(cues or []):
                self.initial.update(
                    {f"start_{index}": cue.start, f"end_{index}": cue.end, f"text_{index}": cue.text}
                )
        rows = min(rows, captions.MAX_CUES + BLANK_ROWS)
        self.row_count = rows
        for index in range(rows):
            self.fields[f"start_{index}"] = forms.FloatField(
                min_value=0, required=False, label=f"Cue {index + 1} start (s)"
            )
            self.fields[f"end_{index}"] = forms.FloatField(
                min_value=0, required=False, label=f"Cue {index + 1} end (s)"
            )
            self.fields[f"text_{index}"] = forms.CharField(
                max_length=captions.CUE_MAX_CHARACTERS,
                required=False,
                label=f"Cue {index + 1} text",
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def rows(self) -> list[dict]:
        return [
            {"start": self[f"start_{i}"], "end": self[f"end_{i}"], "text": self[f"text_{i}"], "number": i + 1}
            for i in range(self.row_count)
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        cues = []
        for index in range(self.row_count):
            text = (cleaned.get(f"text_{index}") or "").strip()
            if not text:
                continue
            start, end = cleaned.get(f"start_{index}"), cleaned.get(f"end_{index}")
            if start is None or end is None:
                self.add_error(f"text_{index}", f"Cue {index + 1} needs a start and an end time.")
                continue
            cues.append(Cue(start=round(start, 3), end=round(end, 3), text=text))
        if not self.errors:
            try:
                captions.check_cues(cues, film_seconds=self.film_seconds)
            except CaptionError as error:
                raise forms.ValidationError(str(error)) from None
        cleaned["cues"] = cues
        return cleaned
