"""Where a notification or e-mail about a target should lead."""

from django.urls import NoReverseMatch, reverse


def target_url(target) -> str:
    name = target._meta.model_name
    try:
        if name == "changerequest":
            return reverse("collaboration:request-detail", args=[target.pk])
        if name == "salesplan":
            return reverse("collaboration:plan-detail", args=[target.pk])
        return reverse("collaboration:thread", args=[name, target.pk])
    except NoReverseMatch:
        return ""
