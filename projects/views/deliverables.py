"""Deliverables of a film version: its captions (edited on their page, served as WebVTT and SRT to
members and, for versions sent to the client, through the share link, burned into a copy of the
film on request) and the hand-off zip for an editor (generation/timeline.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from generation import captions, media, timeline
from projects.deliverable_forms import CaptionsForm
from projects.services import EditConflict
from projects.views.common import EDIT, _film_filename
from projects.views.sharing import _asked_version, _get_version_for_user, _open_link, _private_headers

CAPTION_TYPES = {"vtt": "text/vtt; charset=utf-8", "srt": "application/x-subrip; charset=utf-8"}


def _captions_url(version) -> str:
    return reverse("version_captions", args=[version.pk])


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def version_captions(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the captions of a version to edit (saved ones, else the draft from its narration);
    POST: save them."""
    version = _get_version_for_user(request, pk, EDIT)
    status = 200
    if request.method == "POST":
        form = CaptionsForm(request.POST, film_seconds=version.duration)
        if form.is_valid():
            try:
                captions.save_captions(
                    version, seen_version=form.cleaned_data["edit_version"], cues=form.cleaned_data["cues"]
                )
            except EditConflict as conflict:
                form.reopen(conflict.current)
                status = 409
            else:
                messages.success(request, f"Captions of version {version.number} saved.")
                return redirect(_captions_url(version))
        else:
            status = 400
    else:
        saved = captions.saved_cues(version)
        form = CaptionsForm(film_seconds=version.duration, cues=saved or captions.draft_for_version(version))
        form.start_version(version)
    context = {
        "version": version,
        "sequence": version.sequence,
        "project": version.sequence.project,
        "form": form,
        "is_saved": bool(version.captions),
        "is_draft": not version.captions,
        "has_narration": version.narration_id is not None,
        "burned": captions.burned_film(version),
        "max_characters": captions.CUE_MAX_CHARACTERS,
    }
    return render(request, "projects/version_captions.html", context, status=status)


def _caption_file(version, kind: str) -> HttpResponse:
    cues = captions.saved_cues(version)
    if kind not in CAPTION_TYPES or not cues:
        raise Http404("No captions.")
    text = captions.to_webvtt(cues) if kind == "vtt" else captions.to_srt(cues)
    response = HttpResponse(text, content_type=CAPTION_TYPES[kind])
    if kind == "srt":
        stem = _film_filename(version.sequence, "srt").rsplit(".", 1)[0]
        response["Content-Disposition"] = f'attachment; filename="{stem}-v{version.number}.srt"'
    return response


@require_safe
@login_required
def version_captions_file(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    version = _get_version_for_user(request, pk)
    response = _caption_file(version, kind)
    response["Cache-Control"] = "private, no-cache"
    return response


@require_safe
def shared_captions(request: HttpRequest, token: str) -> HttpResponse:
    """The WebVTT captions of a version the link shows (only versions sent to the client)."""
    link, current, refusal = _open_link(request, token)
    if refusal:
        return refusal
    version = _asked_version(request, link, current, request.GET.get("v", ""))
    return _private_headers(_caption_file(version, "vtt"))


@require_POST
@login_required
def burn_version_captions(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version_for_user(request, pk, EDIT)
    if not version.captions:
        messages.error(request, "Save the captions first: only saved captions are burned in.")
    elif captions.burned_film(version):
        messages.info(request, "This film with these captions is made already.")
    else:
        captions.enqueue_burn(version)
        messages.success(
            request,
            "Burning the captions into a copy of the film. Reload this page in a minute to download it.",
        )
    return redirect(_captions_url(version))


@require_safe
@login_required
def captioned_film(request: HttpRequest, pk: int) -> HttpResponse:
    version = _get_version_for_user(request, pk)
    name = captions.burned_film(version)
    if name is None:
        raise Http404("No captioned film.")
    stem = _film_filename(version.sequence).rsplit(".", 1)[0]
    return FileResponse(
        default_storage.open(name, "rb"),
        as_attachment=True,
        filename=f"{stem}-v{version.number}-captioned.mp4",
    )


@require_safe
@login_required
def version_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The hand-off zip of a version: its timeline (OTIO, FCPXML, EDL) with the media it names."""
    version = _get_version_for_user(request, pk)
    out = tempfile.NamedTemporaryFile(prefix="handoff-", suffix=".zip")  # noqa: SIM115 (FileResponse closes it)
    try:
        timeline.export_zip(version, Path(out.name))
    except (timeline.TimelineError, media.MediaError, OSError) as error:
        out.close()
        messages.error(request, f"The timeline could not be exported: {error}")
        return redirect(reverse("sequence_detail", args=[version.sequence_id]) + f"#version-{version.number}")
    stem = _film_filename(version.sequence).rsplit(".", 1)[0]
    return FileResponse(out, as_attachment=True, filename=f"{stem}-v{version.number}-timeline.zip")
