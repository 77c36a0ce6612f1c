"""Sign-up, log-in, log-out and profiles (API.md, "Accounts")."""

import functools
import logging
import secrets
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts import avatars, captcha, errors, extensions
from accounts.forms import EmailForm, PasswordForm, ProfileForm
from accounts.models import AuthToken, EmailCode, PasswordResetCode, User, normalize_email
from socialsite import ratelimit, realtime
from socialsite.api import form_errors, validate
from socialsite.errors import ApiError

logger = logging.getLogger(__name__)

# The codes mailed for a sign-up (/register1) and for a password reset (/forget1).
CODE_TTL = timedelta(minutes=15)
CODE_COOLDOWN_SECONDS = 60
CODES_PER_ADDRESS_PER_HOUR = 10
# Wrong reset codes from one client address before /forget2 refuses it (9429) until an hour
# passes without one: besides each code's own 5 tries, a bound on guessing many accounts' codes.
WRONG_RESET_CODES_PER_ADDRESS = 20
WRONG_RESET_CODE_WINDOW_SECONDS = 3600
RID_SALT = "accounts.register.rid"
RID_MAX_AGE_SECONDS = 30 * 60
LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60
LOGIN_FAILURES_BEFORE_CAPTCHA = 3
# Per client address the captcha comes later: many users share one address behind carrier NAT
# or a campus network, and three typos among them must not give them all captchas.
LOGIN_ADDRESS_FAILURES_BEFORE_CAPTCHA = 20
# Failed logins of one email in a clock hour, then 9429 till the hour ends, whatever the
# captcha: a captcha-solving attacker gets at most this many guesses an hour.
LOGIN_FAILURES_PER_HOUR = 20
LOGIN_LOCK_WINDOW_SECONDS = 3600
# Wrong `old_pass` tries on /reset, per user, before 9429: a stolen token must not be a way to
# guess the password.
OLD_PASSWORD_FAILURES_LIMIT = 5
OLD_PASSWORD_FAILURE_WINDOW_SECONDS = 15 * 60
AVATAR_CHANGES_PER_HOUR = 10


def _new_code():
    return f"{secrets.randbelow(10**6):06d}"


