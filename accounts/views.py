from accounts import captcha, errors, queries, services
from accounts.auth import require_owner
from accounts.forms import LogoutForm
from accounts.models import normalize_email
from accounts.serializers import profile_info_json, profile_json, signed_in_json
from socialsite import replicas
from socialsite.api import after_response, api, client_ip, envelope, token_envelope


@api(("POST",), auth=False)
def register1(request, params):
    services.send_signup_code(params.get("email"), client_ip=client_ip(request))
    return envelope(1004, "邮件验证码发送成功")


@api(("POST",), auth=False)
def check_email(request, params):
    rid = services.verify_signup_code(params.get("email"), params.get("value"))
    response = envelope(1011, "验证成功", data={"rid": rid})
    response.set_cookie(
        "rid",
        rid,
        max_age=services.RID_MAX_AGE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


@api(("POST",), auth=False, takes_images=True)
def register2(request, params):
    email, password = params.require("email", "pass", missing=errors.MISSING_PARAMS)
    user, token = services.register(
        email=email,
        password=password,
        rid=params.get("rid") or request.COOKIES.get("rid"),
        fields=params.data,
    )
    return token_envelope(1005, "注册成功", data=signed_in_json(user, token, request))


@api(("GET",), auth=False)
def get_yzm(request, params):
    (uuid,) = params.require("uuid", missing=errors.MISSING_UUID)
    return envelope(
        2000, "获取验证码成功", yzm_b64=captcha.new_captcha(uuid, client_ip=client_ip(request))
    )


@api(("POST",), auth=False)
def login(request, params):
    email, password = params.require("email", "pass", missing=errors.MISSING_PARAMS)
    user, token = services.login(
        email=email,
        password=password,
        captcha_uuid=params.get("uuid"),
        captcha_answer=params.get("val"),
        client_ip=client_ip(request),
    )
    return token_envelope(1002, "登陆成功", data=signed_in_json(user, token, request))


@api(("POST",))
def logout(request, params):
    everywhere = params.clean(LogoutForm)["all"]
    services.logout(request.api_token, everywhere=everywhere)
    return envelope(1012, "已退出登录")


@api(("POST",), auth=False)
def forget1(request, params):
    (email,) = params.require("email", missing=errors.MISSING_PARAMS)
    mail_code = services.request_password_reset(email, client_ip=client_ip(request))
    return after_response(envelope(1013, "验证码已发送"), mail_code)


@api(("POST",), auth=False)
def forget2(request, params):
    email, code, password = params.require("email", "value", "pass", missing=errors.MISSING_PARAMS)
    user, token = services.reset_password(
        email=email, code=code, password=password, client_ip=client_ip(request)
    )
    return token_envelope(1014, "密码已重置", data=signed_in_json(user, token, request))


@api(("POST",))
def delete_account(request, params):
    # Counting wrong passwords is a rate limit: 9429 comes before the other checks (API.md).
    services.refuse_password_guessing(request.api_user)
    email, password = params.require("email", "pass", missing=errors.MISSING_PARAMS)
    user = require_owner(request, email)
    services.delete_account(user, password=password)
    return envelope(1015, "账号已注销")


@api(("POST",), takes_images=True)
def reset(request, params):
    # The hourly avatar limit is a rate limit: checked before the other checks (API.md's order),
    # and so before the image is decoded.
    with services.avatar_change_slot(request.api_user, params.get("img")):
        (email,) = params.require("email", missing=errors.MISSING_EMAIL)
        user = require_owner(request, email, unknown=errors.NO_USER_WITH_EMAIL)
        services.update_profile(user, fields=params.data, token=request.api_token)
    return envelope(1002, "修改成功", data=profile_json(user, request))


@api(("GET",))
def get_info(request, params):
    email = params.get("email")
    # Another user's profile may come from a read replica; one's own, perhaps just edited, is
    # read where it was written.
    own = email is not None and normalize_email(email) == request.api_user.email
    with replicas.reads_from_replica(enabled=not own):
        user, counts = queries.visible_profile(request.api_user, email)
        return envelope(6001, "成功", data=profile_info_json(user, request, counts))
