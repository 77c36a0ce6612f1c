"""`manage.py seed_demo`: realistic demo data, fast enough for benchmarks at 100,000 users.

Demo users are the ones under the reserved domain `demo.example.com`, plus `demo@example.com`,
the account printed at the end; `--flush` deletes exactly those (and what cascades from them).
The users and their content are made as tuples in database form, with explicit keys, batch by
batch (memory stays bounded) and loaded in one transaction by socialsite.bulkload (SQLite:
executemany; PostgreSQL: COPY) while the tables' secondary indexes (on PostgreSQL their unique
and foreign-key constraints too) are dropped, then re-created. Every user shares one password
hash computed once."""

import io
import random
import secrets
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from faker import Faker
from PIL import Image, ImageDraw
from tqdm import tqdm

from accounts import avatars
from accounts.forms import PROFILE_FIELDS
from accounts.models import Sex, User
from accounts.services import delete_users
from chat.models import Conversation, Message, Participant
from feed.demo import DEMO_AGES, DEMO_CITIES, DEMO_DOMAIN, DEMO_EMAIL, DEMO_PASSWORD, DEMO_USERS
from feed.models import Comment, Like, Post, PostImage
from feed.services import POST_IMAGE_BOX
from friends.interests import split_interests
from friends.models import Friendship, Group, InterestTag, UserInterest
from friends.queries import years_before
from notices.models import TEXT_LENGTH, Notice
from socialsite import bulkload

INTERESTS = [
    "篮球",
    "足球",
    "羽毛球",
    "乒乓球",
    "网球",
    "游泳",
    "跑步",
    "健身",
    "瑜伽",
    "骑行",
    "徒步",
    "登山",
    "滑雪",
    "攀岩",
    "钓鱼",
    "露营",
    "摄影",
    "旅行",
    "自驾游",
    "美食",
    "烘焙",
    "咖啡",
    "茶艺",
    "品酒",
    "做饭",
    "音乐",
    "吉他",
    "钢琴",
    "唱歌",
    "K歌",
    "说唱",
    "古典乐",
    "电影",
    "综艺",
    "动漫",
    "追剧",
    "话剧",
    "阅读",
    "写作",
    "诗歌",
    "历史",
    "哲学",
    "心理学",
    "天文",
    "编程",
    "人工智能",
    "数码",
    "游戏",
    "桌游",
    "剧本杀",
    "象棋",
    "围棋",
    "书法",
    "绘画",
    "手工",
    "园艺",
    "养猫",
    "养狗",
    "逛展",
    "汉服",
]
FRIEND_DIRECTIONS = [
    "找玩伴",
    "找饭搭子",
    "找运动搭子",
    "找旅行伙伴",
    "交流学习",
    "拓展人脉",
    "随便聊聊",
]
GROUP_WEIGHTS = [(Group.SPECIAL, 1), (Group.GOOD, 3), (Group.NORMAL, 4), (Group.OTHER, 2)]
SEXES = [Sex.MALE, Sex.FEMALE, Sex.MALE, Sex.FEMALE, Sex.OTHER, ""]
POST_TEMPLATES = [
    "今天去{city}玩了一天，{sentence}",
    "周末一起{interest}吗？{sentence}",
    "{sentence}有没有喜欢{interest}的朋友？",
    "刚看完一本书，{sentence}",
    "分享一下最近的{interest}心得：{sentence}",
    "{sentence}",
]
COMMENT_TEXTS = [
    "赞！",
    "太棒了",
    "哈哈哈哈",
    "一起啊",
    "下次叫上我",
    "羡慕了",
    "好看！",
    "说得对",
    "学到了",
    "加油💪",
    "同感",
    "在哪里呀？",
    "周末有空吗",
    "求推荐",
    "厉害了",
]
CHAT_TEXTS = [
    "在吗？",
    "周末有空吗",
    "好呀",
    "哈哈哈",
    "你也喜欢这个？",
    "下次一起去",
    "刚看到你的动态",
    "推荐一家店给你",
    "晚安",
    "早上好！",
    "收到",
    "几点见？",
]
# The demo user's conversations: with this many of their friends, who list them back (mutual
# friends, whom the chat allows), this many messages each, the last few unread.
DEMO_CHATS = 5
MESSAGES_PER_CHAT = 12
UNREAD_PER_CHAT = 3
# The demo user's notices (a follow from each user who lists them, a comment notice for each
# comment of another user on their posts): all read but the newest few.
UNREAD_NOTICES = 5
POOL_SIZE = 2000
DRAWN_AVATARS = 8
# The newest posts of the demo user's timeline get 1 to MAX_IMAGES_PER_POST images each, among
# pictures of these sizes, drawn and encoded once: a fixed cost whatever the scale.
POSTS_WITH_IMAGES = 12
MAX_IMAGES_PER_POST = 4
PICTURE_SIZES = [(480, 360), (360, 480), (400, 400), (640, 360), (360, 640), (300, 300)]
TIME_SPREAD = timedelta(days=90)
# A demo user's row: the columns drawn per user, then these, as a new account has them, then the
# shared password hash.
USER_DEFAULTS = {
    "last_login": None,
    "is_superuser": False,
    "is_staff": False,
    "is_active": True,
    "avatar": "",
}
USER_FIELDS = (
    "id",
    "email",
    *PROFILE_FIELDS,
    "date_joined",
    *USER_DEFAULTS,
    "password",
)


