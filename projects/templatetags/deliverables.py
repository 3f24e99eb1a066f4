"""The caption track's address for a player: `{% version_captions_url pk as url %}` (staff) and
`{% shared_captions_url token version as url %}` (the share page); empty without saved captions."""

from django import template
from django.urls import reverse

from projects.models import FilmVersion

register = template.Library()


@register.simple_tag
def version_captions_url(pk: int) -> str:
    if not pk or not FilmVersion.objects.filter(pk=pk).exclude(captions=[]).exists():
        return ""
    return reverse("version_captions_file", args=[pk, "vtt"])


@register.simple_tag
def shared_captions_url(token: str, version: FilmVersion) -> str:
    if not version.captions:
        return ""
    return reverse("shared_captions", args=[token]) + f"?v={version.number}"
