"""Admin for the creative domain: plain lists, search and inlines. Counters the system maintains
(share link downloads, sequence status and film) are read-only here."""

from django.contrib import admin
from django.db import models, transaction
from django.db.models import F
from django.forms import BaseInlineFormSet, ModelForm

from generation import audit
from projects.models import (
    FilmVersion,
    Membership,
    Project,
    ReferenceImage,
    ReferenceSet,
    ReviewComment,
    ReviewDecision,
    Sequence,
    ShareLink,
    Shot,
)


def stored_file(field: str):
    """A read-only admin field (a method of the admin or inline it is assigned to) that shows a stored
    file's name without a link: media are served only through the studio's permission-checked
    views, never at their storage path."""

    @admin.display(description=field.replace("_", " "))
    def show(model_admin, obj) -> str:
        return getattr(obj, field).name or "-"

    show.__name__ = f"{field}_file"
    return show


def file_fields(model) -> list[str]:
    return [f.name for f in model._meta.fields if isinstance(f, models.FileField)]


def save_changed_fields(obj: models.Model, form: ModelForm) -> None:
    """Save only the fields the admin changed in `form`: the pipeline and other users write the same
    rows (a sequence's status and film while it assembles), and a whole-row save would put back
    what the page was loaded with. A change also bumps the row's edit version, so a user's form
    opened before it is refused as stale instead of undoing the admin's change."""
    names = {f.name for f in obj._meta.concrete_fields}
    fields = [name for name in form.changed_data if name in names]
    if not fields:
        return
    if "edit_version" in names:
        obj.edit_version = F("edit_version") + 1
        fields.append("edit_version")
    obj.save(update_fields=fields)
    if "edit_version" in fields:
        obj.refresh_from_db(fields=["edit_version"])


class ChangedFieldsModelAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change) -> None:
        if change:
            save_changed_fields(obj, form)
        else:
            super().save_model(request, obj, form, change)


class ChangedFieldsFormSet(BaseInlineFormSet):
    def save_existing(self, form, obj, commit=True):
        if not commit:
            return super().save_existing(form, obj, commit=commit)
        obj = form.save(commit=False)
        save_changed_fields(obj, form)
        form.save_m2m()
        return obj


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = ChangedFieldsFormSet
    extra = 0
    autocomplete_fields = ["user"]


class ReferenceSetInline(admin.TabularInline):
    model = ReferenceSet
    formset = ChangedFieldsFormSet
    extra = 0
    show_change_link = True


