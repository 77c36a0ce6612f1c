"""The business codes of notices (API.md, "Notices"), raised as `ApiError(errors.NAME)`. The
success codes (7002 成功, 7003 已读) are the views' envelopes."""

from socialsite.errors import Code

MISSING_PARAMS = Code(7000, "缺少参数")