def _mail_code(template, email, code):
    """Mail `code` to `email` in the Chinese text of accounts/mail/<template>.txt (the subject:
    <template>_subject.txt)."""
    context = {"code": code, "minutes": CODE_TTL // timedelta(minutes=1)}
    subject = render_to_string(f"accounts/mail/{template}_subject.txt", context).strip()
    send_mail(subject, render_to_string(f"accounts/mail/{template}.txt", context), None, [email])


def _limit_code_mails(kind, email, client_ip):
    """The limits on mailing codes (9429): one code of a `kind` per email per minute, and
    CODES_PER_ADDRESS_PER_HOUR per client address, sign-up and reset codes together. The email's
    cooldown first: a request it refuses sends nothing, so it must not use up the address's
    hourly allowance."""
    ratelimit.cooldown(f"{kind}-email", email, seconds=CODE_COOLDOWN_SECONDS)
    try:
        ratelimit.hit("code-address", client_ip, limit=CODES_PER_ADDRESS_PER_HOUR, window=3600)
    except ApiError:
        ratelimit.release_cooldown(f"{kind}-email", email)
        raise


def _spend_code(pending, email, code):
    """Whether `code` is the one `pending` (a MailedCode the caller has locked, or None) holds for
    `email`. The right code is deleted, since it works once; a wrong one counts a try, and the
    last try voids the code."""
    if pending is None or pending.expires_at <= timezone.now() or not code:
        return False
    if constant_time_compare(pending.code_hash, pending.hash_code(email, code.strip())):
        pending.delete()
        return True
    if pending.failed_attempts + 1 >= pending.MAX_FAILED_ATTEMPTS:
        pending.delete()
    else:
        type(pending).objects.filter(pk=pending.pk).update(failed_attempts=F("failed_attempts") + 1)
    return False


def send_signup_code(email, *, client_ip):
    """Email a 6-digit code to a new address (1004), within the per-email and per-address limits."""
    form = EmailForm(data={"email": email or ""})
    if not form.is_valid():
        raise ApiError(errors.SIGNUP_MAIL_FAILED, extra={"errors": form_errors(form)})
    email = normalize_email(form.cleaned_data["email"])
    # The limits before the 1010 check, and a 1010 counts like a code sent: else the answer
    # would test any number of addresses for an account.
    _limit_code_mails("signup", email, client_ip)
    if User.objects.filter(email=email).exists():
        raise ApiError(errors.ALREADY_REGISTERED)

    code = _new_code()
    EmailCode.objects.update_or_create(
        email=email,
        defaults={
            "code_hash": EmailCode.hash_code(email, code),
            "failed_attempts": 0,
            "expires_at": timezone.now() + CODE_TTL,
        },
    )
    try:
        _mail_code("signup_code", email, code)
    except Exception:
        # The exception names the mail server, never the code.
        logger.exception("Could not send the sign-up code email")
        EmailCode.objects.filter(email=email).delete()
        ratelimit.release_cooldown("signup-email", email)
        raise ApiError(errors.SIGNUP_MAIL_FAILED) from None


def verify_signup_code(email, code):
    """Spend a correct code on a signed `rid` naming the email; a wrong one counts a try."""
    email = normalize_email(email or "")
    with transaction.atomic():
        pending = EmailCode.objects.select_for_update().filter(email=email).first()
        matched = _spend_code(pending, email, code)
    if not matched:
        raise ApiError(errors.WRONG_CODE)
    return signing.dumps({"email": email}, salt=RID_SALT)


def request_password_reset(email, *, client_ip):
    """/forget1: check the email's format (9400) and the limits (9429), look the active account
    up, and return the work that differs when there is one, storing and mailing a code, for the
    caller to run after the answer is sent: the answer, and the time it takes (one read of a
    unique index, found or not), are the same either way (API.md). The read comes before the
    answer so that an unreachable database is a 503, not a promise of a mail."""
    form = EmailForm(data={"email": email})
    validate(form)
    email = normalize_email(form.cleaned_data["email"])
    _limit_code_mails("reset", email, client_ip)
    user = User.objects.active().with_email(email).first()
    return functools.partial(_mail_reset_code, user)


def _mail_reset_code(user):
    if user is None:
        return
    code = _new_code()
    # A new code replaces the older one, which is void from now on.
    PasswordResetCode.objects.update_or_create(
        user=user,
        defaults={
            "code_hash": PasswordResetCode.hash_code(user.email, code),
            "failed_attempts": 0,
            "expires_at": timezone.now() + CODE_TTL,
        },
    )
    try:
        _mail_code("password_reset_code", user.email, code)
    except Exception:
        logger.exception("Could not send the password reset code email")
        PasswordResetCode.objects.filter(user=user).delete()
        ratelimit.release_cooldown("reset-email", user.email)


def reset_password(*, email, code, password, client_ip):
    """/forget2: the right code sets the new password, revokes every token of the user and ends
    the login lock of the email; returns (user, a new token key). A wrong code counts a try of
    the code and a failure of the client address (1003); a password the validators refuse is
    9400 and leaves the code usable."""
    ratelimit.refuse_after_failures(
        "reset-code-address",
        client_ip,
        limit=WRONG_RESET_CODES_PER_ADDRESS,
        window=WRONG_RESET_CODE_WINDOW_SECONDS,
    )
    email = normalize_email(email)
    user = User.objects.active().with_email(email).first()
    matched = False
    if user is not None:
        new_password = PasswordForm(data={"pass": password}, user=user)
        with transaction.atomic():
            pending = PasswordResetCode.objects.select_for_update().filter(user=user).first()
            matched = _spend_code(pending, email, code)
            if matched:
                validate(new_password)  # raised inside: the rollback keeps the code
                user.set_password(password)
                user.save(update_fields=["password"])
                AuthToken.objects.filter(user=user).revoke()
                key = AuthToken.objects.issue(user)
                # In the transaction: with the cache down the reset fails whole (9503).
                _end_login_lock(email)
    if not matched:
        ratelimit.record_failure(
            "reset-code-address", client_ip, window=WRONG_RESET_CODE_WINDOW_SECONDS
        )
        raise ApiError(errors.WRONG_CODE)
    return user, key


def _rid_email(rid):
    try:
        return signing.loads(rid, salt=RID_SALT, max_age=RID_MAX_AGE_SECONDS)["email"]
    except (signing.BadSignature, KeyError, TypeError):
        return None


def _validated(fields, *bound_forms):
    """The re-encoded avatar of `fields["img"]` (or None) once every form and the avatar are
    valid; a ValidationError (9400) with the errors of all of them, merged by field, otherwise."""
    found = form_errors(*bound_forms)
    avatar = None
    if fields.get("img"):
        try:
            avatar = avatars.from_base64(fields["img"])
        except avatars.InvalidAvatar as error:
            found["img"] = [str(error)]
    if found:
        raise ValidationError(found)
    return avatar


def register(*, email, password, rid, fields):
    """Create the account named by a valid `rid`; returns (user, token key)."""
    email = normalize_email(email)
    if not rid or _rid_email(rid) != email:
        raise ApiError(errors.BAD_RID)
    if User.objects.filter(email=email).exists():
        raise ApiError(errors.ALREADY_REGISTERED)
    user = User(email=email)
    profile = ProfileForm(data=fields, instance=user)
    new_password = PasswordForm(data={"pass": password}, user=user)
    avatar = _validated(fields, profile, new_password)
    user.set_password(password)
    if avatar:
        user.avatar.save(avatar.name, avatar, save=False)
    try:
        with transaction.atomic():
            profile.save()
            key = AuthToken.objects.issue(user)
    except IntegrityError:  # the same email registered concurrently
        _discard_new_avatar(user, avatar)
        raise ApiError(errors.ALREADY_REGISTERED) from None
    except Exception:
        _discard_new_avatar(user, avatar)
        raise
    return user, key


def _discard_new_avatar(user, avatar):
    """The file written for a change that did not commit is nobody's: delete it."""
    if avatar:
        user.avatar.storage.delete(user.avatar.name)


def refuse_password_guessing(user):
    """9429 once `user` has OLD_PASSWORD_FAILURES_LIMIT wrong passwords counted in the window: the
    wrong `old_pass` tries of /reset and the wrong `pass` of /delete_account count together, so
    that a stolen token is no way to guess the password. Returns the count otherwise."""
    return ratelimit.refuse_after_failures(
        "reset-old-pass",
        user.pk,
        limit=OLD_PASSWORD_FAILURES_LIMIT,
        window=OLD_PASSWORD_FAILURE_WINDOW_SECONDS,
    )


def _check_password_counting_failures(user, password):
    """1001 for a missing or wrong `password`, a wrong one counted (refuse_password_guessing)."""
    failures = refuse_password_guessing(user)
    if not password:
        raise ApiError(errors.WRONG_PASSWORD)
    if not user.check_password(password):
        ratelimit.record_failure(
            "reset-old-pass", user.pk, window=OLD_PASSWORD_FAILURE_WINDOW_SECONDS
        )
        raise ApiError(errors.WRONG_PASSWORD)
    if failures:
        ratelimit.clear_failures("reset-old-pass", user.pk)


@contextmanager
def avatar_change_slot(user, img):
    """Around a /reset that carries an `img`: one of the user's AVATAR_CHANGES_PER_HOUR avatar
    changes is taken before anything else is done (9429 once they are used up, so that no image
    is decoded), and given back unless the change is made: only accepted changes count. Staff
    changing an avatar in the admin take none: a moderator replacing an offensive avatar must
    neither be stopped by the user's changes nor use them up."""
    if not img:
        yield
        return
    slot = ratelimit.take("avatar-change", user.pk, limit=AVATAR_CHANGES_PER_HOUR, window=3600)
    try:
        yield
    except BaseException:
        ratelimit.give_back(slot)
        raise


def update_profile(user, *, fields, token):
    """/reset: change the given profile fields, the password (`pass` with the right `old_pass`;
    every other token of the user is revoked, `token` stays valid) and the avatar (`img`,
    re-encoded; the replaced file is deleted once the change has committed). Missing fields are
    left unchanged; nothing changes unless everything is valid."""
    password = fields.get("pass")
    if password is not None:
        _check_password_counting_failures(user, fields.get("old_pass"))
    profile = ProfileForm(data=fields, instance=user)
    bound_forms = [profile]
    if password is not None:
        bound_forms.append(PasswordForm(data={"pass": password}, user=user))
    avatar = _validated(fields, *bound_forms)

    # Only the fields changed here are written, so that a concurrent change of another field
    # (staff deactivating the account, say) is not overwritten with this request's stale copy.
    changed = list(profile.fields)
    if password is not None:
        user.set_password(password)
        changed.append("password")
    if avatar:
        user.avatar.save(avatar.name, avatar, save=False)
        changed.append("avatar")
    try:
        with transaction.atomic():
            if avatar:
                # Locked, so that of two concurrent replacements the second deletes the first's.
                replaced = (
                    User.objects.select_for_update()
                    .values_list("avatar", flat=True)
                    .get(pk=user.pk)
                )
                avatars.delete_on_commit(replaced, user.avatar.storage)
            user.save(update_fields=changed)
            if password is not None:
                AuthToken.objects.filter(user=user).exclude(pk=token.pk).revoke()
    except Exception:
        _discard_new_avatar(user, avatar)
        raise
    return user


# The login slots of an email in a clock hour (ratelimit.take_window_slot), and the captcha-free
# ones (ratelimit.take_slot) of an email and of a client address.
HOUR_SLOTS = {"slots": LOGIN_FAILURES_PER_HOUR, "window": LOGIN_LOCK_WINDOW_SECONDS}
EMAIL_SLOTS = {"slots": LOGIN_FAILURES_BEFORE_CAPTCHA, "window": LOGIN_FAILURE_WINDOW_SECONDS}
ADDRESS_SLOTS = {
    "slots": LOGIN_ADDRESS_FAILURES_BEFORE_CAPTCHA,
    "window": LOGIN_FAILURE_WINDOW_SECONDS,
}


class _LoginAttempt:
    """The slots one /login takes before its password is checked: the email's hourly slot (none
    left: 9429), and while LOGIN_CAPTCHA is `after_failures`, a captcha-free slot of the email
    and one of the client address (none left: the captcha is required). Taking them first is
    what makes the limits hold against concurrent tries: each try holds its slots while it is
    checked, so the fourth of four racing wrong passwords finds none free (it waits for the
    others' outcome) and needs the captcha. A failure keeps the slots; a success or any other
    answer gives them back, so that they count failures only."""

    def __init__(self, email, client_ip):
        self.email, self.client_ip = email, client_ip
        self.hour_slot = ratelimit.take_window_slot("login-hour", email, **HOUR_SLOTS)
        self.email_slot = self.address_slot = None
        self.captcha_required = settings.LOGIN_CAPTCHA == "always"
        self.counts_for_captcha = settings.LOGIN_CAPTCHA == "after_failures"
        if self.counts_for_captcha:
            try:
                self.email_slot = ratelimit.take_slot("login-email", email, **EMAIL_SLOTS)
                self.address_slot = ratelimit.take_slot("login-address", client_ip, **ADDRESS_SLOTS)
            except Exception:
                self.give_back()
                raise
            self.captcha_required = self.email_slot is None or self.address_slot is None

    def failed(self):
        """Keep the slots; where there was none (the captcha was passed instead), the failure
        renews the oldest, so that the captcha stays required while failures go on."""
        ratelimit.keep_slots(self.hour_slot, self.email_slot, self.address_slot)
        if not self.counts_for_captcha:
            return
        if self.email_slot is None:
            ratelimit.renew_oldest_slot("login-email", self.email, **EMAIL_SLOTS)
        if self.address_slot is None:
            ratelimit.renew_oldest_slot("login-address", self.client_ip, **ADDRESS_SLOTS)

    def succeeded(self):
        """The right password ends the email's captcha requirement (not the address's: one
        account of the attacker's own would otherwise reset its address)."""
        self.give_back()
        ratelimit.clear_slots("login-email", self.email, slots=EMAIL_SLOTS["slots"])

    def give_back(self):
        ratelimit.free_slots(self.hour_slot, self.email_slot, self.address_slot)


def _check_credentials(email, password, attempt, captcha_uuid, captcha_answer):
    if attempt.captcha_required and not captcha.check_captcha(captcha_uuid, captcha_answer):
        raise ApiError(errors.WRONG_CODE)
    user = User.objects.with_email(email).first()
    if user is None:
        # Hash the password all the same, as Django's ModelBackend does: an unknown email must
        # take as long as a known one, or the answer's time tells which emails have accounts.
        User().set_password(password)
        raise ApiError(errors.NO_SUCH_USER)
    if not user.check_password(password):
        raise ApiError(errors.WRONG_PASSWORD)
    if not user.is_active:
        raise ApiError(errors.ACCOUNT_DEACTIVATED)
    return user


def login(*, email, password, captcha_uuid, captcha_answer, client_ip):
    """Check the credentials (and the captcha once one is required), within the email's hourly
    limit of failures (9429); returns (user, token key)."""
    email = normalize_email(email)
    attempt = _LoginAttempt(email, client_ip)
    try:
        user = _check_credentials(email, password, attempt, captcha_uuid, captcha_answer)
    except ApiError as error:
        if error.code in (errors.NO_SUCH_USER, errors.WRONG_PASSWORD):
            attempt.failed()
        else:
            attempt.give_back()
        raise
    except Exception:
        attempt.give_back()
        raise
    attempt.succeeded()
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user, AuthToken.objects.issue(user)


def _end_login_lock(email):
    """The owner proved the account theirs: the email's hourly lock and captcha requirement end."""
    ratelimit.clear_window_slots("login-hour", email, **HOUR_SLOTS)
    ratelimit.clear_slots("login-email", email, slots=EMAIL_SLOTS["slots"])


def logout(token, *, everywhere=False):
    """Revoke `token`, or with `everywhere` every token of its user."""
    if everywhere:
        AuthToken.objects.filter(user=token.user_id).revoke()
    else:
        AuthToken.objects.filter(pk=token.pk).revoke()


# The admin's login (accounts.admin.AdminLoginForm) counts failures per account and address:
# after 5 in 15 minutes that pair is refused, the right password included, until 15 minutes
# pass without a failure (API.md, "Operations").
ADMIN_LOGIN_FAILURES_LIMIT = 5
ADMIN_LOGIN_LOCK_SECONDS = 15 * 60


def _admin_login_pair(email, client_ip):
    return (normalize_email(email), client_ip)


def admin_login_locked(email, client_ip):
    """Checked before the password is: a locked try costs no password hash."""
    count = ratelimit.failures("admin-login", _admin_login_pair(email, client_ip))
    return count >= ADMIN_LOGIN_FAILURES_LIMIT


def record_admin_login_failure(email, client_ip):
    ratelimit.record_failure(
        "admin-login", _admin_login_pair(email, client_ip), window=ADMIN_LOGIN_LOCK_SECONDS
    )


def clear_admin_login_failures(email, client_ip):
    ratelimit.clear_failures("admin-login", _admin_login_pair(email, client_ip))


# How long the admin keeps showing a token that can no longer be used.
DEAD_TOKEN_RETENTION = timedelta(days=7)


def purge_expired():
    """Delete tokens expired or revoked over DEAD_TOKEN_RETENTION ago and expired sign-up and
    password-reset codes; returns (tokens deleted, codes deleted)."""
    now = timezone.now()
    cutoff = now - DEAD_TOKEN_RETENTION
    tokens, _ = AuthToken.objects.filter(
        Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff)
    ).delete()
    codes = sum(
        model.objects.filter(expires_at__lte=now).delete()[0]
        for model in (EmailCode, PasswordResetCode)
    )
    return tokens, codes


