"""The business codes of accounts (API.md, "Accounts"), raised as `ApiError(errors.NAME)`."""

from socialsite.errors import Code

NO_SUCH_USER = Code(1000, "无此用户信息")
WRONG_PASSWORD = Code(1001, "密码错误")
WRONG_CODE = Code(1003, "验证码错误")
SIGNUP_MAIL_FAILED = Code(1005, "邮件验证码发送失败")
MISSING_EMAIL = Code(1006, "缺乏邮箱参数")
MISSING_PARAMS = Code(1007, "缺乏必要参数")
NO_USER_WITH_EMAIL = Code(1009, "没有该用户")
ALREADY_REGISTERED = Code(1010, "该用户已注册")
ACCOUNT_DEACTIVATED = Code(1016, "账号已被封禁")
MISSING_UUID = Code(2001, "缺少必要参数")
BAD_RID = Code(4000, "rid错误")
NO_SUCH_PROFILE = Code(6000, "缺少有效参数")
