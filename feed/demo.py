"""The demo accounts `manage.py seed_demo` makes, which the benchmark and the load test log in as.

Demo users are `DEMO_EMAIL` and the addresses at `DEMO_DOMAIN`, a reserved domain (nobody can
receive a sign-up code there); all share `DEMO_PASSWORD`, which is public. Plain constants, so
that bench/ imports them without setting Django up."""

DEMO_EMAIL = "demo@example.com"
DEMO_DOMAIN = "demo.example.com"
DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = 200  # what `seed_demo` makes by default, hence what `make run`'s setup seeds

# Where demo users live (`location`): real cities of China, and a few abroad, so that /get_data's
# `location` filter finds people (several share a character: 京 is in 北京, 南京 and 东京).
DEMO_CITIES = [
    "北京",
    "上海",
    "广州",
    "深圳",
    "天津",
    "重庆",
    "成都",
    "杭州",
    "武汉",
    "西安",
    "南京",
    "苏州",
    "长沙",
    "郑州",
    "青岛",
    "沈阳",
    "大连",
    "厦门",
    "昆明",
    "哈尔滨",
    "济南",
    "合肥",
    "福州",
    "南宁",
    "贵阳",
    "兰州",
    "太原",
    "石家庄",
    "南昌",
    "长春",
    "乌鲁木齐",
    "呼和浩特",
    "拉萨",
    "银川",
    "西宁",
    "海口",
    "三亚",
    "宁波",
    "无锡",
    "佛山",
    "东莞",
    "珠海",
    "温州",
    "烟台",
    "洛阳",
    "桂林",
    "丽江",
    "香港",
    "澳门",
    "台北",
    "新加坡",
    "东京",
    "首尔",
    "伦敦",
]
# The ages demo users have reached by the day of seeding (birthdays spread evenly over them).
DEMO_AGES = (18, 60)