def deactivate_users(users):
    """Deactivate `users` (a queryset) and revoke all their tokens, in one transaction.
    Returns how many users were active before."""
    with transaction.atomic():
        # Tokens first: `users` may be filtered on is_active (the admin's list filter) and would
        # match nobody once they are deactivated, leaving their tokens alive.
        AuthToken.objects.filter(user__in=users.values("pk")).revoke()
        return users.filter(is_active=True).update(is_active=False)


def deactivatable_by(staff, users):
    """The `users` that `staff` may deactivate or reactivate: never themselves, and other staff
    only by a superuser, so that a moderator can neither lock out the people who run the site nor
    bring back an account a superuser shut."""
    users = users.exclude(pk=staff.pk)
    return users if staff.is_superuser else users.exclude(is_staff=True).exclude(is_superuser=True)


def reactivate_users(users):
    """Let deactivated `users` log in again (their old tokens stay revoked)."""
    return users.filter(is_active=False).update(is_active=True)


def delete_account(user, *, password):
    """/delete_account: with the right `password` (1001 otherwise, counted with /reset's wrong
    `old_pass` tries: 9429 after OLD_PASSWORD_FAILURES_LIMIT), delete `user` for good."""
    _check_password_counting_failures(user, password)
    delete_users(User.objects.filter(pk=user.pk))


