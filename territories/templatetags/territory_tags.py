from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in a template (empty list when missing)."""
    return (mapping or {}).get(key, [])


@register.filter
def rule_criteria_text(rule):
    """A rule's criteria in words ("industry equals 'healthcare' and tier in ('A', 'B')")."""
    from accounts.services.criteria import criteria_describe

    return criteria_describe(criteria=rule.criteria or [], logic=rule.logic)


@register.filter
def percent(fraction, digits=1):
    """A fraction as a percentage with `digits` decimals (0.0472 → "4.7"); empty for no value."""
    if fraction in (None, ""):
        return ""
    return f"{float(fraction) * 100:.{int(digits)}f}"
