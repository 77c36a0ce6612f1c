"""The business codes of chat (API.md, "Chat"), raised as `ApiError(errors.NAME)`. The success
codes (8001, 8005, 8006, 8007) are the views' envelopes."""

from socialsite.errors import Code

MISSING_PARAMS = Code(8000, "缺少参数")
NO_SUCH_PEER = Code(8002, "对方不存在")
NOT_MUTUAL = Code(8003, "互相关注后才能私信")
BLOCKED = Code(8004, "存在拉黑关系")
CANNOT_RECALL = Code(8008, "无法撤回")