def delete_users(users):
    """Delete the accounts of `users` (a queryset) and everything of theirs, in one transaction:
    the rows through the foreign keys (posts, comments, friendships and blocks both ways, search
    interests, tokens…; the reports they filed or that name them stay, without them: see
    feed.models.Report), then, once it has committed, the files: the avatar (the post_delete
    receiver of accounts.avatars, whatever deletes a user) and those the apps above name through
    extensions.account_files. A rollback deletes no file. The API's /delete_account and the
    admin's deletions both come here. Returns how many users were deleted."""
    with transaction.atomic():
        # Locked, and the set fixed, before the files are named: a concurrent write of one of
        # these users (a post with images) waits for the deletion instead of adding a file that
        # nobody would delete.
        locked = User.objects.select_for_update().filter(pk__in=users.values("pk"))
        doomed_ids = list(locked.values_list("pk", flat=True))
        doomed = User.objects.filter(pk__in=doomed_ids)
        files = [file for named_by in extensions.account_files for file in named_by(doomed)]
        _, per_model = doomed.delete()
        for storage, name in files:
            avatars.delete_on_commit(name, storage)
        # Their tokens went with them (CASCADE): their open WebSockets close after commit.
        realtime.revoked(dict.fromkeys(doomed_ids, realtime.ALL_TOKENS))
    return per_model.get(User._meta.label, 0)
