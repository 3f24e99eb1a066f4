import csv
import datetime as dt
import re

from django import forms
from django.contrib import admin, messages
from django.db.models import BigIntegerField, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from generation import catalog, credits
from generation.audit import AuditEntry
from generation.models import (
    CreditBudget,
    CreditMonth,
    LedgerEntry,
    ModelPrice,
    PriceDrift,
    ProjectBudget,
    Take,
    UsageReconciliation,
)
from projects.admin import file_fields, stored_file


def _this_month(field: str, *, owner: str) -> Coalesce:
    """This month's running figure `field` of the budget's user or project (0 before any spending)."""
    figures = CreditMonth.objects.filter(**{owner: OuterRef(owner)}, month=credits.month_start().date())
    return Coalesce(Subquery(figures.values(field)[:1], output_field=BigIntegerField()), 0)


class GrantForm(forms.Form):
    credits = forms.IntegerField(help_text="Credits to add this month (negative to take away).")
    reason = forms.CharField(max_length=500)

    def clean_credits(self) -> int:
        amount = self.cleaned_data["credits"]
        try:
            credits.check_credits_in_range(amount, model=LedgerEntry, field="credits", what="A grant")
        except credits.CreditsOutOfRange as error:
            raise forms.ValidationError(str(error)) from None
        return amount


@admin.register(CreditBudget)
class CreditBudgetAdmin(admin.ModelAdmin):
    list_display = ["user", "monthly_limit", "granted", "used", "held", "available", "updated_at"]
    list_editable = ["monthly_limit"]
    search_fields = ["user__username", "user__email"]
    readonly_fields = ["updated_at"]
    actions = ["grant_credits"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request: HttpRequest):
        # The running figures, not the ledger: the list costs the same with any amount of history.
        return (
            super()
            .get_queryset(request)
            .select_related("user")
            .annotate(
                granted_sum=_this_month("granted", owner="user"),
                used_sum=_this_month("used", owner="user"),
                held_sum=F("held"),
            )
            .annotate(available_sum=F("monthly_limit") + F("granted_sum") - F("used_sum") - F("held_sum"))
        )

    def save_model(self, request: HttpRequest, obj: CreditBudget, form, change: bool) -> None:
        # Through the service, which locks the row and writes only the limit: a plain save() would
        # also write back the `held` read when the page was loaded.
        budget = credits.set_monthly_limit(obj.user, credits=obj.monthly_limit, by=request.user)
        obj.pk = budget.pk

    @admin.display(description="Granted this month", ordering="granted_sum")
    def granted(self, obj: CreditBudget) -> int:
        return obj.granted_sum

    @admin.display(description="Used this month", ordering="used_sum")
    def used(self, obj: CreditBudget) -> int:
        return obj.used_sum

    @admin.display(description="Held now", ordering="held_sum")
    def held(self, obj: CreditBudget) -> int:
        return obj.held_sum

    @admin.display(description="Available", ordering="available_sum")
    def available(self, obj: CreditBudget) -> int:
        return obj.available_sum

    @admin.action(description="Grant credits to the selected users")
    def grant_credits(self, request: HttpRequest, queryset):
        if "apply" in request.POST:
            form = GrantForm(request.POST)
            if form.is_valid():
                try:
                    credits.grant_many(
                        [budget.user for budget in queryset.select_related("user")],
                        credits=form.cleaned_data["credits"],
                        reason=form.cleaned_data["reason"],
                        by=request.user,
                    )
                except credits.CreditsOutOfRange as error:
                    self.message_user(request, f"Nothing was granted: {error}", messages.ERROR)
                    return None
                self.message_user(
                    request,
                    f"Granted {form.cleaned_data['credits']} credits to {queryset.count()} user(s).",
                    messages.SUCCESS,
                )
                return None
        else:
            form = GrantForm()
        return render(
            request,
            "admin/generation/grant_credits.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "budgets": queryset,
                "opts": self.model._meta,
            },
        )


@admin.register(ProjectBudget)
class ProjectBudgetAdmin(admin.ModelAdmin):
    list_display = ["project", "monthly_limit", "used", "held", "available", "updated_at"]
    list_editable = ["monthly_limit"]
    search_fields = ["project__name"]
    fields = ["project", "monthly_limit", "used", "held", "available", "updated_at"]
    readonly_fields = ["used", "held", "available", "updated_at"]
    autocomplete_fields = ["project"]

    def get_queryset(self, request: HttpRequest):
        return (
            super()
            .get_queryset(request)
            .select_related("project")
            .annotate(used_sum=_this_month("used", owner="project"), held_sum=F("held"))
            .annotate(available_sum=F("monthly_limit") - F("used_sum") - F("held_sum"))
        )

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [*self.readonly_fields, "project"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ProjectBudget, form, change: bool) -> None:
        budget = credits.set_project_limit(obj.project, credits=obj.monthly_limit, by=request.user)
        obj.pk = budget.pk

    @admin.display(description="Used this month", ordering="used_sum")
    def used(self, obj: ProjectBudget) -> int:
        return obj.used_sum

    @admin.display(description="Held now", ordering="held_sum")
    def held(self, obj: ProjectBudget) -> int:
        return obj.held_sum

    @admin.display(description="Available", ordering="available_sum")
    def available(self, obj: ProjectBudget) -> int | str:
        return "No cap" if obj.monthly_limit is None else obj.available_sum


