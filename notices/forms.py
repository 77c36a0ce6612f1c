"""The formats of the notices' parameters (API.md, "Notices"): a value that fails a form here is
present but malformed, 9400 with the form's errors."""

from django import forms

from chat.forms import cursor_field


class NoticesForm(forms.Form):
    """/get_notices' `unread`: "1" for the unread notices only ("0", or none: all of them)."""

    unread = forms.TypedChoiceField(
        choices=[("0", "0"), ("1", "1")], coerce=int, required=False, empty_value=0
    )


class ReadNoticesForm(forms.Form):
    """/read_notices' `id`: the newest notice read (none: all); not a whole number → 9400."""

    id = cursor_field()  # the chat's cursors' format: /read_msgs' `id` is the same kind of mark