class Command(BaseCommand):
    help = "Fill the database with demo users, friendships, posts and comments (see --help)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--users", type=int, default=DEMO_USERS, help=f"demo users (default {DEMO_USERS})"
        )
        parser.add_argument("--friends", type=int, default=10, help="friends per user (10)")
        parser.add_argument("--posts", type=int, default=5, help="posts per user (5)")
        parser.add_argument("--comments", type=int, default=2, help="comments per post (2)")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same data (1)")
        parser.add_argument("--flush", action="store_true", help="delete earlier demo data")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when any user exists"
        )
        parser.add_argument("--batch-size", type=int, default=5000, help="users per batch")

    def handle(
        self, *args, users, friends, posts, comments, seed, flush, if_empty, batch_size, **options
    ):
        if if_empty and User.objects.exists():
            self.stdout.write("Users exist already: no demo data made.")
            if User.objects.filter(email=DEMO_EMAIL, is_active=True).exists():
                self.stdout.write(f"Demo account: {DEMO_EMAIL} / {DEMO_PASSWORD}")
            return
        if min(users, friends, posts, comments) < 0 or users < 1 or batch_size < 1:
            raise CommandError("--users and --batch-size must be positive, the others ≥ 0.")
        started = time.perf_counter()
        if flush:
            deleted = flush_demo_data()
            self.stdout.write(f"Deleted {deleted} earlier demo users and their data.")
        elif demo_users().exists():
            raise CommandError("Demo data exists already: add --flush to replace it.")

        seeder = Seeder(seed, friends=min(friends, users - 1), posts=posts, comments=comments)
        counts = self.load(seeder, users, batch_size)

        # Fresh planner statistics, as after any bulk load: without them PostgreSQL plans for the
        # empty tables it last saw.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                "Made {users} users, {friendships} friendships, {posts} posts, "
                "{comments} comments, {likes} likes and {messages} messages".format(**counts)
                + f" in {elapsed:.1f} s."
            )
        )
        self.stdout.write(f"Demo account: {DEMO_EMAIL} / {DEMO_PASSWORD}")

    def load(self, seeder, users, batch_size):
        first = bulkload.next_ids([User, Post])
        ids = range(first[User], first[User] + users)
        seeder.next_post_id = first[Post]
        counts = {
            "users": len(ids),
            **dict.fromkeys(("friendships", "posts", "comments", "likes", "messages"), 0),
        }
        # One transaction: a failed load leaves neither rows nor a schema without its indexes.
        with bulkload.sqlite_load_settings(), transaction.atomic():
            with bulkload.secondary_schema_deferred(LOADED_MODELS):
                self.load_rows(seeder, ids, batch_size, counts)
            bulkload.reset_sequences([User, Post])
        seeder.draw_avatars(ids[:DRAWN_AVATARS])
        with transaction.atomic():
            made = seeder.make_demo_chats(ids[0])
        for name, number in made.items():
            counts[name] += number
        with transaction.atomic():
            seeder.make_demo_notices(ids[0])
            seeder.add_post_images(ids[0])
        return counts

    def load_rows(self, seeder, ids, batch_size, counts):
        """The users, then their content, batch by batch: a batch's rows are all that is held."""
        shown = self.stdout.isatty()
        progress = tqdm(total=len(ids), unit="user", disable=not shown, desc="seed_demo")
        for offset in range(0, len(ids), batch_size):
            seeder.make_users(ids, offset, batch_size)
            progress.update(len(ids[offset : offset + batch_size]))
        progress.close()
        progress = tqdm(total=len(ids), unit="user", disable=not shown, desc="content")
        for offset in range(0, len(ids), batch_size):
            made = seeder.make_content(ids, offset, batch_size)
            for name, number in made.items():
                counts[name] += number
            progress.update(len(ids[offset : offset + batch_size]))
        progress.close()