class MonthFilter(admin.SimpleListFilter):
    title = "month"
    parameter_name = "month"

    def lookups(self, request, model_admin):
        start = credits.month_start()
        months = []
        for _ in range(12):
            months.append((start.strftime("%Y-%m"), start.strftime("%B %Y")))
            start = credits.month_start(start - dt.timedelta(days=1))
        return months

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            year, month = (int(part) for part in self.value().split("-"))
            start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        except ValueError:
            return queryset.none()
        return queryset.filter(created_at__gte=start, created_at__lt=credits.next_month_start(start))


class _Echo:
    def write(self, value: str) -> str:
        return value


# Cells a spreadsheet reads as a formula (OWASP "CSV injection"); a plain number is left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def spreadsheet_cell(value: object) -> object:
    """`value` as a CSV cell a spreadsheet shows as written: text that would start a formula gets a
    leading single quote, which spreadsheets take as "this is text" and do not display."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "credits", "project", "take", "reason"]
    list_filter = [
        "kind",
        MonthFilter,
        ("user", admin.RelatedOnlyFieldListFilter),
        ("project", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["user__username", "reason", "project__name", "take__runway_task_id"]
    list_select_related = ["user", "project", "take"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]

    # The ledger is append-only: rows are written by generation.credits, never edited here.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Export the selected entries as CSV")
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        writer = csv.writer(_Echo())
        header = [
            "id",
            "created_at",
            "user",
            "kind",
            "credits",
            "project",
            "take",
            "runway_task_id",
            "hold",
            "reason",
        ]

        def rows():
            yield writer.writerow(header)
            for e in (
                queryset.select_related("user", "project", "take").order_by("created_at", "pk").iterator()
            ):
                cells = [
                    e.pk,
                    e.created_at.isoformat(),
                    e.user.username,
                    e.kind,
                    e.credits,
                    e.project.name if e.project else "",
                    e.take_id or "",
                    e.take.runway_task_id if e.take and e.take.runway_task_id else "",
                    e.hold_id or "",
                    e.reason,
                ]
                yield writer.writerow([spreadsheet_cell(cell) for cell in cells])

        response = StreamingHttpResponse(rows(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="ledger.csv"'
        return response


@admin.register(Take)
class TakeAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "shot",
        "sequence",
        "what",
        "user",
        "status",
        "runway_task_id",
        "estimated_credits",
        "cost_credits",
        "created_at",
    ]
    list_filter = ["status", "kind", "endpoint"]
    search_fields = ["runway_task_id", "shot__prompt", "keyframe__prompt", "user__username"]
    list_select_related = ["shot", "sequence", "user", "keyframe"]
    # Everything on a take is written by the pipeline. Files are named, not linked (see stored_file).
    exclude = file_fields(Take)
    readonly_fields = [f.name for f in Take._meta.fields if f.name not in file_fields(Take)] + [
        f"{name}_file" for name in file_fields(Take)
    ]
    input_first_frame_file = stored_file("input_first_frame")
    input_last_frame_file = stored_file("input_last_frame")
    output_file = stored_file("output")
    last_frame_file = stored_file("last_frame")
    actions = ["resolve_unconfirmed"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="kind", ordering="kind")
    def what(self, take: Take) -> str:
        """The take's kind, with the slot of a keyframe image (filter "kind")."""
        if take.is_keyframe_image:
            return f"{take.keyframe.slot} keyframe image"
        return take.get_kind_display()

    def changelist_view(self, request: HttpRequest, extra_context=None):
        waiting = Take.objects.filter(status=Take.Status.UNCONFIRMED).count()
        if waiting and "status__exact" not in request.GET:
            self.message_user(
                request,
                f"{waiting} unconfirmed take(s) hold credits until you check with Runway whether they were "
                "charged: filter by status Unconfirmed, select them and choose “Resolve unconfirmed takes”.",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description="Resolve unconfirmed takes")
    def resolve_unconfirmed(self, request: HttpRequest, queryset):
        from generation import pipeline

        queryset = queryset.filter(status=Take.Status.UNCONFIRMED)
        if not queryset.exists():
            self.message_user(request, "None of the selected takes is unconfirmed.", messages.WARNING)
            return None
        if "apply" in request.POST:
            form = ResolveForm(request.POST)
            if form.is_valid():
                charged = form.cleaned_data["outcome"] == "charged"
                resolved = sum(
                    pipeline.resolve_unconfirmed(
                        take, charged=charged, reason=form.cleaned_data["reason"], by=request.user
                    )
                    for take in queryset
                )
                what = "settled at their estimate" if charged else "released"
                self.message_user(request, f"{resolved} take(s) resolved: {what}.", messages.SUCCESS)
                return None
        else:
            form = ResolveForm()
        return render(
            request,
            "admin/generation/resolve_unconfirmed.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "takes": queryset,
                "opts": self.model._meta,
            },
        )


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            ("charged", "Runway made and charged these tasks: settle their holds at the estimate"),
            ("not_charged", "Runway did not charge these tasks: release their holds"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=400, help_text="What you checked, e.g. Runway's usage report for the day."
    )


