"""The formats of feed parameters: text limits and integers (API.md, "Feed"). A value that
fails here is present but malformed: 9400 with the form's errors."""

from django import forms

from feed.models import MAX_BIGINT, MIN_BIGINT
from friends.models import Group


def timestamp_field():
    return forms.IntegerField(min_value=MIN_BIGINT, max_value=MAX_BIGINT, required=False)


class PostForm(forms.Form):
    message = forms.CharField(max_length=2000)
    time = forms.IntegerField(min_value=MIN_BIGINT, max_value=MAX_BIGINT)


class CommentForm(forms.Form):
    comment = forms.CharField(max_length=500)


class ReportForm(forms.Form):
    reason = forms.CharField(max_length=500)


class PublicPostsForm(forms.Form):
    oldTime = timestamp_field()  # noqa: N815 — the parameter's name in API.md


class TimelineForm(forms.Form):
    group = forms.ChoiceField(choices=Group.choices, required=False)
    before = timestamp_field()

    def clean_group(self):
        return self.cleaned_data["group"] or None
