"""Staff pages and actions, and the client's share page.

Every view starts with one lookup helper that loads the object together with the user's role in its
project: someone who is not a member gets 404 (they cannot learn that it exists), a member whose role
does not allow the action gets 403. Actions are POST only and answer with a redirect and a message;
an invalid form re-renders its page with the errors.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import json_script
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from generation import catalog, credits, estimates, pipeline, runway
from generation.models import Take
from projects import images as reference_images
from projects import services, throttle
from projects import usage as credit_usage
from projects.downloads import ranged_file_response, starts_a_fetch
from projects.forms import (
    AddMemberForm,
    DirectionForm,
    MemberRoleForm,
    ProjectBudgetForm,
    ProjectForm,
    ReferenceSetForm,
    ReferenceUploadForm,
    SequenceForm,
    ShareLinkForm,
    ShotForm,
    catalog_for_pages,
)
from projects.models import (
    Membership,
    Project,
    ReferenceImage,
    ReferenceSet,
    Sequence,
    ShareLink,
    Shot,
    with_my_role,
)
from projects.templatetags.studio import failure_reason, percent, status_badge

Role = Membership.Role
VIEW, EDIT, OWN = "view", "edit", "own"
# What a request to spend credits may be refused with; each carries a message for the user.
SPEND_ERRORS = (credits.InsufficientCredits, catalog.UnsupportedRequest, pipeline.PipelineError)


# --- lookups -------------------------------------------------------------------------------------


def _require(role: str, need: str) -> None:
    if need == EDIT and role not in Membership.EDITING_ROLES:
        raise PermissionDenied("Only owners and editors can change this project.")
    if need == OWN and role != Role.OWNER:
        raise PermissionDenied("Only owners can manage this project's members.")


def _get_for_user(request: HttpRequest, queryset: QuerySet, pk: int, *, project_path: str, need: str):
    """One query: the object with `my_role`, the user's role in its project; 404 or 403 as fitting."""
    obj = get_object_or_404(with_my_role(queryset, request.user, project_path=project_path), pk=pk)
    _require(obj.my_role, need)
    return obj


def _get_project_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> Project:
    project = get_object_or_404(Project.objects.visible_to(request.user), pk=pk)
    _require(project.my_role, need)
    return project


def _get_membership_for_user(request: HttpRequest, pk: int, need: str = OWN) -> Membership:
    queryset = Membership.objects.select_related("project", "user")
    return _get_for_user(request, queryset, pk, project_path="project", need=need)


def _get_reference_set_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> ReferenceSet:
    queryset = ReferenceSet.objects.select_related("project")
    return _get_for_user(request, queryset, pk, project_path="project", need=need)


def _get_reference_image_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> ReferenceImage:
    queryset = ReferenceImage.objects.select_related("reference_set__project")
    return _get_for_user(request, queryset, pk, project_path="reference_set__project", need=need)


def _get_sequence_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> Sequence:
    queryset = Sequence.objects.select_related("project", "reference_set")
    return _get_for_user(request, queryset, pk, project_path="project", need=need)


def _get_shot_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> Shot:
    queryset = Shot.objects.select_related("sequence__project", "sequence__reference_set")
    return _get_for_user(request, queryset, pk, project_path="sequence__project", need=need)


def _get_take_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> Take:
    queryset = Take.objects.select_related("shot__sequence__project")
    return _get_for_user(request, queryset, pk, project_path="shot__sequence__project", need=need)


def _get_share_link_for_user(request: HttpRequest, pk: int, need: str = EDIT) -> ShareLink:
    queryset = ShareLink.objects.select_related("sequence__project")
    return _get_for_user(request, queryset, pk, project_path="sequence__project", need=need)


def _can_edit(role: str) -> bool:
    return role in Membership.EDITING_ROLES


def _confirm(
    request: HttpRequest, *, title: str, question: str, button: str, cancel_url: str, details: list[str] = ()
) -> HttpResponse | None:
    """The no-JavaScript confirmation step of a destructive action: None once the user has confirmed."""
    if request.POST.get("confirm") == "yes":
        return None
    return render(
        request,
        "projects/confirm.html",
        {
            "title": title,
            "question": question,
            "details": details,
            "button": button,
            "action_url": request.path,
            "cancel_url": cancel_url,
            "hidden": [
                (k, v) for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "confirm")
            ],
        },
    )


# --- what the pages show -------------------------------------------------------------------------

# The pages list dozens of rows, each with links and labels: working them out once in the view is
# much cheaper than one {% url %} and one get_FOO_display per row and column in the template.
_PK_MARK = 987654321
TAKE_STATUS_LABELS = dict(Take.Status.choices)
SEQUENCE_STATUS_LABELS = dict(Sequence.Status.choices)


