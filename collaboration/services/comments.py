"""Comments on territories, accounts, scenarios, change requests and plans, with @username mentions."""

import re

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from collaboration.models import ChangeRequest, Comment, Notification, SalesPlan
from collaboration.selectors.threads import comment_target_visible
from collaboration.services.notifications import notification_notify
from collaboration.urls_helpers import target_url

MENTION_PATTERN = re.compile(r"(?<![\w@.])@([\w.@+-]+)")
MAX_COMMENT_LENGTH = 5000


def comment_mentions_parse(*, body: str) -> list[str]:
    """Usernames written as @username, in order, without duplicates (a trailing full stop is not part of it)."""
    names = []
    for match in MENTION_PATTERN.finditer(body):
        name = match.group(1).rstrip(".")
        if name and name not in names:
            names.append(name)
    return names


def _participants(target) -> list:
    """Who follows a thread without being mentioned: a request's proposer and decider, a plan's author."""
    if isinstance(target, ChangeRequest):
        from collaboration.selectors.requests import change_request_deciders

        people = [target.proposed_by, target.decided_by]
        if target.is_open:
            people += change_request_deciders(change_request=target)
        return people
    if isinstance(target, SalesPlan):
        return [target.author, target.approved_by]
    return []


@transaction.atomic
def comment_add(*, user, target, body: str, is_system: bool = False) -> Comment:
    """Add a comment; people mentioned who may read the thread are notified, and so are its participants."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something."})
    if len(body) > MAX_COMMENT_LENGTH:
        raise ValidationError({"body": f"Keep comments under {MAX_COMMENT_LENGTH} characters."})
    allowed = is_system or (user.has_perm("collaboration.add_comment") and comment_target_visible(user=user,
                                                                                                   target=target))
    if not allowed:
        raise PermissionDenied("You cannot comment here.")
    comment = Comment.objects.create(
        content_type=ContentType.objects.get_for_model(target), object_id=target.pk, author=user, body=body,
        is_system=is_system,
    )
    names = comment_mentions_parse(body=body)
    mentioned = [
        person for person in get_user_model().objects.filter(username__in=names, is_active=True)
        if comment_target_visible(user=person, target=target)
    ]
    comment.mentions.set(mentioned)
    who = user.get_full_name() or user.username if user else "Someone"
    url = target_url(target)
    notification_notify(recipients=mentioned, actor=user, kind=Notification.Kind.MENTION,
                        message=f"{who} mentioned you on {target}: {body[:120]}", target=target, url=url)
    if not is_system:
        others = [p for p in _participants(target) if p is not None and p not in mentioned]
        notification_notify(recipients=others, actor=user, kind=Notification.Kind.COMMENT,
                            message=f"{who} commented on {target}: {body[:120]}", target=target, url=url)
    return comment


@transaction.atomic
def comment_update(*, user, comment: Comment, body: str) -> Comment:
    from django.utils import timezone

    if comment.author_id != user.pk or comment.is_system:
        raise PermissionDenied("You can only edit your own comments.")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something."})
    comment.body = body[:MAX_COMMENT_LENGTH]
    comment.edited_at = timezone.now()
    comment.save(update_fields=["body", "edited_at"])
    return comment
