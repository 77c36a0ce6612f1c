"""Notices in the admin, read-only: they are made by what users do and never edited by staff
(moderators may view them: migrations/0002).
The delete permission stays Django's own (superusers'), because the admin refuses to delete a
user, post or comment whose cascade reaches a registered model the staff member may not delete;
there is no bulk delete action here."""

from django.contrib import admin

from notices.models import Notice


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("id", "recipient", "actor", "type", "text", "read", "created_at")
    list_filter = ("type", "read", "created_at")
    search_fields = ("recipient__email", "actor__email")
    list_select_related = ("recipient", "actor")
    ordering = ("-id",)
    fields = (
        "recipient",
        "actor",
        "type",
        "post",
        "comment",
        "friendship",
        "like",
        "text",
        "read",
        "created_at",
    )
    readonly_fields = fields
    actions = None
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
