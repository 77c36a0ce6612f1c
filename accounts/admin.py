from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    AdminUserCreationForm,
    ReadOnlyPasswordHashField,
    ReadOnlyPasswordHashWidget,
    UserChangeForm,
)
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from accounts import avatars, extensions, services
from accounts.forms import PROFILE_FIELDS, AvatarField
from accounts.models import AuthToken, User
from socialsite.api import client_ip


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login, throttled like the API's /login (services.admin_login_locked): every
    refused login counts against its account and the client's address, a wrong password as much
    as a non-staff or deactivated account's right one (else the page would tell them apart)."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "locked": "此账号从你的地址登录失败次数过多，已锁定 15 分钟，请稍后再试。",
    }

    def clean(self):
        email = self.cleaned_data.get("username")
        if email is None:  # missing: the field's own error says so
            return super().clean()
        address = client_ip(self.request)
        if services.admin_login_locked(email, address):
            raise ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned_data = super().clean()
        except ValidationError:
            services.record_admin_login_failure(email, address)
            raise
        if self.user_cache is not None:  # not when the password was missing
            services.clear_admin_login_failures(email, address)
        return cleaned_data


admin.site.login_form = AdminLoginForm


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    avatar = AvatarField(
        label="头像", required=False, help_text="PNG、JPEG、GIF 或 WebP，最大 5 MiB。"
    )

    class Meta:
        model = User
        fields = "__all__"


class PasswordSummaryWidget(ReadOnlyPasswordHashWidget):
    """The password as non-superusers see it: the hash's summary without Django's button to the
    password page, which is a superuser's only."""

    template_name = "accounts/widgets/password_summary.html"


class PasswordChangeForm(AdminPasswordChangeForm):
    """Staff setting a password (a compromised account, say) also end the user's API logins, as
    Django ends their sessions."""

    def save(self, commit=True):
        user = super().save(commit)
        AuthToken.objects.filter(user=user).revoke()
        return user


def avatar_img(user, size):
    if not user.avatar:
        return "—"
    return format_html(
        '<img src="{}" alt="" width="{}" height="{}" style="object-fit: contain">',
        user.avatar.url,
        size,
        size,
    )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    change_password_form = PasswordChangeForm
    ordering = ("-date_joined",)
    list_display = (
        "avatar_thumbnail",
        "email",
        "username",
        "name",
        "is_active",
        "is_staff",
        "date_joined",
    )
    list_display_links = ("avatar_thumbnail", "email")
    list_filter = ("is_active", "is_staff", "sex", "date_joined")
    search_fields = ("email", "username", "name")
    readonly_fields = ("date_joined", "last_login", "avatar_preview", "counts")
    # What would hand an account to someone else is a superuser's decision: staff with "change
    # user" (the moderators) must not grant themselves or anyone else more, nor change where an
    # account's reset codes go (its email). Its password they cannot set either: the form's
    # password field is read-only for everyone, and the password page is superusers' only.
    superuser_fields = ("email", "is_staff", "is_superuser", "groups", "user_permissions")
    actions = ("deactivate", "reactivate")
    fieldsets = (
        ("登录", {"fields": ("email", "password", "last_login", "date_joined")}),
        (
            "资料",
            {"fields": (*PROFILE_FIELDS, "avatar_preview", "avatar")},
        ),
        ("关系", {"fields": ("counts",)}),
        (
            "权限",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def get_inlines(self, request, obj):
        # The apps above accounts attach theirs (friends: the friend list) through the hook.
        return [*super().get_inlines(request, obj), *extensions.user_admin_inlines]

    @admin.display(description="统计")
    def counts(self, user):
        # The apps above accounts register theirs (friends: the followers) through the hook.
        if not extensions.user_admin_counts:
            return "—"
        return format_html_join(
            mark_safe("<br>"),
            "{}：{}",
            ((label, count(user)) for label, count in extensions.user_admin_counts.items()),
        )

    @admin.display(description="头像")
    def avatar_thumbnail(self, user):
        return avatar_img(user, 40)

    @admin.display(description="当前头像")
    def avatar_preview(self, user):
        return avatar_img(user, 128)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and not request.user.is_superuser:
            fields = (*fields, *self.superuser_fields)
        if obj is not None and obj.pk == request.user.pk:
            fields = (*fields, "is_active")  # nobody locks themselves out by a click
        return fields

    def has_change_permission(self, request, obj=None):
        # Another staff member's account (password, email, activity) is changed by superusers
        # only: with it a moderator could log in as someone with more rights.
        if (
            obj is not None
            and (obj.is_staff or obj.is_superuser)
            and obj.pk != request.user.pk
            and not request.user.is_superuser
        ):
            return False
        return super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None and not request.user.is_superuser:
            password = ReadOnlyPasswordHashField(
                label="密码", help_text="只有超级用户能设置密码。", widget=PasswordSummaryWidget
            )
            form = type(form.__name__, (form,), {"password": password})
        return form

    def user_change_password(self, request, id, form_url=""):
        # Setting someone's password is taking over their account: a superuser's only, whoever
        # the account is (Django lets anyone with "change user" do it).
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        if change and "avatar" in form.changed_data:
            # The admin saves inside a transaction: the replaced file goes once it commits.
            replaced = User.objects.filter(pk=obj.pk).values_list("avatar", flat=True).first()
            avatars.delete_on_commit(replaced, obj.avatar.storage)
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Unticking "active" is a deactivation like the action's: it revokes the tokens.
            services.deactivate_users(User.objects.filter(pk=obj.pk))

    # Deleting (a superuser's: the moderators' group has no "delete user") goes through the
    # API's service, so that the files go too once the deletion commits. Django's confirmation
    # page before it lists what the foreign keys take along.
    def delete_model(self, request, obj):
        services.delete_users(User.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        services.delete_users(queryset)

    def warn_skipped(self, request, selected, allowed):
        if selected.exclude(pk__in=allowed).exists():
            skipped = (
                "已跳过你自己的账号。"
                if request.user.is_superuser
                else "已跳过你自己的账号和其他职员的账号（只有超级用户能停用或启用它们）。"
            )
            self.message_user(request, skipped, messages.WARNING)

    @admin.action(description="停用所选用户（并撤销其登录令牌）", permissions=["change"])
    def deactivate(self, request, queryset):
        allowed = services.deactivatable_by(request.user, queryset)
        self.warn_skipped(request, queryset, allowed)
        count = services.deactivate_users(allowed)
        self.message_user(request, f"已停用 {count} 个用户，其登录令牌均已撤销。")

    @admin.action(description="重新启用所选用户", permissions=["change"])
    def reactivate(self, request, queryset):
        allowed = services.deactivatable_by(request.user, queryset)
        self.warn_skipped(request, queryset, allowed)
        count = services.reactivate_users(allowed)
        self.message_user(request, f"已重新启用 {count} 个用户。")


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
