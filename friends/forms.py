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

    def clean_femail(self):
        return normalize_email(self.cleaned_data["femail"])


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