# The tables seed_demo fills in bulk, whose secondary indexes wait for the end of the load.
LOADED_MODELS = (User, UserInterest, Friendship, Post, Comment, Like)
EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def moment_in_database_form():
    """A function from milliseconds since the epoch to that moment as the database stores it,
    the value adapt_datetimefield_value gives. On SQLite with UTC connections that value is the
    naive UTC moment's str(), made here without adapt_datetimefield_value's checks per call
    (they cost a tenth of a seed)."""
    if connection.vendor == "sqlite" and connection.timezone == dt_timezone.utc:
        naive_epoch = EPOCH.replace(tzinfo=None)
        return lambda ms: str(naive_epoch + timedelta(milliseconds=ms))
    adapt = connection.ops.adapt_datetimefield_value
    return lambda ms: adapt(EPOCH + timedelta(milliseconds=ms))


def birthdays_of_ages(youngest, oldest, today):
    """Every birthday of someone whose age reached by `today` is from `youngest` to `oldest`
    (the ages /get_data's age1 / age2 compute), from the earliest to the latest: a choice among
    them spreads users evenly over those ages."""
    first = years_before(today, oldest + 1) + timedelta(days=1)
    last = years_before(today, youngest)
    return [first + timedelta(days=days) for days in range((last - first).days + 1)]


def demo_users():
    return User.objects.filter(Q(email=DEMO_EMAIL) | Q(email__endswith=f"@{DEMO_DOMAIN}"))


def flush_demo_data(chunk=500):
    """Delete demo users in chunks (so memory stays bounded), as any account is deleted: their
    data cascades, their files go once each chunk commits."""
    deleted = 0
    while ids := list(demo_users().values_list("pk", flat=True)[:chunk]):
        delete_users(User.objects.filter(pk__in=ids))
        deleted += len(ids)
    return deleted


