"""Hooks through which the apps above accounts extend it, so that accounts never imports them
(docs/ARCHITECTURE.md): each app registers its rules and counts in its AppConfig.ready(), its
admin inlines in its admin module."""

# fn(queryset of users, viewer) -> queryset: narrows whom `viewer` may see (friends: blocks).
visibility_rules = []

# name -> fn(user) -> int: counts the owner sees on their own /get_info.
owner_counts = {}

# fn(users) -> iterable of (storage, name): the files of the apps above accounts that go with the
# accounts of `users` (a queryset), such as post images. Called inside the deletion's transaction
# before any row is deleted; the files are deleted once the deletion has committed
# (accounts.services.delete_users). The avatar is accounts' own (accounts.avatars).
account_files = []

# name -> ReportTarget: what /report (feed) accepts beside `post` and `femail`, from the apps that
# feed may not import (chat: `message`). Registered in the app's AppConfig.ready().
report_targets = {}


class ReportTarget:
    """One kind of thing /report can name: `find(reporter, raw_id)` → the target the reporter may
    report, or None (the endpoint's not-found code); `file(reporter, target, reason)` → the
    report queued (the reason already checked), or None when the target went meanwhile."""

    def __init__(self, *, find, file):
        self.find, self.file = find, file


# Admin inline classes shown on a user's admin page (friends: the friend list and the block
# list). Registered when the app's admin module is loaded.
user_admin_inlines = []

# label -> fn(user) -> int: counts shown on a user's admin page (friends: the followers).
# Registered when the app's admin module is loaded.
user_admin_counts = {}


def counts_for_owner(user):
    return {name: count(user) for name, count in owner_counts.items()}
