from django import forms

from accounts.models import Sex, User, normalize_email


class SearchForm(forms.Form):
    """The optional filters of /get_data; a value that could never match is a 9400, not []."""

    femail = forms.EmailField(required=False)
    username = forms.CharField(
        max_length=User._meta.get_field("username").max_length, required=False
    )
    sex = forms.ChoiceField(choices=Sex.choices, required=False)
    like = forms.CharField(max_length=User._meta.get_field("like").max_length, required=False)
    flike = forms.CharField(max_length=User._meta.get_field("flike").max_length, required=False)

    def clean_femail(self):
        return normalize_email(self.cleaned_data["femail"])
