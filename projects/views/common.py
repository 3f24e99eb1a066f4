"""What every view shares: lookups that check membership, confirmations, page helpers."""

from collections.abc import Callable
from functools import cache

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.html import json_script
from django.utils.text import slugify

from generation import catalog, credits, pipeline
from generation.models import Take
from projects.forms import (
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


def _film_filename(sequence: Sequence, suffix: str = "mp4") -> str:
    return f"{slugify(sequence.title) or 'film'}.{suffix}"


# --- text a refused save must not lose --------------------------------------------------------------


def typed_text(form, data) -> list[dict]:
    """What the user typed in the text fields of `form` (label and value), for a page that could not
    save it: refused edits never discard typed text."""
    from django import forms

    typed = []
    for name, field in form.fields.items():
        if isinstance(field.widget, forms.Textarea | forms.TextInput) and not field.widget.is_hidden:
            value = (data.get(form.add_prefix(name)) or "").strip()
            if value:
                typed.append({"label": field.label or name.replace("_", " ").capitalize(), "value": value})
    return typed
