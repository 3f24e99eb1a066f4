"""Reference sets and their images."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from projects import images as reference_images
from projects import services
from projects.downloads import ranged_file_response
from projects.forms import (
    DirectionForm,
    ReferenceSetForm,
    ReferenceUploadForm,
)
from projects.views.common import (
    EDIT,
    _can_edit,
    _confirm,
    _get_project_for_user,
    _get_reference_image_for_user,
    _get_reference_set_for_user,
)
from projects.views.projects import _project_context

# --- reference images ----------------------------------------------------------------------------


@require_POST
@login_required
def create_reference_set(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_user(request, pk, EDIT)
    form = ReferenceSetForm(request.POST)
    if not form.is_valid():
        context = _project_context(request, project, reference_set_form=form)
        return render(request, "projects/project_detail.html", context)
    reference_set = form.save(commit=False)
    reference_set.project = project
    reference_set.save()
    messages.success(request, f"Reference set “{reference_set.name}” created. Add some images.")
    return redirect("reference_set_detail", pk=reference_set.pk)


@login_required
def reference_set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    reference_set = _get_reference_set_for_user(request, pk)
    context = {
        "reference_set": reference_set,
        "project": reference_set.project,
        "can_edit": _can_edit(reference_set.my_role),
        "images": reference_set.images.order_by("position", "pk"),
        "max_megabytes": settings.REFERENCE_IMAGE_MAX_BYTES // (1024 * 1024),
        "max_megapixels": settings.REFERENCE_IMAGE_MAX_PIXELS // 1_000_000,
        "accept_images": reference_images.ACCEPT,
    }
    return render(request, "projects/reference_set_detail.html", context)


@require_POST
@login_required
def upload_reference_images(request: HttpRequest, pk: int) -> HttpResponse:
    reference_set = _get_reference_set_for_user(request, pk, EDIT)
    form = ReferenceUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose at least one image to upload.")
        return redirect("reference_set_detail", pk=reference_set.pk)
    result = reference_images.add_reference_images(reference_set, files=form.cleaned_data["images"])
    count = len(result.added)
    if result.rejected:
        total = result.total
        summary = f"Added {count} of {total} image{'s' if total != 1 else ''}."
        (messages.warning if count else messages.error)(request, summary)
    else:
        messages.success(request, f"Added {count} image{'s' if count != 1 else ''}.")
    if result.deferred:
        later = len(result.deferred)
        messages.warning(
            request,
            f"The last {later} were more than one upload takes: choose them and upload them again."
            if later != 1
            else "The last one was more than one upload takes: choose it and upload it again.",
        )
    for name, notice in result.scaled:
        messages.info(request, f"“{name}” {notice}")
    for name, reason in result.rejected:
        messages.error(request, f"“{name}” was not added: it {reason}")
    return redirect("reference_set_detail", pk=reference_set.pk)


@require_POST
@login_required
def move_reference_image(request: HttpRequest, pk: int) -> HttpResponse:
    image = _get_reference_image_for_user(request, pk, EDIT)
    form = DirectionForm(request.POST)
    if form.is_valid():
        services.move_reference_image(image, direction=form.cleaned_data["direction"])
    else:
        messages.error(request, "Move the image up or down.")
    return redirect(reverse("reference_set_detail", args=[image.reference_set_id]) + f"#image-{image.pk}")


@require_POST
@login_required
def delete_reference_image(request: HttpRequest, pk: int) -> HttpResponse:
    image = _get_reference_image_for_user(request, pk, EDIT)
    back = reverse("reference_set_detail", args=[image.reference_set_id])
    uses = reference_images.uses_of(image)
    if uses:
        details = [f"{use}." for use in uses] + [
            "Those shots lose it: a shot with a finished take is marked stale, to be made again, and a "
            "keyframe's prompt keeps the tag as a plain word. Choose another image for each."
        ]
    else:
        details = ["No shot or keyframe uses it."]
    confirmation = _confirm(
        request,
        title="Remove image",
        question=f"Remove “{image}” from “{image.reference_set.name}”?",
        details=details,
        button="Remove image",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    uses = reference_images.delete_reference_image(image)
    messages.success(request, f"“{image}” was removed.")
    for use in uses:
        messages.warning(request, f"“{use.sequence}” shot {use.shot_number} {use.after}")
    return redirect(back)


@require_safe
@login_required
def reference_image_file(request: HttpRequest, pk: int) -> HttpResponse:
    image = _get_reference_image_for_user(request, pk)
    is_thumb = request.GET.get("size") == "thumb" and bool(image.thumbnail)
    file = image.thumbnail if is_thumb else image.image
    if not file:
        raise Http404("This image has no file.")
    extension = file.name.rsplit(".", 1)[-1]
    return ranged_file_response(
        request, file, filename=f"reference-{image.pk}.{extension}", as_attachment=False
    )