class Seeder:
    """Makes the rows; texts come from pools drawn once with Faker, so that 100,000 users do
    not cost millions of Faker calls."""

    def __init__(self, seed, *, friends, posts, comments):
        self.rng = random.Random(seed)
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        self.friends, self.posts, self.comments = friends, posts, comments
        self.password_hash = make_password(DEMO_PASSWORD)
        self._db_moment = moment_in_database_form()
        self.next_post_id = None  # the key of the next post made, set by the load
        InterestTag.objects.bulk_create(
            [InterestTag(name=tag) for name in INTERESTS for tag in split_interests(name)],
            ignore_conflicts=True,
        )
        self.tag_ids = dict(InterestTag.objects.values_list("name", "id"))
        # Times are spread back from the start of the day of seeding.
        self.anchor = datetime.now(dt_timezone.utc).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        self.names = [fake.name() for _ in range(POOL_SIZE)]
        self.usernames = [fake.user_name() for _ in range(POOL_SIZE)]
        self.cities = DEMO_CITIES
        self.introductions = [fake.sentence(nb_words=10) for _ in range(POOL_SIZE)]
        self.sentences = [fake.sentence(nb_words=12) for _ in range(POOL_SIZE)]
        self.post_texts = [self._post_text() for _ in range(POOL_SIZE)]
        to_database = connection.ops.adapt_datefield_value
        self.birthdays = [
            to_database(day) for day in birthdays_of_ages(*DEMO_AGES, timezone.localdate())
        ]
        self.anchor_ms = int(self.anchor.timestamp() * 1000)
        self.spread_ms = int(TIME_SPREAD.total_seconds() * 1000)
        self.spread_s = self.spread_ms // 1000
        self._random = self.rng.random
        # A group drawn per friendship: each as often as its weight says.
        self.group_draw = [group for group, weight in GROUP_WEIGHTS for _ in range(weight)]

    def _post_text(self):
        template = self.rng.choice(POST_TEMPLATES)
        return template.format(
            city=self.rng.choice(self.cities),
            sentence=self.rng.choice(self.sentences),
            interest=self.rng.choice(INTERESTS),
        )

    def _moment(self):
        """A moment of the TIME_SPREAD before the anchor, to the second, in database form."""
        return self._db_moment(self.anchor_ms - 1000 * int(self._random() * self.spread_s))

    def _pick(self, items):
        """random.choice without its rejection sampling in Python: random's draws took about a
        fifth of the seed's CPU (cProfile, 10,000 users). The bias, len(items) / 2**53 at most,
        is nil."""
        return items[int(self._random() * len(items))]

    def make_users(self, ids, offset, count):
        """The users ids[offset:offset + count] and their interest tags (rows loaded in bulk
        send no post_save, which builds the tags of a user saved through the ORM)."""
        rng = self.rng
        users, interests = [], []
        for number in range(offset, min(offset + count, len(ids))):
            user_id = ids[number]
            like = "，".join(rng.sample(INTERESTS, rng.randint(1, 5)))
            users.append(
                (
                    user_id,
                    DEMO_EMAIL if number == 0 else f"user{number}@{DEMO_DOMAIN}",
                    rng.choice(self.names),
                    "demo" if number == 0 else f"{rng.choice(self.usernames)}{number}",
                    rng.choice(SEXES),
                    rng.choice(self.birthdays),
                    like,
                    rng.choice(FRIEND_DIRECTIONS),
                    rng.choice(self.cities),
                    rng.choice(self.introductions),
                    self._db_moment(
                        self.anchor_ms
                        - self.spread_ms
                        - 1000 * rng.randrange(self.spread_ms // 1000)
                    ),
                    *USER_DEFAULTS.values(),
                    self.password_hash,
                )
            )
            interests.extend(
                (user_id, self.tag_ids[name], position)
                for position, name in enumerate(split_interests(like))
            )
        bulkload.insert(User, USER_FIELDS, users)
        bulkload.insert(UserInterest, ("user", "tag", "position"), interests)

    def make_content(self, ids, offset, count):
        """Friendships, posts, comments and likes of the users ids[offset:offset + count]: posts
        get keys from self.next_post_id on, so that their comments and likes need no read back."""
        pick, random, moment = self._pick, self._random, self._db_moment
        owners = ids[offset : offset + count]
        friendships = [
            (owner, friend, pick(self.group_draw), self._moment())
            for index, owner in enumerate(owners, start=offset)
            for friend in self._friends_of(ids, index)
        ]
        bulkload.insert(Friendship, ("owner", "friend", "group", "created_at"), friendships)
        posts, comments, likes = [], [], []
        for owner in owners:
            for _ in range(self.posts):
                post_id, self.next_post_id = self.next_post_id, self.next_post_id + 1
                moment_ms = self.anchor_ms - int(random() * self.spread_ms)
                posts.append(
                    (
                        post_id,
                        owner,
                        pick(self.post_texts),
                        moment_ms,
                        moment(moment_ms),
                        False,
                    )
                )
                comments.extend(
                    (
                        post_id,
                        pick(ids),
                        pick(COMMENT_TEXTS),
                        moment(moment_ms + 60_000 * minutes),
                        False,
                    )
                    for minutes in range(1, self.comments + 1)
                )
                # A like on every other post, by someone other than its author.
                if post_id % 2 and (liker := pick(ids)) != owner:
                    likes.append((post_id, liker, moment(moment_ms + 1_800_000)))
        bulkload.insert(Post, ("id", "author", "msg", "time", "created_at", "is_hidden"), posts)
        bulkload.insert(Comment, ("post", "author", "text", "created_at", "is_hidden"), comments)
        bulkload.insert(Like, ("post", "user", "created_at"), likes)
        return {
            "friendships": len(friendships),
            "posts": len(posts),
            "comments": len(comments),
            "likes": len(likes),
        }

    def make_demo_chats(self, demo_id):
        """The demo user's conversations with their first DEMO_CHATS friends, made mutual
        friends (the reverse entry added where missing): MESSAGES_PER_CHAT messages each, both
        ways, a minute apart in the last hours, the peer's last UNREAD_PER_CHAT unread."""
        rng = self.rng
        peers = list(
            Friendship.objects.filter(owner=demo_id)
            .order_by("friend")
            .values_list("friend", flat=True)[:DEMO_CHATS]
        )
        listing_back = set(
            Friendship.objects.filter(owner__in=peers, friend=demo_id).values_list(
                "owner", flat=True
            )
        )
        added = [
            (peer, demo_id, Group.GOOD, self._moment())
            for peer in peers
            if peer not in listing_back
        ]
        bulkload.insert(Friendship, ("owner", "friend", "group", "created_at"), added)
        messages = 0
        now = datetime.now(dt_timezone.utc)
        for number, peer in enumerate(peers):
            conversation = Conversation.objects.create(
                user_a_id=min(demo_id, peer), user_b_id=max(demo_id, peer)
            )
            start = now - timedelta(hours=number + 1)
            senders = [demo_id if turn % 2 else peer for turn in range(MESSAGES_PER_CHAT)]
            senders[-UNREAD_PER_CHAT:] = [peer] * UNREAD_PER_CHAT
            Message.objects.bulk_create(
                Message(
                    conversation=conversation,
                    sender_id=sender,
                    text=rng.choice(CHAT_TEXTS),
                    created_at=start + timedelta(minutes=turn),
                )
                for turn, sender in enumerate(senders)
            )
            made = list(Message.objects.filter(conversation=conversation).order_by("id"))
            read_up_to = made[-UNREAD_PER_CHAT - 1].pk
            Participant.objects.bulk_create(
                [
                    Participant(
                        conversation=conversation,
                        user_id=demo_id,
                        peer_id=peer,
                        read_id=read_up_to,
                        last_message=made[-1],
                    ),
                    Participant(
                        conversation=conversation,
                        user_id=peer,
                        peer_id=demo_id,
                        read_id=made[-1].pk,
                        last_message=made[-1],
                    ),
                ]
            )
            messages += len(made)
        return {"friendships": len(added), "messages": messages}

    def make_demo_notices(self, demo_id):
        """The notices the app would have made the demo user (rows loaded in bulk send no
        post_save): a follow for each user who lists them, a comment for each comment of another
        user on their posts and a like for each like of them, all read but the newest
        UNREAD_NOTICES."""
        follows = Friendship.objects.filter(friend=demo_id).values_list("pk", "owner", "created_at")
        comments = (
            Comment.objects.filter(post__author=demo_id)
            .exclude(author=demo_id)
            .values_list("pk", "post", "author", "text", "created_at")
        )
        notices = [
            Notice(
                recipient_id=demo_id,
                actor_id=owner,
                type=Notice.Type.FOLLOW,
                friendship_id=friendship,
                created_at=created_at,
            )
            for friendship, owner, created_at in follows
        ]
        notices += [
            Notice(
                recipient_id=demo_id,
                actor_id=author,
                type=Notice.Type.COMMENT,
                post_id=post,
                comment_id=comment,
                text=text[:TEXT_LENGTH],
                created_at=created_at,
            )
            for comment, post, author, text, created_at in comments
        ]
        likes = (
            Like.objects.filter(post__author=demo_id)
            .exclude(user=demo_id)
            .values_list("pk", "post", "user", "created_at")
        )
        notices += [
            Notice(
                recipient_id=demo_id,
                actor_id=liker,
                type=Notice.Type.LIKE,
                post_id=post,
                like_id=like,
                created_at=created_at,
            )
            for like, post, liker, created_at in likes
        ]
        notices.sort(key=lambda notice: notice.created_at)
        for notice in notices[:-UNREAD_NOTICES]:
            notice.read = True
        Notice.objects.bulk_create(notices)

    def draw_avatars(self, user_ids):
        """A few users (the demo account first) get an avatar drawn with Pillow, stored
        through the same pipeline as uploaded ones. Each file belongs to one user only."""
        for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
            image = Image.new("RGB", (256, 256), tuple(self.rng.randrange(60, 220) for _ in "rgb"))
            draw = ImageDraw.Draw(image)
            for _ in range(4):
                box = sorted(self.rng.randrange(0, 256) for _ in "xy")
                colour = tuple(self.rng.randrange(0, 256) for _ in "rgb")
                draw.ellipse((box[0], box[0], box[1] + 20, box[1] + 20), fill=colour)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            avatar = avatars.normalize(buffer.getvalue())
            user.avatar.save(avatar.name, avatar, save=False)
            User.objects.filter(pk=user.pk).update(avatar=user.avatar.name)

    def add_post_images(self, demo_id):
        """The newest POSTS_WITH_IMAGES posts of the demo user's timeline (the posts of the users
        they list) get images: pictures drawn with Pillow and encoded by the pipeline as
        uploaded ones are, once; each image is a file of its own, since deleting a post deletes
        its files."""
        listed = Friendship.objects.filter(owner=demo_id).values("friend")
        post_ids = list(
            Post.objects.filter(author__in=listed)
            .newest_first()
            .values_list("pk", flat=True)[:POSTS_WITH_IMAGES]
        )
        if not post_ids:
            return
        pictures = [self._draw_picture(size) for size in PICTURE_SIZES]
        field = PostImage._meta.get_field("file")
        rows = []
        for post_id in post_ids:
            for position in range(self.rng.randint(1, MAX_IMAGES_PER_POST)):
                picture = self.rng.choice(pictures)
                name = field.generate_filename(None, f"{secrets.token_hex(16)}.webp")
                rows.append(
                    PostImage(
                        post_id=post_id,
                        position=position,
                        file=field.storage.save(name, ContentFile(picture)),
                    )
                )
        PostImage.objects.bulk_create(rows)

    def _draw_picture(self, size):
        """A picture of `size` (a sky, a ground and a sun of random colours) as the pipeline
        stores a post image: WebP bytes."""
        width, height = size
        image = Image.new("RGB", size, tuple(self.rng.randrange(120, 240) for _ in "rgb"))
        draw = ImageDraw.Draw(image)
        horizon = self.rng.randrange(height // 2, height * 4 // 5)
        ground = tuple(self.rng.randrange(30, 150) for _ in "rgb")
        draw.rectangle((0, horizon, width, height), fill=ground)
        radius = self.rng.randrange(20, 60)
        x, y = self.rng.randrange(radius, width - radius), self.rng.randrange(radius, horizon)
        sun = tuple(self.rng.randrange(200, 256) for _ in "rgb")
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=sun)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return avatars.normalize(buffer.getvalue(), box=POST_IMAGE_BOX).read()

    def _friends_of(self, ids, index):
        """Mostly neighbours in a window around the user (so friends share friends, which
        recommendations count), some anywhere."""
        random, wanted, count = self._random, self.friends, len(ids)
        chosen = set()
        window = max(wanted * 5, 50)
        while len(chosen) < wanted:
            if random() < 0.7:
                other = (index + int(random() * (2 * window + 1)) - window) % count
            else:
                other = int(random() * count)
            if other != index:
                chosen.add(other)
        return [ids[other] for other in sorted(chosen)]
