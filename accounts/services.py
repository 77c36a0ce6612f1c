"""Sign-up, log-in and log-out (API.md, "Accounts")."""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import captcha
from accounts.forms import EmailForm, PasswordForm, ProfileForm
from accounts.models import AuthToken, EmailCode, User, normalize_email
from socialsite import ratelimit
from socialsite.api import ApiError, validate

logger = logging.getLogger(__name__)

SIGNUP_CODE_TTL = timedelta(minutes=15)
SIGNUP_CODE_COOLDOWN_SECONDS = 60
SIGNUP_CODES_PER_ADDRESS_PER_HOUR = 10
RID_SALT = "accounts.register.rid"
RID_MAX_AGE_SECONDS = 30 * 60
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
LOGIN_FAILURES_BEFORE_CAPTCHA = 3

SIGNUP_MAIL_SUBJECT = "socialsite 注册验证码"
SIGNUP_MAIL_BODY = (
    "您好！\n\n您的 socialsite 注册验证码是：{code}\n\n"
    "验证码 15 分钟内有效。如果这不是您本人的操作，请忽略这封邮件。\n"
)


def _code_hash(email, code):
    return salted_hmac("accounts.EmailCode", f"{email}:{code}", algorithm="sha256").hexdigest()


def send_signup_code(email, *, client_ip):
    """Email a 6-digit code to a new address (1004), within the per-email and per-address limits."""
    form = EmailForm(data={"email": email or ""})
    if not form.is_valid():
        raise ApiError(1005, "邮件验证码发送失败", extra={"errors": form.errors.get_json_data()})
    email = normalize_email(form.cleaned_data["email"])
    if User.objects.filter(email=email).exists():
        raise ApiError(1010, "该用户已注册")
    ratelimit.hit("signup-address", client_ip, limit=SIGNUP_CODES_PER_ADDRESS_PER_HOUR, window=3600)
    ratelimit.cooldown("signup-email", email, seconds=SIGNUP_CODE_COOLDOWN_SECONDS)

    code = f"{secrets.randbelow(10**6):06d}"
    EmailCode.objects.update_or_create(
        email=email,
        defaults={
            "code_hash": _code_hash(email, code),
            "failed_attempts": 0,
            "expires_at": timezone.now() + SIGNUP_CODE_TTL,
        },
    )
    try:
        send_mail(SIGNUP_MAIL_SUBJECT, SIGNUP_MAIL_BODY.format(code=code), None, [email])
    except Exception:
        # The exception names the mail server, never the code.
        logger.exception("Could not send the sign-up code email")
        EmailCode.objects.filter(email=email).delete()
        ratelimit.release_cooldown("signup-email", email)
        raise ApiError(1005, "邮件验证码发送失败") from None


def verify_signup_code(email, code):
    """Spend a correct code on a signed `rid` naming the email; a wrong one counts a try."""
    wrong = ApiError(1003, "验证码错误")
    if not email or not code:
        raise wrong
    email = normalize_email(email)
    with transaction.atomic():
        pending = EmailCode.objects.select_for_update().filter(email=email).first()
        if pending is None or pending.expires_at <= timezone.now():
            matched = False
        elif constant_time_compare(pending.code_hash, _code_hash(email, code.strip())):
            pending.delete()
            matched = True
        elif pending.failed_attempts + 1 >= EmailCode.MAX_FAILED_ATTEMPTS:
            pending.delete()
            matched = False
        else:
            EmailCode.objects.filter(pk=pending.pk).update(failed_attempts=F("failed_attempts") + 1)
            matched = False
    if not matched:
        raise wrong
    return signing.dumps({"email": email}, salt=RID_SALT)


def _rid_email(rid):
    try:
        return signing.loads(rid, salt=RID_SALT, max_age=RID_MAX_AGE_SECONDS)["email"]
    except (signing.BadSignature, KeyError, TypeError):
        return None


def register(*, email, password, rid, fields):
    """Create the account named by a valid `rid`; returns (user, token key)."""
    email = normalize_email(email)
    if not rid or _rid_email(rid) != email:
        raise ApiError(4000, "rid错误")
    if User.objects.filter(email=email).exists():
        raise ApiError(1010, "该用户已注册")
    user = User(email=email)
    profile = ProfileForm(data=fields, instance=user)
    new_password = PasswordForm(data={"pass": password}, user=user)
    validate(profile, new_password)
    user.set_password(password)
    try:
        with transaction.atomic():
            profile.save()
            key = AuthToken.objects.issue(user)
    except IntegrityError:  # the same email registered concurrently
        raise ApiError(1010, "该用户已注册") from None
    return user, key


def captcha_required(email, client_ip):
    if settings.LOGIN_CAPTCHA == "always":
        return True
    if settings.LOGIN_CAPTCHA == "never":
        return False
    return (
        ratelimit.failures("login-email", email) >= LOGIN_FAILURES_BEFORE_CAPTCHA
        or ratelimit.failures("login-address", client_ip) >= LOGIN_FAILURES_BEFORE_CAPTCHA
    )


def _record_login_failure(email, client_ip):
    ratelimit.record_failure("login-email", email, window=LOGIN_FAILURE_WINDOW_SECONDS)
    ratelimit.record_failure("login-address", client_ip, window=LOGIN_FAILURE_WINDOW_SECONDS)


def login(*, email, password, captcha_uuid, captcha_answer, client_ip):
    """Check the credentials (and the captcha once one is required); returns (user, token key)."""
    email = normalize_email(email)
    if captcha_required(email, client_ip) and not captcha.check_captcha(
        captcha_uuid, captcha_answer
    ):
        raise ApiError(1003, "验证码错误")
    user = User.objects.filter(email=email).first()
    if user is None:
        _record_login_failure(email, client_ip)
        raise ApiError(1000, "无此用户信息")
    if not user.check_password(password):
        _record_login_failure(email, client_ip)
        raise ApiError(1001, "密码错误")
    if not user.is_active:
        raise ApiError(1016, "账号已被封禁")
    ratelimit.clear_failures("login-email", email)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user, AuthToken.objects.issue(user)


def logout(token):
    AuthToken.objects.filter(pk=token.pk).revoke()


def deactivate_users(users):
    """Deactivate `users` (a queryset) and revoke all their tokens, in one transaction.
    Returns how many users were active before."""
    with transaction.atomic():
        count = users.filter(is_active=True).update(is_active=False)
        AuthToken.objects.filter(user__in=users).revoke()
    return count


def reactivate_users(users):
    """Let deactivated `users` log in again (their old tokens stay revoked)."""
    return users.filter(is_active=False).update(is_active=True)
