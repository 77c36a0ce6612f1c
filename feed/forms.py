"""The formats of feed parameters: text limits, integers and ids (API.md, "Feed"). A value that
fails a form here is present but malformed: 9400 with the form's errors. The parsers decide
what a client's string names before any form runs (API.md's check order)."""

import re
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from friends.models import Group

INTEGER = re.compile(r"-?[0-9]+")
MIN_BIGINT, MAX_BIGINT = -(2**63), 2**63 - 1


def is_integer(raw):
    """Whether `raw` (a string a client sent) is written as an integer: plain decimal digits,
    not "1.5", "1e3", "0x1f" or "1_000"."""
    return INTEGER.fullmatch(str(raw).strip()) is not None


def parse_bigint(raw):
    """`raw` as an integer that a bigint column holds, else None."""
    raw = str(raw).strip()
    if not is_integer(raw) or len(raw) > 20:
        return None
    value = int(raw)
    return value if MIN_BIGINT <= value <= MAX_BIGINT else None


def parse_id(raw):
    """The id named by `raw`, or None: a value that is not a whole number (an old client's hex
    id, "1.5", "-3") names no object (API.md, check order)."""
    value = parse_bigint(raw)
    return value if value is not None and value > 0 else None


def timestamp_field(*, required=False):
    """A client's timestamp: an integer that a bigint column holds."""
    return forms.IntegerField(min_value=MIN_BIGINT, max_value=MAX_BIGINT, required=required)


# How far ahead of the server's clock a post's `time` may be: a phone's clock runs a little fast
# at times, but a post dated in the future would sit on top of every feed until then.
MAX_CLOCK_AHEAD = timedelta(minutes=10)


def epoch_milliseconds(moment):
    return int(moment.timestamp() * 1000)


class PostForm(forms.Form):
    message = forms.CharField(max_length=2000)
    time = timestamp_field(required=True)  # milliseconds since the epoch (API.md)

    def clean_time(self):
        value = self.cleaned_data["time"]
        if value > epoch_milliseconds(timezone.now() + MAX_CLOCK_AHEAD):
            raise ValidationError(
                "time 是毫秒时间戳，不能比服务器时间晚 10 分钟以上。", code="in_the_future"
            )
        return value


class CommentForm(forms.Form):
    comment = forms.CharField(max_length=500)


class ReportForm(forms.Form):
    reason = forms.CharField(max_length=500)


class PublicPostsForm(forms.Form):
    oldTime = timestamp_field()  # noqa: N815 — the parameter's name in API.md


class TimelineForm(forms.Form):
    group = forms.ChoiceField(choices=Group.choices, required=False)
    # `self=1`: the caller's own posts too (a moments page); cleaned into `own_posts`
    self = forms.ChoiceField(choices=[("0", "否"), ("1", "是")], required=False)
    # the cursor: the `time` and id of the last post of the page before
    before = timestamp_field()
    before_id = forms.IntegerField(min_value=0, max_value=MAX_BIGINT, required=False)

    def clean_group(self):
        return self.cleaned_data["group"] or None

    def clean(self):
        """`before_id` names a post among those with the time `before`: alone it means nothing."""
        cleaned = super().clean()
        no_before = cleaned.get("before") is None and "before" not in self.errors
        if cleaned.get("before_id") is not None and no_before:
            self.add_error("before_id", "before_id 须与 before 一起给出。")
        cleaned["own_posts"] = cleaned.pop("self", None) == "1"
        return cleaned
