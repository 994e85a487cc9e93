"""Read side of comments and notifications: what a thread may hang on, who may read it, what is unread."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from accounts.models import Account, AccountAssignment
from collaboration.models import ChangeRequest, Comment, Notification, SalesPlan
from collaboration.selectors.scope import user_is_manager, user_territory_scope
from territories.models import Scenario, Territory

# The models a thread can hang on, by the name the API and the pages use.
COMMENT_TARGETS = {
    "territory": Territory,
    "account": Account,
    "scenario": Scenario,
    "changerequest": ChangeRequest,
    "salesplan": SalesPlan,
}


def comment_target_get(*, target_type: str, target_id) -> object | None:
    model = COMMENT_TARGETS.get(target_type)
    if model is None:
        return None
    return model.objects.filter(pk=target_id).first()


def comment_target_type(target) -> str:
    return target._meta.model_name


def comment_target_visible(*, user, target) -> bool:
    """Whether a user may read (and so comment on) the thread of a target."""
    from collaboration.selectors.plans import sales_plan_list
    from collaboration.selectors.requests import change_request_list

    if not (user and user.is_authenticated):
        return False
    if isinstance(target, ChangeRequest):
        return change_request_list(user=user).filter(pk=target.pk).exists()
    if isinstance(target, SalesPlan):
        return sales_plan_list(user=user).filter(pk=target.pk).exists()
    scope = user_territory_scope(user=user)
    if scope is None:
        return True
    if isinstance(target, Territory):
        return target.pk in scope
    if isinstance(target, Account):
        return AccountAssignment.objects.filter(account=target, valid_to__isnull=True,
                                                territory_id__in=scope).exists()
    if isinstance(target, Scenario):
        return user_is_manager(user) or Territory.objects.filter(scenario=target, pk__in=scope).exists()
    return False


def comment_list(*, target) -> QuerySet[Comment]:
    """A target's thread, oldest first (visibility is checked by the caller against the target)."""
    return Comment.objects.filter(
        content_type=ContentType.objects.get_for_model(target), object_id=target.pk
    ).select_related("author").prefetch_related("mentions").order_by("created_at", "pk")


def notification_list(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    queryset = Notification.objects.filter(recipient=user).select_related("actor")
    return queryset.filter(read_at__isnull=True) if unread_only else queryset


def notification_unread_count(*, user) -> int:
    if not (user and user.is_authenticated):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
