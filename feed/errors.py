"""The business codes of feed (API.md, "Feed"), raised as `ApiError(errors.NAME)`."""

from socialsite.errors import Code

INVALID_POST = Code(3000, "缺少有效参数")
MISSING_POST_FILTER = Code(3003, "缺少参数")
NO_SUCH_POST_OF_USER = Code(3004, "无此数据")
MISSING_PARAMS = Code(3006, "缺少参数")
EMPTY_COMMENT = Code(3006, "评论为空")
MISSING_COMMENTER = Code(3006, "缺乏用户信息")
MISSING_POST_ID = Code(3006, "缺乏id")
NO_SUCH_POST = Code(3006, "没有该动态信息")
MISSING_REPORT_PARAMS = Code(7000, "缺少参数")
NO_SUCH_REPORT_TARGET = Code(7000, "举报对象不存在")