def _pk_url(name: str) -> Callable[[object], str]:
    """`reverse(name, args=[pk])` for many pks from one reverse."""
    prefix, _, suffix = reverse(name, args=[_PK_MARK]).partition(str(_PK_MARK))
    return lambda pk: f"{prefix}{pk}{suffix}"


@cache
def _catalog_script() -> str:
    """The catalog for the builder's script, as its <script> element: the same for every page."""
    return json_script(catalog_for_pages(), "catalog-data")


# --- dashboard and projects ----------------------------------------------------------------------


def _dashboard_context(request: HttpRequest, *, project_form: ProjectForm | None = None) -> dict:
    user = request.user
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("project")
        .with_sequence_count()
        .order_by("-project__created_at")
    )
    visible = Sequence.objects.filter(project__memberships__user=user).select_related("project")
    return {
        "memberships": memberships,
        "meter": credit_usage.month_meter(user),
        "generating": visible.filter(status__in=Sequence.UNFINISHED).order_by("-started_at"),
        "recent_films": visible.filter(status=Sequence.Status.DONE)
        .exclude(film="")
        .order_by("-finished_at")[:6],
        "project_form": project_form or ProjectForm(),
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "projects/dashboard.html", _dashboard_context(request))


@require_POST
@login_required
def create_project(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST)
    if not form.is_valid():
        return render(request, "projects/dashboard.html", _dashboard_context(request, project_form=form))
    project = services.create_project(
        name=form.cleaned_data["name"], description=form.cleaned_data["description"], owner=request.user
    )
    messages.success(request, f"Project “{project.name}” created. You are its owner.")
    return redirect("project_detail", pk=project.pk)


MODEL_LABELS = dict(Sequence._meta.get_field("model").flatchoices)
THUMBS_PER_SET = 8


def _sequence_rows(project: Project) -> list[dict]:
    """The project's sequence table, its links and words worked out once here (it has a row per
    sequence, 50 and more on a busy project)."""
    link = _pk_url("sequence_detail")
    rows = project.sequences.with_totals().values("pk", "title", "model", "status", "shot_count", "cost")
    return [
        {
            "url": link(row["pk"]),
            "title": row["title"],
            "model": MODEL_LABELS.get(row["model"], row["model"]),
            "badge": status_badge(row["status"]),
            "status": SEQUENCE_STATUS_LABELS.get(row["status"], row["status"]),
            "shots": str(row["shot_count"]),
            "cost": "—" if not row["cost"] else str(row["cost"]),
        }
        for row in rows
    ]


def _reference_set_rows(project: Project) -> list[dict]:
    link = _pk_url("reference_set_detail")
    thumb = _pk_url("reference_image_file")
    rows = []
    for reference_set in project.reference_sets.with_images():
        images = list(reference_set.images.all())[:THUMBS_PER_SET]
        rows.append(
            {
                "url": link(reference_set.pk),
                "name": reference_set.name,
                "count": reference_set.image_count,
                "thumbs": [
                    (thumb(image.pk) + "?size=thumb", f"R{n}: {image.original_name}")
                    for n, image in enumerate(images, start=1)
                ],
            }
        )
    return rows


def _member_rows(request: HttpRequest, project: Project) -> list[dict]:
    change = _pk_url("change_member_role")
    remove = _pk_url("remove_member")
    members = project.memberships.select_related("user").order_by("user__username")
    return [
        {
            "pk": str(member.pk),
            "username": member.user.get_username(),
            "is_me": member.user_id == request.user.pk,
            "role": member.role,
            "role_label": member.get_role_display(),
            "change_url": change(member.pk),
            "remove_url": remove(member.pk),
        }
        for member in members
    ]


def _project_context(request: HttpRequest, project: Project, **forms) -> dict:
    role = project.my_role
    project_meter = credit_usage.project_meter(project)
    can_edit = _can_edit(role)
    return {
        "project": project,
        "role": role,
        "can_edit": can_edit,
        "is_owner": role == Role.OWNER,
        "reference_sets": _reference_set_rows(project),
        "sequences": _sequence_rows(project),
        "members": _member_rows(request, project),
        "role_choices": Role.choices,
        "meter": credit_usage.month_meter(request.user),
        "project_meter": project_meter,
        "budget_form": forms.get("budget_form")
        or ProjectBudgetForm(initial={"monthly_limit": project_meter and project_meter["summary"].limit}),
        "member_form": forms.get("member_form") or AddMemberForm(project=project),
        "reference_set_form": forms.get("reference_set_form") or ReferenceSetForm(),
        "sequence_form": forms.get("sequence_form") or SequenceForm(project=project),
        "catalog_script": _catalog_script() if can_edit else "",
    }


@login_required
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_user(request, pk)
    return render(request, "projects/project_detail.html", _project_context(request, project))


