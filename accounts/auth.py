"""Who is calling: the Bearer token check that `@api` runs (settings.API_AUTHENTICATOR), and the
owner check of the owner-only endpoints (API.md, "Authentication")."""

from accounts.models import User, normalize_email
from accounts.queries import token_named_by
from socialsite import errors
from socialsite.errors import ApiError


def authenticate(request):
    """Set `request.api_token` and `request.api_user` from the key BearerTokenMiddleware read.
    The token is looked up inside the view, so that a database that cannot be reached ends in
    the one error mapping (9503) like any other failure of the request."""
    key = request.bearer_token
    token = token_named_by(key) if key else None
    if token is None:
        raise ApiError(errors.NOT_LOGGED_IN)
    request.api_token = token
    if not token.user.is_active:
        raise ApiError(errors.DEACTIVATED)
    if not token.is_usable():
        raise ApiError(errors.NOT_LOGGED_IN)
    token.touch()
    request.api_user = token.user


def require_owner(request, email, *, unknown=None):
    """The caller when `email` names them; an `ApiError` of the code `unknown` when it names
    nobody; 9403 otherwise (also for an email naming nobody when `unknown` is None: then the
    answer tells nothing of other accounts, and no look-up is made)."""
    caller = request.api_user
    if normalize_email(email) == caller.email:
        return caller
    if unknown is not None and not User.objects.with_email(email).exists():
        raise ApiError(unknown)
    raise ApiError(errors.NOT_THE_OWNER)


def owner_named_by(request, params, *, missing):
    """The caller, named by the `email` parameter of an owner-only endpoint that answers
    `missing` both when it is absent and when it names nobody."""
    (email,) = params.require("email", missing=missing)
    return require_owner(request, email, unknown=missing)
