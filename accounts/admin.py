from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from accounts.models import AuthToken, User


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ("-date_joined",)
    list_display = ("email", "username", "name", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "sex", "date_joined")
    search_fields = ("email", "username", "name")
    readonly_fields = ("date_joined", "last_login")
    fieldsets = (
        ("登录", {"fields": ("email", "password", "last_login", "date_joined")}),
        (
            "资料",
            {
                "fields": (
                    "name",
                    "username",
                    "sex",
                    "birthday",
                    "like",
                    "flike",
                    "avatar",
                    "location",
                    "introduction",
                )
            },
        ),
        (
            "权限",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "created_at", "last_used_at", "expires_at", "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request):
        # A token is only useful to whoever sees its key, which the admin never does.
        return False

    @admin.action(description="撤销所选令牌")
    def revoke(self, request, queryset):
        count = queryset.revoke()
        self.message_user(request, f"已撤销 {count} 个令牌。")
