"""Shareable read-only views of a scenario: a signed token, stored only as a hash, expiring at a chosen time.

The link carries `signing.dumps({"id": pk, "secret": secret})`: the signature rejects tampered links before
any lookup, and the secret's SHA-256 must match the stored hash, so a database leak does not reveal links.
"""

import datetime as dt
import hashlib
import hmac
import secrets

from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from collaboration.models import ShareLink
from collaboration.selectors.scope import user_is_manager
from territories.models import Scenario

SALT = "collaboration.share-link"
MAX_DAYS = 365


class ShareLinkGone(Exception):
    """The link existed but has expired or been revoked (HTTP 410)."""

    def __init__(self, link: ShareLink, why: str):
        super().__init__(why)
        self.link = link
        self.why = why


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def share_link_create(*, user, scenario: Scenario, expires_at: dt.datetime, label: str = "") -> tuple[ShareLink, str]:
    """Returns the link and its token, which is shown once and never stored."""
    if not (user.has_perm("collaboration.add_sharelink") and user_is_manager(user)):
        raise PermissionDenied("Only managers share scenarios.")
    if timezone.is_naive(expires_at):
        raise ValidationError({"expires_at": "A time zone is required."})
    now = timezone.now()
    if expires_at <= now:
        raise ValidationError({"expires_at": "Choose a moment in the future."})
    if expires_at > now + dt.timedelta(days=MAX_DAYS):
        raise ValidationError({"expires_at": f"A link lives at most {MAX_DAYS} days."})
    secret = secrets.token_urlsafe(24)
    link = ShareLink.objects.create(scenario=scenario, label=(label or "").strip()[:200], prefix=secret[:8],
                                    token_hash=_hash(secret), expires_at=expires_at, created_by=user)
    return link, signing.dumps({"id": link.pk, "secret": secret}, salt=SALT, compress=True)


@transaction.atomic
def share_link_revoke(*, user, link: ShareLink) -> ShareLink:
    if not (user.has_perm("collaboration.delete_sharelink") and user_is_manager(user)):
        raise PermissionDenied("Only managers revoke shared links.")
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link


def share_link_resolve(*, token: str, count_view: bool = True) -> ShareLink:
    """The link a token opens; ShareLink.DoesNotExist for a forged or unknown one, ShareLinkGone for a dead one."""
    try:
        data = signing.loads(token, salt=SALT)
        link = ShareLink.objects.select_related("scenario").get(pk=int(data["id"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise ShareLink.DoesNotExist from None
    if not hmac.compare_digest(link.token_hash, _hash(str(data.get("secret", "")))):
        raise ShareLink.DoesNotExist
    now = timezone.now()
    if link.revoked_at is not None:
        raise ShareLinkGone(link, "This link has been revoked by the person who shared it.")
    if link.expires_at <= now:
        raise ShareLinkGone(link, f"This link expired on {timezone.localtime(link.expires_at):%Y-%m-%d %H:%M}.")
    if count_view:
        ShareLink.objects.filter(pk=link.pk).update(view_count=F("view_count") + 1, last_viewed_at=now)
    return link
