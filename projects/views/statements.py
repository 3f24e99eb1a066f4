"""A project's monthly statement, as a printable page and as CSV, and its markup."""

import csv
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from generation.admin import spreadsheet_cell
from projects import statements
from projects.models import Membership, Project


def _get_project_for_statement(request: HttpRequest, pk: int) -> Project:
    """The project, for its owners and for admins who may read the ledger; 404 for someone who
    cannot see the project, 403 for its editors and viewers."""
    if request.user.has_perm("generation.view_ledgerentry"):
        return get_object_or_404(Project, pk=pk)
    project = get_object_or_404(Project.objects.visible_to(request.user), pk=pk)
    if project.my_role != Membership.Role.OWNER:
        raise PermissionDenied("Only the project's owners can read its statements.")
    return project


def _month(request: HttpRequest):
    try:
        return statements.parse_month(request.GET.get("month"))
    except ValueError:
        raise Http404("No such month.") from None


@login_required
def project_statement(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_statement(request, pk)
    statement = statements.statement_for(project, month=_month(request))
    context = {
        "project": project,
        "statement": statement,
        "month_param": f"{statement.month:%Y-%m}",
        "previous_month": statements.previous_month(statement.month),
        "next_month": statements.next_month(statement.month),
    }
    return render(request, "projects/project_statement.html", context)


@login_required
def project_statement_csv(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_statement(request, pk)
    statement = statements.statement_for(project, month=_month(request))
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{project.pk}-{statement.month:%Y-%m}.csv"'
    )
    writer = csv.writer(response)
    for row in statements.csv_rows(statement):
        writer.writerow([spreadsheet_cell(cell) for cell in row])
    return response


@require_POST
@login_required
def set_project_markup(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_statement(request, pk)
    back = reverse("project_statement", args=[project.pk])
    try:
        percent = Decimal(request.POST.get("markup_percent", "").strip() or "0")
        statements.set_markup(project, percent=percent, by=request.user)
    except (InvalidOperation, ValueError):
        messages.error(request, "Give the markup as a percentage between 0 and 999, like 15 or 12.5.")
        return redirect(back)
    messages.success(request, f"Statements of this project now add {project.markup_percent}%.")
    return redirect(back)
