"""The business codes of friends (API.md, "Friends"), raised as `ApiError(errors.NAME)`."""

from socialsite.errors import Code

MISSING_PARAMS = Code(5000, "缺乏参数")
NO_SUCH_GROUP = Code(5000, "组别不存在")
CANNOT_ADD_SELF = Code(5000, "不能添加自己为好友")
CANNOT_BLOCK_SELF = Code(5000, "不能拉黑自己")
NO_SUCH_CALLER = Code(5001, "无此用户")
NO_SUCH_FRIEND = Code(5002, "添加的用户不存在")
UNKNOWN_USER = Code(5001, "用户不存在")
UNKNOWN_OTHER_USER = Code(5002, "用户不存在")
BLOCKED = Code(5007, "对方已将你拉黑")
MISSING_OR_UNKNOWN = Code(6000, "缺少有效参数")
MISSING_SEARCH_PARAMS = Code(1007, "缺乏必要参数")
