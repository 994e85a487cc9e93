"""API tokens for integrations: created and revoked by their user or an admin, stored hashed."""

import datetime as dt
import hashlib
import secrets

from django.contrib.auth.models import Group
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.utils import timezone
from rest_framework import authentication, exceptions

from core.models import ApiToken
from core.roles import user_group_names_prime

TOKEN_PREFIX = "tm_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, user, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """Returns the token row and the plaintext, which is shown once and never stored."""
    prefix = secrets.token_hex(4)
    plaintext = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, key_hash=_hash(plaintext),
                                    expires_at=expires_at)
    return token, plaintext


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer tm_...` (or `Token tm_...`)."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        # The user's group names come with the token (the role checks of the request then read no more).
        group_names = ArraySubquery(Group.objects.filter(user=OuterRef("user_id")).values("name"))
        token = (ApiToken.objects.select_related("user").annotate(user_group_names=group_names)
                 .filter(key_hash=_hash(header[1])).first())
        now = timezone.now()
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API token is unknown or has been revoked.")
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API token has expired; create a new one.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this API token is inactive.")
        user_group_names_prime(token.user, token.user_group_names)
        # Write last use at most once a minute, so busy integrations don't write on every request.
        if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'