@require_POST
@login_required
def add_member(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_user(request, pk, OWN)
    form = AddMemberForm(request.POST, project=project)
    if not form.is_valid():
        return render(
            request, "projects/project_detail.html", _project_context(request, project, member_form=form)
        )
    user = form.cleaned_data["username"]
    services.add_member(project, user=user, role=form.cleaned_data["role"])
    messages.success(
        request, f"{user.get_username()} added as {Role(form.cleaned_data['role']).label.lower()}."
    )
    return redirect("project_detail", pk=project.pk)


@require_POST
@login_required
def change_member_role(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _get_membership_for_user(request, pk, OWN)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, editor or viewer.")
        return redirect("project_detail", pk=membership.project_id)
    new_role = form.cleaned_data["role"]
    try:
        services.change_role(membership, role=new_role)
    except services.LastOwner as refusal:
        messages.error(request, str(refusal))
        return redirect("project_detail", pk=membership.project_id)
    messages.success(request, f"{membership.user.get_username()} is now {Role(new_role).label.lower()}.")
    return redirect("project_detail", pk=membership.project_id)


@require_POST
@login_required
def remove_member(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _get_membership_for_user(request, pk, OWN)
    back = reverse("project_detail", args=[membership.project_id])
    username = membership.user.get_username()
    confirmation = _confirm(
        request,
        title="Remove member",
        question=f"Remove {username} from “{membership.project.name}”?",
        details=["They will no longer see the project, its sequences or its films."],
        button=f"Remove {username}",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    try:
        services.remove_member(membership)
    except services.LastOwner as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    messages.success(request, f"{username} was removed from the project.")
    if membership.user_id == request.user.pk:
        return redirect("dashboard")
    return redirect(back)


@require_POST
@login_required
def set_project_budget(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_user(request, pk, OWN)
    form = ProjectBudgetForm(request.POST)
    if not form.is_valid():
        return render(
            request, "projects/project_detail.html", _project_context(request, project, budget_form=form)
        )
    limit = form.cleaned_data["monthly_limit"]
    credits.set_project_limit(project, credits=limit)
    if limit is None:
        messages.success(request, "The project's monthly cap was removed.")
    else:
        messages.success(request, f"The project may now use {limit} credits per month.")
    return redirect("project_detail", pk=project.pk)


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
    if result.added:
        count = len(result.added)
        messages.success(request, f"Added {count} image{'s' if count != 1 else ''}.")
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
    confirmation = _confirm(
        request,
        title="Remove image",
        question=f"Remove “{image}” from “{image.reference_set.name}”?",
        details=["Shots that start or end on it will need another image."],
        button="Remove image",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    reference_images.delete_reference_image(image)
    messages.success(request, f"“{image}” was removed.")
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


# --- sequences and shots -------------------------------------------------------------------------


@require_POST
@login_required
def create_sequence(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_user(request, pk, EDIT)
    form = SequenceForm(request.POST, project=project)
    if not form.is_valid():
        context = _project_context(request, project, sequence_form=form)
        return render(request, "projects/project_detail.html", context)
    sequence = form.save(commit=False)
    sequence.project = project
    sequence.created_by = request.user
    sequence.save()
    messages.success(request, f"Sequence “{sequence.title}” created. Add its shots below.")
    return redirect("sequence_detail", pk=sequence.pk)


# The fields of a take that the generation panel shows; its request and notices (large JSON) and
# the rest are never read there.
TAKE_FIELDS = (
    "shot_id",
    "status",
    "failure_code",
    "failure_message",
    "output",
    "progress",
    "estimated_credits",
    "cost_credits",
)


def _takes_of(shots: list[Shot]) -> dict[int, list[Take]]:
    """Each shot's takes, oldest first, by shot pk: one query for the whole sequence."""
    takes: dict[int, list[Take]] = {shot.pk: [] for shot in shots}
    rows = Take.objects.filter(shot_id__in=list(takes)).only(*TAKE_FIELDS).order_by("created_at", "pk")
    for take in rows:
        takes[take.shot_id].append(take)
    return takes


def _charge_text(take: Take) -> str:
    if take.cost_credits is not None:
        return f"{take.cost_credits} credits charged"
    if take.status == Take.Status.UNCONFIRMED:
        return f"{take.estimated_credits} credits held"
    if take.is_final:
        return "nothing charged"
    return f"about {take.estimated_credits} credits"


def _take_rows(takes: list[Take], shot: Shot, *, can_edit: bool, is_active: bool, urls: dict) -> list[dict]:
    """What the panel shows of each take, worked out once here rather than per row in the template."""
    rows = []
    for number, take in enumerate(takes, start=1):
        status = take.status
        is_chosen = take.pk == shot.chosen_take_id
        row = {
            "key": f"take-{take.pk}",
            "number": str(number),
            "is_chosen": is_chosen,
            "badge": status_badge(status),
            "status": TAKE_STATUS_LABELS.get(status, status),
            "charge": _charge_text(take),
            "reason": "",
            "fetch_url": "",
            "note": "",
            "video_url": "",
            "percent": "",
            "choose_url": "",
        }
        if status in (Take.Status.FAILED, Take.Status.UNCONFIRMED):
            row["reason"] = failure_reason(take)
            if can_edit and take.failure_code == "DOWNLOAD":
                row["fetch_url"] = urls["fetch"](take.pk)
        elif status == Take.Status.CANCELLED and take.failure_message:
            row["note"] = f"{take.failure_message} {take.charge_note}"
        elif take.output:
            row["video_url"] = urls["video"](take.pk)
        elif not take.is_final:
            row["percent"] = str(percent(take.progress))
        if not is_chosen and can_edit and status == Take.Status.SUCCEEDED and not is_active:
            row["choose_url"] = urls["choose"](take.pk)
        rows.append(row)
    return rows


def _progress_context(
    request: HttpRequest, sequence: Sequence, shots: list[Shot], takes_of: dict[int, list[Take]]
) -> dict:
    can_edit = _can_edit(sequence.my_role)
    is_active = sequence.is_generating
    urls = {
        "retake": _pk_url("retake_shot"),
        "fetch": _pk_url("fetch_take_again"),
        "video": _pk_url("take_video"),
        "choose": _pk_url("choose_take"),
    }
    rows = []
    for number, shot in enumerate(shots, start=1):
        takes = takes_of[shot.pk]
        if not takes:
            continue
        rows.append(
            {
                "shot": shot,
                "number": str(number),
                "retake_url": urls["retake"](shot.pk) if can_edit and not is_active else "",
                "takes": _take_rows(takes, shot, can_edit=can_edit, is_active=is_active, urls=urls),
            }
        )
    attention = []
    if sequence.status == Sequence.Status.NEEDS_ATTENTION:
        numbers = {shot.pk: n for n, shot in enumerate(shots, start=1)}
        for shot in pipeline.stuck_shots(sequence, [(shot, takes_of[shot.pk]) for shot in shots]):
            takes = takes_of[shot.pk]
            attention.append({"number": numbers[shot.pk], "shot": shot, "take": takes[-1] if takes else None})
    return {
        "sequence": sequence,
        "sequence_status": SEQUENCE_STATUS_LABELS.get(sequence.status, sequence.status),
        "can_edit": can_edit,
        "progress_rows": rows,
        "has_progress_actions": any(
            row["retake_url"] or any(take["fetch_url"] or take["choose_url"] for take in row["takes"])
            for row in rows
        ),
        "has_stale": any(shot.is_stale for shot in shots),
        "is_active": is_active,
        "attention": attention,
        "other_runway": _other_runway(sequence),
    }


def _other_runway(sequence: Sequence) -> str:
    """The API base of the Runway a generating sequence runs on, when it is not this site's own
    (a command line with a simulator of its own started it): this site cannot follow those takes."""
    if not sequence.is_generating or not sequence.runway_origin:
        return ""
    if sequence.runway_origin == pipeline.current_origin():
        return ""
    return runway.origin_base(sequence.runway_origin)


def _shot_row(shot: Shot, index: int, item, first, last, form: ShotForm | None, *, urls: dict) -> dict:
    """One row of the shot list, its words and links worked out here rather than per row in the
    template (the list is the longest part of the page)."""
    meta = f"{shot.duration} s"
    if shot.seed is not None:
        meta += f" · seed {shot.seed}"
    if item:
        meta += f" · {item.credits} credits"
    classes = "card shot"
    if item and item.error:
        classes += " has-error"
    if shot.is_stale:
        classes += " is-stale"
    return {
        "number": index + 1,
        "label": str(index + 1),
        "shot": shot,
        "anchor": f"shot-{shot.pk}",
        "edit_href": f"?edit={shot.pk}#shot-{shot.pk}",
        "classes": classes,
        "meta": meta,
        "prompt": shot.prompt or "(no prompt)",
        "first": first,
        "last": last,
        "first_thumb": urls["thumb"](first.image.pk) + "?size=thumb" if first.image else "",
        "last_thumb": urls["thumb"](last.image.pk) + "?size=thumb" if last.image else "",
        "estimate": item,
        "notices": item.notices if item else (),
        "error": item.error if item else "",
        "move_url": urls["move"](shot.pk),
        "delete_url": urls["delete"](shot.pk),
        "edit_url": urls["edit"](shot.pk),
        "form": form,
    }


def _sequence_context(
    request: HttpRequest,
    sequence: Sequence,
    *,
    sequence_form: SequenceForm | None = None,
    shot_form: tuple[int, ShotForm] | None = None,
    add_shot_form: ShotForm | None = None,
) -> dict:
    can_edit = _can_edit(sequence.my_role)
    is_editable = can_edit and not sequence.is_generating
    images = estimates.references_of(sequence)
    estimate = estimates.estimate_sequence(sequence, references=images)
    # The estimate has loaded the shots in order, with their frames and chosen takes: reuse them.
    shots = [item.shot for item in estimate.shots]
    to_generate = estimate.to_generate()
    by_shot = {item.shot.pk: item for item in estimate.shots}
    frames = estimates.frame_sources(sequence, estimate=estimate, references=images)
    meter = credit_usage.month_meter(request.user)

    urls = {
        "move": _pk_url("move_shot"),
        "delete": _pk_url("delete_shot"),
        "edit": _pk_url("edit_shot"),
        "thumb": _pk_url("reference_image_file"),
    }
    shot_rows = []
    for index, shot in enumerate(shots):
        item = by_shot.get(shot.pk)
        first, last = frames.get(shot.pk, estimates.UNKNOWN_FRAMES)
        # Only the shot being edited gets its form: rendering a form per shot dominated the page.
        form = None
        if is_editable and shot_form and shot_form[0] == shot.pk:
            form = shot_form[1]
        elif is_editable and request.GET.get("edit") == str(shot.pk):
            form = ShotForm(instance=shot, sequence=sequence, images=images, auto_id=f"shot{shot.pk}_%s")
        shot_rows.append(_shot_row(shot, index, item, first, last, form, urls=urls))

    if add_shot_form is None and is_editable:
        initial = services.new_shot_initial(sequence, shot_count=len(shots), references=images)
        add_shot_form = ShotForm(initial=initial, sequence=sequence, images=images, auto_id="new_%s")

    # Who has a link, and how it is used, is for the people who may make and revoke links.
    share_links = []
    if can_edit and sequence.status == Sequence.Status.DONE:
        share_links = list(sequence.share_links.all())

    has_errors = any(item.error for item in to_generate.shots)
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "video_model": sequence.video_model,
        "can_edit": can_edit,
        "is_editable": is_editable,
        "shot_rows": shot_rows,
        "images": images,
        "estimate": estimate,
        "has_errors": has_errors,
        "meter": meter,
        "to_generate": to_generate,
        "kept_count": len(shots) - len(to_generate.shots),
        "remaining_after": meter["summary"].available - to_generate.total_credits,
        "shortfall": max(to_generate.total_credits - meter["summary"].available, 0),
        "is_startable": sequence.is_startable,
        "can_start": can_edit and sequence.is_startable and bool(shots) and not has_errors,
        "sequence_form": sequence_form
        or (SequenceForm(instance=sequence, project=sequence.project) if is_editable else None),
        "is_sequence_form_open": sequence_form is not None,
        "add_shot_form": add_shot_form,
        "share_links": share_links,
        "share_form": ShareLinkForm() if can_edit and sequence.status == Sequence.Status.DONE else None,
        "catalog_script": _catalog_script(),
        "sequence_url": reverse("sequence_detail", args=[sequence.pk]),
    }
    context.update(_progress_context(request, sequence, shots, _takes_of(shots)))
    return context


@login_required
def sequence_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk)
    return render(request, "projects/sequence_detail.html", _sequence_context(request, sequence))


def _refuse_while_generating(request: HttpRequest, sequence: Sequence) -> HttpResponse | None:
    """The early answer to a change of a generating sequence; the services check again under a lock."""
    if sequence.is_generating:
        messages.error(request, str(services.SequenceIsGenerating()))
        return redirect("sequence_detail", pk=sequence.pk)
    return None


@require_POST
@login_required
def edit_sequence(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    if refusal := _refuse_while_generating(request, sequence):
        return refusal
    form = SequenceForm(request.POST, instance=sequence, project=sequence.project)
    if not form.is_valid():
        # The instance has taken the invalid values; show the page for the stored sequence.
        stored = _get_sequence_for_user(request, pk, EDIT)
        context = _sequence_context(request, stored, sequence_form=form)
        return render(request, "projects/sequence_detail.html", context)
    try:
        services.save_sequence(form)
    except services.SequenceIsGenerating as refusal:
        messages.error(request, str(refusal))
        return redirect("sequence_detail", pk=sequence.pk)
    messages.success(request, "Sequence settings saved.")
    return redirect("sequence_detail", pk=sequence.pk)


@require_POST
@login_required
def add_shot(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    if refusal := _refuse_while_generating(request, sequence):
        return refusal
    images = estimates.references_of(sequence)
    form = ShotForm(request.POST, sequence=sequence, images=images, auto_id="new_%s")
    if not form.is_valid():
        context = _sequence_context(request, sequence, add_shot_form=form)
        return render(request, "projects/sequence_detail.html", context)
    try:
        shot = services.add_shot(form)
    except services.SequenceIsGenerating as refusal:
        messages.error(request, str(refusal))
        return redirect("sequence_detail", pk=sequence.pk)
    messages.success(request, f"Shot {sequence.shots.count()} added.")
    return redirect(reverse("sequence_detail", args=[sequence.pk]) + f"#shot-{shot.pk}")


@require_POST
@login_required
def edit_shot(request: HttpRequest, pk: int) -> HttpResponse:
    shot = _get_shot_for_user(request, pk, EDIT)
    sequence = shot.sequence
    sequence.my_role = shot.my_role
    if refusal := _refuse_while_generating(request, sequence):
        return refusal
    images = estimates.references_of(sequence)
    form = ShotForm(
        request.POST, instance=shot, sequence=sequence, images=images, auto_id=f"shot{shot.pk}_%s"
    )
    if not form.is_valid():
        context = _sequence_context(request, sequence, shot_form=(shot.pk, form))
        return render(request, "projects/sequence_detail.html", context)
    try:
        services.save_shot(form)
    except services.SequenceIsGenerating as refusal:
        messages.error(request, str(refusal))
        return redirect("sequence_detail", pk=sequence.pk)
    messages.success(request, "Shot saved.")
    return redirect(reverse("sequence_detail", args=[sequence.pk]) + f"#shot-{shot.pk}")


@require_POST
@login_required
def move_shot(request: HttpRequest, pk: int) -> HttpResponse:
    shot = _get_shot_for_user(request, pk, EDIT)
    if refusal := _refuse_while_generating(request, shot.sequence):
        return refusal
    form = DirectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Move the shot up or down.")
    else:
        try:
            services.move_shot(shot, direction=form.cleaned_data["direction"])
        except services.SequenceIsGenerating as refusal:
            messages.error(request, str(refusal))
    return redirect(reverse("sequence_detail", args=[shot.sequence_id]) + f"#shot-{shot.pk}")


@require_POST
@login_required
def delete_shot(request: HttpRequest, pk: int) -> HttpResponse:
    shot = _get_shot_for_user(request, pk, EDIT)
    if refusal := _refuse_while_generating(request, shot.sequence):
        return refusal
    back = reverse("sequence_detail", args=[shot.sequence_id])
    confirmation = _confirm(
        request,
        title="Delete shot",
        question=f"Delete {shot}?",
        details=["Its takes and their clips are deleted with it."],
        button="Delete shot",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    try:
        services.delete_shot(shot)
    except services.SequenceIsGenerating as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    messages.success(request, "Shot deleted.")
    return redirect(back)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def start_sequence(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page with the amount and what remains; POST: start generating."""
    sequence = _get_sequence_for_user(request, pk, EDIT)
    if not sequence.is_startable:
        messages.info(request, "This sequence is generating or finished. Retake single shots instead.")
        return redirect("sequence_detail", pk=sequence.pk)
    # Only the shots without a valid take are made; the same estimate is held by the pipeline.
    estimate = estimates.estimate_generation(sequence)
    if request.method == "POST":
        if request.POST.get("credits") != str(estimate.total_credits):
            messages.warning(
                request,
                f"The estimate is now {estimate.total_credits} credits. Check it and confirm again.",
            )
            return redirect("start_sequence", pk=sequence.pk)
        try:
            pipeline.start_sequence(sequence, user=request.user, expected_credits=estimate.total_credits)
        except SPEND_ERRORS as error:
            messages.error(request, str(error))
            return redirect("start_sequence", pk=sequence.pk)
        if estimate.shots:
            messages.success(
                request, f"Generating “{sequence.title}”: {estimate.total_credits} credits reserved."
            )
        else:
            messages.success(request, f"Assembling “{sequence.title}” from the chosen takes.")
        return redirect("sequence_detail", pk=sequence.pk)

    shots = list(sequence.shots.order_by("position", "pk"))
    by_shot = {item.shot.pk: item for item in estimate.shots}
    meter = credit_usage.month_meter(request.user)
    has_errors = any(item.error for item in estimate.shots)
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "rows": [(n, by_shot[shot.pk]) for n, shot in enumerate(shots, start=1) if shot.pk in by_shot],
        "kept": [n for n, shot in enumerate(shots, start=1) if shot.pk not in by_shot],
        "estimate": estimate,
        "meter": meter,
        "remaining_after": meter["summary"].available - estimate.total_credits,
        "can_afford": estimate.total_credits <= meter["summary"].available,
        "has_errors": has_errors,
        "has_shots": bool(shots),
    }
    return render(request, "projects/start_sequence.html", context)


@require_safe
@login_required
def sequence_progress(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk)
    shots = list(sequence.shots.order_by("position", "pk"))
    context = _progress_context(request, sequence, shots, _takes_of(shots))
    response = render(request, "projects/_sequence_progress.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def cancel_sequence(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk])
    if not sequence.is_unfinished:
        messages.info(request, "This sequence is not generating.")
        return redirect(back)
    confirmation = _confirm(
        request,
        title="Cancel generation",
        question=f"Stop generating “{sequence.title}”?",
        details=[
            "Takes Runway has not started yet are cancelled and their held credits returned.",
            "Takes Runway is already generating are stopped, but Runway keeps their charge.",
            "Clips Runway has finished are saved and kept: they were paid for.",
        ],
        button="Cancel generation",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    result = pipeline.cancel_sequence(sequence)
    messages.success(request, str(result))
    return redirect(back)


@require_POST
@login_required
def retake_shot(request: HttpRequest, pk: int) -> HttpResponse:
    """A retake that also makes later shots (after a failure stopped a stitched sequence), or that
    continues a sequence needing attention, is confirmed first with its whole cost."""
    shot = _get_shot_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[shot.sequence_id]) + f"#progress-shot-{shot.pk}"
    estimate = estimates.estimate_retake(shot)
    expected = None
    if len(estimate.shots) > 1 or shot.sequence.status == Sequence.Status.NEEDS_ATTENTION:
        expected = estimate.total_credits
        if request.POST.get("confirm") != "yes" or request.POST.get("credits") != str(expected):
            if request.POST.get("confirm") == "yes":
                messages.warning(
                    request, f"The estimate is now {expected} credits. Check it and confirm again."
                )
            return _retake_confirmation(request, shot, estimate, back=back)
    try:
        pipeline.retake_shot(shot, user=request.user, expected_credits=expected)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        if len(estimate.shots) > 1:
            messages.success(
                request,
                f"A new take of shot {shot.position + 1} is on its way, then the {len(estimate.shots) - 1} "
                f"shot(s) after it: {estimate.total_credits} credits reserved.",
            )
        else:
            messages.success(request, f"A new take of shot {shot.position + 1} is on its way.")
    return redirect(back)


def _retake_confirmation(request: HttpRequest, shot: Shot, estimate, *, back: str) -> HttpResponse:
    numbers = {pk: n for n, pk in enumerate(shot.sequence.shots.values_list("pk", flat=True), start=1)}
    meter = credit_usage.month_meter(request.user)
    available = meter["summary"].available
    context = {
        "project": shot.sequence.project,
        "sequence": shot.sequence,
        "shot": shot,
        "number": numbers[shot.pk],
        "rows": [(numbers[item.shot.pk], item) for item in estimate.shots],
        "estimate": estimate,
        "meter": meter,
        "remaining_after": available - estimate.total_credits,
        "can_afford": estimate.total_credits <= available,
        "has_errors": any(item.error for item in estimate.shots),
        "back": back,
    }
    return render(request, "projects/retake_shot.html", context)


@require_POST
@login_required
def choose_take(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_take_for_user(request, pk, EDIT)
    try:
        pipeline.choose_take(take)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, "Take chosen. Later stitched shots that started from the old one are marked stale."
        )
    return redirect(
        reverse("sequence_detail", args=[take.shot.sequence_id]) + f"#progress-shot-{take.shot_id}"
    )


@require_POST
@login_required
def fetch_take_again(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_take_for_user(request, pk, EDIT)
    try:
        pipeline.fetch_take_again(take)
    except pipeline.PipelineError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Fetching the clip again from Runway. It is not charged twice.")
    return redirect(
        reverse("sequence_detail", args=[take.shot.sequence_id]) + f"#progress-shot-{take.shot_id}"
    )


@require_POST
@login_required
def regenerate_stale_shots(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    try:
        pipeline.regenerate_stale_shots(sequence, user=request.user)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Regenerating the stale shots.")
    return redirect("sequence_detail", pk=sequence.pk)


def _film_filename(sequence: Sequence, suffix: str = "mp4") -> str:
    return f"{slugify(sequence.title) or 'film'}.{suffix}"


@require_safe
@login_required
def take_video(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_take_for_user(request, pk)
    if not take.output:
        raise Http404("This take has no video yet.")
    filename = f"{slugify(take.shot.sequence.title) or 'take'}-shot{take.shot.position + 1}-take{take.pk}.mp4"
    return ranged_file_response(request, take.output, filename=filename, as_attachment=False)


@require_safe
@login_required
def sequence_film(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk)
    if not sequence.film:
        raise Http404("This sequence has no film yet.")
    as_attachment = request.GET.get("download") == "1"
    return ranged_file_response(
        request, sequence.film, filename=_film_filename(sequence), as_attachment=as_attachment
    )


@require_safe
@login_required
def sequence_poster(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk)
    if not sequence.poster:
        raise Http404("This sequence has no poster yet.")
    extension = sequence.poster.name.rsplit(".", 1)[-1]
    return ranged_file_response(
        request, sequence.poster, filename=_film_filename(sequence, extension), as_attachment=False
    )


# --- sharing -------------------------------------------------------------------------------------


@require_POST
@login_required
def create_share_link(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk]) + "#sharing"
    if not sequence.is_shareable:
        messages.error(request, str(services.NotShareable()))
        return redirect(back)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the number of days as a whole number from 1 to 365, or leave it empty.")
        return redirect(back)
    try:
        link, token = services.issue_share_link(
            sequence, created_by=request.user, expires_in_days=form.cleaned_data["expires_in_days"]
        )
    except services.NotShareable as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    # The token is stored nowhere (not in a message, not in the session): this response is the only
    # place it appears, so it is rendered here instead of after a redirect, and never cached.
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "link": link,
        "number": sequence.share_links.count(),
        "url": request.build_absolute_uri(reverse("shared_film", args=[token])),
        "back": back,
    }
    response = render(request, "projects/create_share_link.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_POST
@login_required
def revoke_share_link(request: HttpRequest, pk: int) -> HttpResponse:
    link = _get_share_link_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[link.sequence_id]) + "#sharing"
    confirmation = _confirm(
        request,
        title="Revoke share link",
        question=f"Revoke this share link for “{link.sequence.title}”?",
        details=["Anyone who has the link will no longer be able to watch or download the film."],
        button="Revoke link",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    link.revoke()
    messages.success(request, "Share link revoked.")
    return redirect(back)


def _share_link_or_gone(request: HttpRequest, token: str) -> tuple[ShareLink | None, HttpResponse | None]:
    ip = throttle.client_ip(request)
    if throttle.is_blocked("share-miss", ip, limit=settings.SHARE_LINK_MISS_LIMIT):
        return None, render(request, "projects/shared_film_throttled.html", {"hide_nav": True}, status=429)
    link = ShareLink.find(token)
    if link is None:
        throttle.record_failure("share-miss", ip, window=settings.SHARE_LINK_MISS_WINDOW)
        raise Http404("No such link.")
    if not link.is_usable:
        response = render(
            request, "projects/shared_film_gone.html", {"link": link, "hide_nav": True}, status=410
        )
        response["Referrer-Policy"] = "no-referrer"
        return None, response
    return link, None


SHARED_CACHE_CONTROL = "private, no-store"


def _private_headers(response: HttpResponse) -> HttpResponse:
    # The token is the whole secret: keep it out of Referer headers and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    # Nothing is kept by the browser, so a revoked link stops working there too.
    response["Cache-Control"] = SHARED_CACHE_CONTROL
    return response


@require_safe
def shared_film(request: HttpRequest, token: str) -> HttpResponse:
    link, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    context = {"link": link, "token": token, "sequence": link.sequence, "hide_nav": True}
    return _private_headers(render(request, "projects/shared_film.html", context))


@require_safe
def shared_film_download(request: HttpRequest, token: str) -> HttpResponse:
    """The film for a client; `?inline=1` is the page's player, counted as a play, not a download."""
    link, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    film = link.sequence.film
    is_inline = request.GET.get("inline") == "1"
    if starts_a_fetch(request, film.size):
        link.count_fetch(is_play=is_inline)
    response = ranged_file_response(
        request,
        film,
        filename=_film_filename(link.sequence),
        as_attachment=not is_inline,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


@require_safe
def shared_film_poster(request: HttpRequest, token: str) -> HttpResponse:
    link, gone = _share_link_or_gone(request, token)
    if gone:
        return gone
    poster = link.sequence.poster
    if not poster:
        raise Http404("No poster.")
    extension = poster.name.rsplit(".", 1)[-1]
    response = ranged_file_response(
        request,
        poster,
        filename=_film_filename(link.sequence, extension),
        as_attachment=False,
        cache_control=SHARED_CACHE_CONTROL,
    )
    return _private_headers(response)


# --- usage ---------------------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM = 720, 220, 20, 36


def _month_bars(months: list[dict]) -> dict:
    """Geometry of a server-rendered SVG bar chart of credits used per month."""
    peak = max((m["used"] for m in months), default=0) or 1
    slot = CHART_WIDTH / max(len(months), 1)
    bar_width = min(48.0, slot * 0.6)
    usable = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    bars = []
    for index, month in enumerate(months):
        height = round(month["used"] / peak * usable, 1)
        x = round(index * slot + (slot - bar_width) / 2, 1)
        bars.append(
            {
                "x": x,
                "y": round(CHART_TOP + usable - height, 1),
                "width": round(bar_width, 1),
                "height": height,
                "label_x": round(x + bar_width / 2, 1),
                "value_y": round(CHART_TOP + usable - height - 5, 1),
                "label": month["month"].strftime("%b %Y"),
                "used": month["used"],
                "released": month["released"],
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "axis_y": CHART_TOP + usable,
        "label_y": CHART_HEIGHT - 14,
    }


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    report = credit_usage.usage_of(request.user)
    context = {
        "page": Paginator(report.entries, 25).get_page(request.GET.get("page")),
        "per_project": report.per_project,
        "per_month": report.per_month,
        "chart": _month_bars(report.per_month),
        "totals": report.totals,
        "meter": credit_usage.month_meter(request.user),
    }
    return render(request, "projects/usage.html", context)