@admin.register(Project)
class ProjectAdmin(ChangedFieldsModelAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name", "description", "created_by__username"]
    date_hierarchy = "created_at"
    list_select_related = ["created_by"]
    autocomplete_fields = ["created_by"]
    inlines = [MembershipInline, ReferenceSetInline]
    # The logo is uploaded on the project page, which checks and re-encodes the image.
    logo_file = stored_file("logo")
    exclude = ["logo"]
    readonly_fields = ["logo_file"]

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            before = Project.objects.filter(pk=obj.pk).values_list("markup_percent", flat=True).first()
            super().save_model(request, obj, form, change)
            if change and "markup_percent" in form.changed_data:
                audit.record(actor=request.user, action=audit.AuditEntry.Action.MARKUP, obj=obj,
                             description=f"{before}% -> {obj.markup_percent}%")  # fmt: skip


@admin.register(Membership)
class MembershipAdmin(ChangedFieldsModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__name", "user__username"]
    list_select_related = ["project", "user"]
    autocomplete_fields = ["project", "user"]

    # Each change in the audit log, in the transaction of the change.
    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            before = Membership.objects.filter(pk=obj.pk).values_list("role", flat=True).first() or "none"
            super().save_model(request, obj, form, change)
            if before != obj.role:
                action = (
                    audit.AuditEntry.Action.MEMBER_ROLE if change else audit.AuditEntry.Action.MEMBER_ADDED
                )
                audit.record(actor=request.user, action=action, obj=obj,
                             description=f"{obj.user.get_username()} in {obj.project.name!r}: {before} -> {obj.role}")  # fmt: skip

    def delete_model(self, request, obj) -> None:
        with transaction.atomic():
            audit.record(actor=request.user, action=audit.AuditEntry.Action.MEMBER_REMOVED, obj=obj,
                         description=f"{obj.user.get_username()} in {obj.project.name!r}: {obj.role} -> none")  # fmt: skip
            super().delete_model(request, obj)


class ReferenceImageInline(admin.TabularInline):
    model = ReferenceImage
    formset = ChangedFieldsFormSet
    extra = 0
    image_file = stored_file("image")
    fields = ["position", "original_name", "image_file", "width", "height"]
    readonly_fields = ["original_name", "image_file", "width", "height"]
    # Uploads go through the studio page, which validates and normalises every image.

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReferenceSet)
class ReferenceSetAdmin(ChangedFieldsModelAdmin):
    list_display = ["name", "project", "created_at"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project"]
    autocomplete_fields = ["project"]
    inlines = [ReferenceImageInline]


class ShotInline(admin.StackedInline):
    model = Shot
    formset = ChangedFieldsFormSet
    extra = 0
    fields = [
        "position",
        "prompt",
        "duration",
        "seed",
        "first_frame",
        "first_frame_image",
        "last_frame_image",
        "is_stale",
    ]
    readonly_fields = ["is_stale"]
    raw_id_fields = ["first_frame_image", "last_frame_image"]


class ShareLinkInline(admin.TabularInline):
    model = ShareLink
    formset = ChangedFieldsFormSet
    extra = 0
    fields = [
        "created_by",
        "created_at",
        "version",
        "recipient_name",
        "can_comment",
        "can_approve",
        "can_download",
        "can_download_master",
        "expires_at",
        "revoked_at",
        "download_count",
        "play_count",
    ]
    readonly_fields = ["created_by", "created_at", "version", "download_count", "play_count"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class FilmVersionInline(admin.TabularInline):
    model = FilmVersion
    extra = 0
    film_file = stored_file("film")
    poster_file = stored_file("poster")
    master_file = stored_file("master")
    fields = ["number", "created_at", "duration", "film_file", "poster_file", "master_file"]
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Sequence)
class SequenceAdmin(ChangedFieldsModelAdmin):
    list_display = ["title", "project", "model", "status", "started_by", "created_at", "finished_at"]
    list_filter = ["status", "model", "is_stitched"]
    search_fields = ["title", "project__name", "created_by__username"]
    date_hierarchy = "created_at"
    list_select_related = ["project", "started_by"]
    autocomplete_fields = ["project", "created_by", "reference_set"]
    film_file = stored_file("film")
    poster_file = stored_file("poster")
    exclude = ["film", "poster"]
    readonly_fields = [
        "status",
        "status_message",
        "started_by",
        "started_at",
        "finished_at",
        "film_file",
        "poster_file",
        "film_duration",
    ]
    inlines = [ShotInline, FilmVersionInline, ShareLinkInline]


@admin.register(ShareLink)
class ShareLinkAdmin(ChangedFieldsModelAdmin):
    list_display = [
        "sequence",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "recipient_name",
        "can_comment",
        "can_approve",
        "download_count",
        "play_count",
    ]
    list_filter = ["revoked_at", "can_comment", "can_approve", "can_download"]
    search_fields = ["sequence__title", "sequence__project__name"]
    list_select_related = ["sequence", "created_by"]
    readonly_fields = ["sequence", "version", "created_by", "created_at", "download_count", "play_count"]
    fields = [
        "sequence",
        "version",
        "recipient_name",
        "recipient_email",
        "can_comment",
        "can_approve",
        "can_download",
        "can_download_master",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "download_count",
        "play_count",
    ]

    def has_add_permission(self, request) -> bool:
        return False


class ReviewAdmin(admin.ModelAdmin):
    """Clients' feedback, read-only: an admin may delete an abusive comment, never rewrite one."""

    list_select_related = ["version__sequence__project"]
    search_fields = ["author_name", "version__sequence__title", "version__sequence__project__name"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReviewComment)
class ReviewCommentAdmin(ReviewAdmin):
    list_display = ["version", "author_name", "at_seconds", "created_at"]
    search_fields = [*ReviewAdmin.search_fields, "body"]


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReviewAdmin):
    list_display = ["version", "author_name", "verdict", "created_at"]
    list_filter = ["verdict"]
    search_fields = [*ReviewAdmin.search_fields, "note"]
