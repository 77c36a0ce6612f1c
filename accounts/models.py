import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts import extensions
from socialsite import realtime
from socialsite.orm import lock_rows


def normalize_email(email):
    """Emails are compared case-insensitively and stored lower-cased (API.md). PostgreSQL refuses
    NUL in text, so a NUL becomes U+FFFD (a character no deliverable address holds): an email
    with a NUL then names nobody wherever it is looked up, instead of failing the query."""
    return email.strip().lower().replace("\x00", "\ufffd")


class UserQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def with_email(self, email):
        """The user whose email is `email`, in any case (one with a NUL names nobody: see
        normalize_email)."""
        return self.filter(email=normalize_email(email))

    def visible_to(self, viewer):
        """Active users whom `viewer` may see; apps above accounts narrow it (blocks)."""
        queryset = self.active()
        for narrow in extensions.visibility_rules:
            queryset = narrow(queryset, viewer)
        return queryset


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def _create_user(self, email, password, **fields):
        if not email:
            raise ValueError("An email is required.")
        user = self.model(email=normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **fields):
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **fields)

    def create_superuser(self, email, password=None, **fields):
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self._create_user(email, password, **fields)

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))


class Sex(models.TextChoices):
    MALE = "男", "男"
    FEMALE = "女", "女"
    OTHER = "其他", "其他"


class User(AbstractBaseUser, PermissionsMixin):
    """A person: the email is the login; the rest is the public profile of API.md."""

    email = models.EmailField("邮箱", unique=True)
    name = models.CharField("姓名", max_length=50, blank=True)
    username = models.CharField("用户名", max_length=50, blank=True)
    sex = models.CharField("性别", max_length=2, choices=Sex.choices, blank=True)
    birthday = models.DateField("生日", null=True, blank=True)
    like = models.CharField("爱好", max_length=200, blank=True)
    flike = models.CharField("交友方向", max_length=200, blank=True)
    avatar = models.ImageField("头像", upload_to="avatars/", blank=True)
    location = models.CharField("所在地", max_length=100, blank=True)
    introduction = models.CharField("自我简介", max_length=500, blank=True)
    is_active = models.BooleanField("有效", default=True)
    is_staff = models.BooleanField("职员", default=False)
    date_joined = models.DateTimeField("注册时间", default=timezone.now, db_index=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="%(app_label)s_%(class)s_email_lower"
            ),
            models.CheckConstraint(
                condition=models.Q(sex__in=["", *Sex.values]), name="%(app_label)s_%(class)s_sex"
            ),
        ]
        # /get_data's age1 / age2: a range of birthdays (friends.queries.birthday_range).
        indexes = [models.Index(fields=["birthday"], name="accounts_user_birthday")]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)


def hash_secret(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


class AuthTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())

    def revoke(self):
        """Revoke these tokens; once the transaction commits their open WebSockets are told to
        close (socialsite.realtime.revoked: within 2 s, API.md "Authentication"). A token this
        statement revokes but the read before it missed (issued in between) is caught by the
        socket's own re-check (every 30 s before a frame)."""
        tokens_by_user = {}
        for pk, user_id in self.usable().values_list("pk", "user_id"):
            tokens_by_user.setdefault(user_id, set()).add(pk)
        if not tokens_by_user:
            return 0
        count = self.usable().update(revoked_at=timezone.now())
        realtime.revoked(tokens_by_user)
        return count


class AuthTokenManager(models.Manager.from_queryset(AuthTokenQuerySet)):
    # Live tokens a user keeps (API.md, "Authentication"): each login adds a row, and a script
    # logging in over and over must not grow them without end.
    MAX_LIVE_PER_USER = 20

    def issue(self, user):
        """Create a token for `user`, revoking the oldest beyond MAX_LIVE_PER_USER; returns the
        plaintext key, which is stored only hashed."""
        key = secrets.token_urlsafe(32)
        with transaction.atomic():
            # One issue at a time per user (the user's row locked; SQLite's IMMEDIATE
            # transactions are serial anyway), so that concurrent logins count the same live
            # tokens and never leave more than the cap.
            lock_rows(User, [user.pk])
            self.create(
                user=user,
                key_hash=hash_secret(key),
                expires_at=timezone.now() + timedelta(days=settings.TOKEN_TTL_DAYS),
            )
            live = self.filter(user=user).usable()
            newest = live.order_by("-created_at", "-pk").values_list("pk", flat=True)
            live.exclude(pk__in=list(newest[: self.MAX_LIVE_PER_USER])).revoke()
        return key


class AuthToken(models.Model):
    """A Bearer token of the API. Only its SHA-256 is stored: the key is shown once, at issue."""

    LAST_USED_PRECISION = timedelta(minutes=1)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)
    expires_at = models.DateTimeField("过期时间")
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True, db_index=True)

    objects = AuthTokenManager()

    class Meta:
        verbose_name = "登录令牌"
        verbose_name_plural = "登录令牌"

    def __str__(self):
        return f"{self.user} #{self.pk}"

    def is_usable(self):
        return self.revoked_at is None and self.expires_at > timezone.now()

    def touch(self):
        """Record use, at most once a minute, so that reads do not each cost a write."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at > self.LAST_USED_PRECISION:
            AuthToken.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now


# Wrong tries before a pending code is spent (module level, so that Meta's constraint reads it).
MAX_FAILED_CODE_ATTEMPTS = 5


class MailedCode(models.Model):
    """A 6-digit code mailed to someone, stored as a keyed hash: valid until `expires_at`, void
    after MAX_FAILED_ATTEMPTS wrong tries, used once. Each kind is its own table with its own hash
    key (HASH_SALT), so that a code of one kind never passes as one of another."""

    MAX_FAILED_ATTEMPTS = MAX_FAILED_CODE_ATTEMPTS
    HASH_SALT = None

    code_hash = models.CharField(max_length=64)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=models.Q(failed_attempts__lte=MAX_FAILED_CODE_ATTEMPTS),
                name="%(app_label)s_%(class)s_attempts_bounded",
            ),
        ]

    @classmethod
    def hash_code(cls, email, code):
        """The keyed hash stored for `code` sent to `email` (the key is SECRET_KEY)."""
        return salted_hmac(cls.HASH_SALT, f"{email}:{code}", algorithm="sha256").hexdigest()


class EmailCode(MailedCode):
    """The pending sign-up code of one email address (/register1, /check_email)."""

    HASH_SALT = "accounts.EmailCode"

    email = models.EmailField(unique=True)

    class Meta(MailedCode.Meta):
        pass

    def __str__(self):
        return self.email


class PasswordResetCode(MailedCode):
    """The pending password-reset code of one account (/forget1, /forget2): a new one replaces
    it, and it goes with the account."""

    HASH_SALT = "accounts.PasswordResetCode"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_reset_code"
    )

    class Meta(MailedCode.Meta):
        verbose_name = "密码重置验证码"
        verbose_name_plural = "密码重置验证码"

    def __str__(self):
        return str(self.user)
