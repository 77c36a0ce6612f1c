"""The formats of chat parameters (API.md, "Chat"): a value that fails a form here is present but
malformed, 9400 with the form's errors. `parse_id` decides what a client's id names before any
form runs (API.md's check order: an id that is not a whole number names no object)."""

import re

from django import forms

from socialsite.api import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

INTEGER = re.compile(r"[0-9]{1,19}")
MAX_BIGINT = 2**63 - 1
MESSAGE_LENGTH = 2000
CLIENT_ID_LENGTH = 64


def parse_id(raw):
    """The id named by `raw` (a string a client sent), or None: "1.5", "-3", "abc" and numbers
    no bigint column holds name nothing."""
    raw = str(raw).strip()
    if INTEGER.fullmatch(raw) is None:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_BIGINT else None


def cursor_field():
    return forms.IntegerField(min_value=0, max_value=MAX_BIGINT, required=False)


class SendForm(forms.Form):
    msg = forms.CharField(max_length=MESSAGE_LENGTH)
    client_id = forms.CharField(max_length=CLIENT_ID_LENGTH, required=False, strip=False)

    def clean_client_id(self):
        return self.cleaned_data["client_id"] or None


class MessagesForm(forms.Form):
    """/get_msgs' cursors and page size. It takes no `start`: the cursors page it."""

    before_id = cursor_field()
    after_id = cursor_field()
    limit = forms.IntegerField(min_value=1, required=False)

    def clean_limit(self):
        return min(self.cleaned_data["limit"] or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("before_id") is not None and cleaned.get("after_id") is not None:
            raise forms.ValidationError("before_id 与 after_id 只能给出一个。", code="two_cursors")
        return cleaned


class ReadForm(forms.Form):
    id = cursor_field()
