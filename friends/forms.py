from django import forms

from accounts.models import Sex, User, normalize_email
from friends.models import Block, Friendship


class SearchForm(forms.Form):
    """The optional filters of /get_data; a value that could never match is a 9400, not []."""

    femail = forms.EmailField(required=False)
    username = forms.CharField(
        max_length=User._meta.get_field("username").max_length, required=False
    )
    sex = forms.ChoiceField(choices=Sex.choices, required=False)
    like = forms.CharField(max_length=User._meta.get_field("like").max_length, required=False)
    flike = forms.CharField(max_length=User._meta.get_field("flike").max_length, required=False)
    location = forms.CharField(
        max_length=User._meta.get_field("location").max_length, required=False
    )
    # Whole years, unbounded above: an age no one reaches matches nobody (queries.age_between).
    age1 = forms.IntegerField(min_value=0, required=False)
    age2 = forms.IntegerField(min_value=0, required=False)
    order = forms.ChoiceField(choices=[("oldest", "oldest"), ("newest", "newest")], required=False)

    def clean_femail(self):
        return normalize_email(self.cleaned_data["femail"])

    def clean(self):
        cleaned_data = super().clean()
        age1, age2 = cleaned_data.get("age1"), cleaned_data.get("age2")
        if age1 is not None and age2 is not None and age1 > age2:
            self.add_error("age2", forms.ValidationError("age2 不能小于 age1。", code="age_range"))
        return cleaned_data


class FriendshipAdminForm(forms.ModelForm):
    """A friendship edited by staff (its own admin page or the user's inline): not across a block,
    which /set_friend refuses (5007) and which the block's own admin removes."""

    class Meta:
        model = Friendship
        fields = ["owner", "friend", "group"]

    def clean(self):
        cleaned_data = super().clean()
        # The inline sets the owner on the instance rather than in the form's fields.
        owner = cleaned_data.get("owner") or self.instance.owner_id
        friend = cleaned_data.get("friend")
        if owner and friend and Block.objects.between(owner, friend).exists():
            raise forms.ValidationError("两人之间有拉黑，不能加为好友；请先取消拉黑。")
        return cleaned_data
