"""Dashboard, projects, their members and budgets."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from generation import credits
from projects import home, services
from projects import usage as credit_usage
from projects.forms import (
    AddMemberForm,
    MemberRoleForm,
    ProjectBrandingForm,
    ProjectBudgetForm,
    ProjectForm,
    ReferenceSetForm,
    SequenceForm,
)
from projects.models import (
    Membership,
    Project,
    Sequence,
)
from projects.templatetags.studio import status_badge
from projects.views.common import (
    OWN,
    SEQUENCE_STATUS_LABELS,
    Role,
    _can_edit,
    _catalog_script,
    _confirm,
    _get_membership_for_user,
    _get_project_for_user,
    _get_sequence_for_user,
    _pk_url,
)

# --- dashboard and projects ----------------------------------------------------------------------


def _dashboard_context(
    request: HttpRequest, *, project_form: ProjectForm | None = None, since: dt.datetime | None = None
) -> dict:
    user = request.user
    memberships = (
        Membership.objects.filter(user=user)
        .select_related("project")
        .with_sequence_count()
        .order_by("-project__created_at")
    )
    visible = Sequence.objects.filter(project__memberships__user=user).select_related("project")
    runs = home.runs_under_way(user)
    for run in runs:
        run.progress = home.progress_words(run)
    return {
        "memberships": memberships,
        "meter": credit_usage.month_meter(user),
        "generating": runs,
        "feedback": home.feedback_waiting(user),
        "finished": home.finished_since(user, since),
        "since": since,
        "recent_films": visible.filter(status=Sequence.Status.DONE)
        .exclude(film="")
        .order_by("-finished_at")[:6],
        "project_form": project_form or ProjectForm(),
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    since = home.record_visit(request.user, studio_url=request.build_absolute_uri("/"))
    return render(request, "projects/dashboard.html", _dashboard_context(request, since=since))


@require_POST
@login_required
def sequence_seen(request: HttpRequest, pk: int) -> HttpResponse:
    """The sequence's open page says it is being looked at (static/js/notify.js): feedback shown
    there is no longer waiting, and a run that ends meanwhile is not mailed."""
    sequence = _get_sequence_for_user(request, pk)
    home.record_look(request.user, sequence, studio_url=request.build_absolute_uri("/"))
    return HttpResponse(status=204)


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
        "branding_form": (forms.get("branding_form") or ProjectBrandingForm(instance=project))
        if role == Role.OWNER
        else None,
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
    services.add_member(project, user=user, role=form.cleaned_data["role"], by=request.user)
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
        services.change_role(membership, role=new_role, by=request.user)
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
        services.remove_member(membership, by=request.user)
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
    credits.set_project_limit(project, credits=limit, by=request.user)
    if limit is None:
        messages.success(request, "The project's monthly cap was removed.")
    else:
        messages.success(request, f"The project may now use {limit} credits per month.")
    return redirect("project_detail", pk=project.pk)
