from django.contrib import admin
from django.db.models import Count

from accounts import extensions
from friends import queries, services
from friends.forms import FriendshipAdminForm
from friends.models import Block, Friendship, InterestTag


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    form = FriendshipAdminForm
    list_display = ("owner", "friend", "group", "created_at")
    list_filter = ("group",)
    search_fields = ("owner__email", "friend__email")
    autocomplete_fields = ("owner", "friend")
    list_select_related = ("owner", "friend")
    fields = ("owner", "friend", "group", "created_at")
    readonly_fields = ("created_at",)  # the list's order: set once, when first added
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")


class FriendshipInline(admin.TabularInline):
    """The user's own list on their admin page: staff add, move (change the group) and remove."""

    model = Friendship
    form = FriendshipAdminForm
    fk_name = "owner"
    fields = ("friend", "group", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("friend",)
    ordering = ("created_at", "id")
    extra = 0
    verbose_name = "好友"
    verbose_name_plural = "好友列表（按添加顺序）"

    def get_queryset(self, request):
        # owner too: each row's title is the friendship's __str__, which names both users.
        return super().get_queryset(request).select_related("owner", "friend")


class BlockInline(admin.TabularInline):
    """The blocks the user made, newest first, as /get_blocks lists them (deactivated users
    too, for staff). Read-only here: a block is added on the 拉黑 page, which removes the
    friendships as /block does; staff with the delete permission lift one by deleting it, as
    /unblock does."""

    model = Block
    fk_name = "blocker"
    fields = ("blocked", "created_at")
    readonly_fields = ("blocked", "created_at")
    ordering = ("-created_at", "-id")
    extra = 0
    verbose_name = "拉黑"
    verbose_name_plural = "拉黑名单（TA 拉黑的用户，最新的在前）"

    def get_queryset(self, request):
        # blocker too: each row's title is the block's __str__, which names both users.
        return super().get_queryset(request).select_related("blocker", "blocked")

    def has_add_permission(self, request, obj=None):
        return False


# accounts registers the user admin and must not import friends (docs/ARCHITECTURE.md): the
# friend list, the block list and the followers count reach the user's page through the
# accounts.extensions hooks.
extensions.user_admin_inlines.extend([FriendshipInline, BlockInline])
extensions.user_admin_counts["关注者（把 TA 加入列表的用户，同 /get_followers）"] = lambda user: (
    queries.followers(user).count()
)


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("blocker", "blocked", "created_at")
    search_fields = ("blocker__email", "blocked__email")
    autocomplete_fields = ("blocker", "blocked")
    list_select_related = ("blocker", "blocked")
    fields = ("blocker", "blocked", "created_at")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")

    def get_readonly_fields(self, request, obj=None):
        # A block of another pair is another block: staff delete this one and add that one.
        if obj is not None:
            return ("blocker", "blocked", "created_at")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        # A block made by staff is made as /block makes it (the pair locked, no friendship
        # surviving it).
        if not change:
            stored = services.block(obj.blocker, obj.blocked)
            obj.pk, obj.created_at = stored.pk, stored.created_at
            obj._state.adding = False


@admin.register(InterestTag)
class InterestTagAdmin(admin.ModelAdmin):
    """Read-only: tags follow the users' `like` (edit a user's 爱好 to change theirs)."""

    list_display = ("name", "user_count")
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(user_count=Count("user_links"))

    @admin.display(description="用户数", ordering="user_count")
    def user_count(self, tag):
        return tag.user_count

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
