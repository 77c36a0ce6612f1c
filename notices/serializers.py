"""JSON shapes of notices (API.md, "Objects" → Notice)."""

from urllib.parse import urljoin

from django.conf import settings

from accounts.serializers import card_json


class SiteAddress:
    """What the serializers need of a request, for a frame built without one (a notice is made
    in a signal receiver, and pushed after commit): absolute URLs under the SITE_URL setting,
    the address clients reach the site at."""

    def build_absolute_uri(self, location):
        return urljoin(settings.SITE_URL, location)


def notice_json(notice, request):
    """The Notice object of `notice` (its actor selected); `request` builds the avatar's URL."""
    return {
        "id": notice.pk,
        "type": notice.type,
        "actor": card_json(notice.actor, request),
        "post": notice.post_id,
        "comment": notice.comment_id,
        "text": notice.text,
        "created_at": notice.created_at.isoformat(),
        "read": int(notice.read),
    }