class DiffersFilter(admin.SimpleListFilter):
    title = "difference"
    parameter_name = "differs"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Differs only")]

    def queryset(self, request: HttpRequest, queryset):
        if self.value() == "yes":
            return queryset.exclude(ledger_credits=F("runway_credits"))
        return queryset


@admin.register(UsageReconciliation)
class UsageReconciliationAdmin(admin.ModelAdmin):
    """Read only: rows are written by `manage.py reconcile_usage` and its daily schedule."""

    list_display = ["day", "model", "ledger_credits", "runway_credits", "difference", "checked_at"]
    list_filter = [DiffersFilter, "model"]
    ordering = ["-day", "model"]
    date_hierarchy = "day"
    readonly_fields = [f.name for f in UsageReconciliation._meta.fields]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).annotate(_difference=F("runway_credits") - F("ledger_credits"))

    @admin.display(description="difference (Runway - ledger)", ordering="_difference")
    def difference(self, obj: UsageReconciliation) -> int:
        return obj.difference

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ModelPriceForm(forms.ModelForm):
    model = forms.ChoiceField(choices=[(m, m) for m in catalog.all_priced_models()])

    class Meta:
        model = ModelPrice
        fields = ["model", "field", "credits", "note"]
        help_texts = {
            "field": "credits_per_second / credits_per_second_silent (video), credits_per_image / "
            "credits_per_image_720p (image), characters_per_credit / min_credits (speech), "
            "tenth_credits_per_frame.4k or min_credits (upscale)."
        }


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """Correct a model's price without a release: every estimate (what users confirm and what is
    held) uses these in place of the catalog's figure. Deleting a row goes back to the catalog."""

    form = ModelPriceForm
    list_display = ["model", "field", "credits", "catalog_credits", "note", "updated_at"]
    search_fields = ["model", "note"]

    @admin.display(description="Catalog")
    def catalog_credits(self, obj: ModelPrice) -> int | None:
        return obj.catalog_credits

    def save_model(self, request: HttpRequest, obj: ModelPrice, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # The price was looked at: a later drift on this model is news again, and is mailed.
        PriceDrift.objects.filter(model=obj.model).delete()

    def delete_model(self, request: HttpRequest, obj: ModelPrice) -> None:
        super().delete_model(request, obj)
        PriceDrift.objects.filter(model=obj.model).delete()


@admin.register(PriceDrift)
class PriceDriftAdmin(admin.ModelAdmin):
    """Models whose price at Runway was found above the price table (kept by the pipeline)."""

    list_display = ["model", "asked_credits", "held_credits", "take", "noticed_at", "mailed_at"]
    readonly_fields = ["model", "asked_credits", "held_credits", "take", "noticed_at", "mailed_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Who changed a budget, a grant, a member's role, a share link or a project cap: read-only."""

    list_display = ["created_at", "actor_name", "action", "object_type", "object_id", "description", "source"]
    list_filter = ["action", "object_type", MonthFilter, ("actor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["actor_name", "description", "object_id", "source"]
    date_hierarchy = "created_at"
    actions = ["export_csv"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Export selected entries as CSV")
    def export_csv(self, request: HttpRequest, queryset) -> HttpResponse:
        writer = csv.writer(_Echo())
        header = ["id", "created_at", "actor", "action", "object_type", "object_id", "description", "source"]

        def rows():
            yield writer.writerow(header)
            for e in queryset.order_by("created_at", "pk").iterator():
                cells = [e.pk, e.created_at.isoformat(), e.actor_name, e.action, e.object_type, e.object_id,
                         e.description, e.source]  # fmt: skip
                yield writer.writerow([spreadsheet_cell(cell) for cell in cells])

        response = StreamingHttpResponse(rows(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit.csv"'
        return response
