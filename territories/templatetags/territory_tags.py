from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in a template (empty list when missing)."""
    return (mapping or {}).get(key, [])
