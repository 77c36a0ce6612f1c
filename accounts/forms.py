from django import forms
from django.contrib.auth import password_validation
from django.utils import timezone

from accounts import avatars
from accounts.models import User

PROFILE_FIELDS = (
    "name",
    "username",
    "sex",
    "birthday",
    "like",
    "flike",
    "location",
    "introduction",
)


class EmailForm(forms.Form):
    # The column's limit (254), not the form field's default (320): a longer email is malformed,
    # not a failed INSERT.
    email = forms.EmailField(max_length=User._meta.get_field("email").max_length)


class LogoutForm(forms.Form):
    """/logout: `all=1` revokes every token of the user."""

    all = forms.TypedChoiceField(
        choices=[("0", "0"), ("1", "1")],
        coerce=lambda value: value == "1",
        required=False,
        empty_value=False,
    )


class ProfileForm(forms.ModelForm):
    """The editable profile fields. Only fields given in the data are validated and saved, so a
    missing field leaves the stored value unchanged (API.md, /reset). Blank counts as missing:
    the form would strip it to "" and clear the field."""

    birthday = forms.DateField(input_formats=["%Y-%m-%d"], required=False)

    def clean_birthday(self):
        birthday = self.cleaned_data["birthday"]
        if birthday and birthday > timezone.localdate():
            raise forms.ValidationError("生日不能晚于今天。", code="future")
        return birthday

    class Meta:
        model = User
        fields = PROFILE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if not str(self.data.get(name, "")).strip():
                del self.fields[name]


class PasswordForm(forms.Form):
    """The new password in `pass`, checked with Django's validators against its future owner."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["pass"] = forms.CharField(strip=False)

    def clean(self):
        password = self.cleaned_data.get("pass")
        if password is not None:
            try:
                password_validation.validate_password(password, self.user)
            except forms.ValidationError as error:
                self.add_error("pass", error)
        return self.cleaned_data


class AvatarField(forms.FileField):
    """An uploaded avatar (the admin), checked and re-encoded by the same pipeline as the API's
    base64 `img`: the cleaned value is the new WebP file under a random name."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget",
            forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
        )
        super().__init__(**kwargs)

    def to_python(self, data):
        upload = super().to_python(data)
        if upload is None:
            return None
        try:
            return avatars.from_upload(upload)
        except avatars.InvalidAvatar as error:
            raise forms.ValidationError(str(error), code="invalid_image") from None
