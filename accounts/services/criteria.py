"""Assignment-rule criteria: validation, and compilation to a parameterised SQL condition on accounts.

A criterion is {"field": ..., "op": ..., "value": ...}; a group is {"logic": "all"|"any", "criteria": [...]}
and may be nested. Operators: equals, not_equals, in, not_in, range ([low, high], either end open),
contains (substring for text, element for the products list), is_empty (value true or false).
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

# Account fields a rule may test, and how to compare them.
TEXT_FIELDS = {
    "external_id", "name", "street", "city", "state", "postal_code", "country", "industry", "segment",
    "customer_type", "tier", "status",
}
NUMBER_FIELDS = {"employees", "annual_revenue", "potential", "workload_hours"}
LIST_FIELDS = {"products"}
RULE_FIELDS = TEXT_FIELDS | NUMBER_FIELDS | LIST_FIELDS
OPERATORS = ("equals", "not_equals", "in", "not_in", "range", "contains", "is_empty")
MAX_DEPTH = 4


def _number(value: Any, *, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{where}: {value!r} is not a number.") from None


def criteria_validate(*, criteria: Any, logic: str = "all") -> list[dict]:
    """Check a rule's criteria; returns them unchanged or raises ValidationError naming the bad item."""
    if logic not in {"all", "any"}:
        raise ValidationError(f"Logic must be 'all' or 'any', not {logic!r}.")
    if not isinstance(criteria, list):
        raise ValidationError("Criteria must be a list of {field, op, value} items.")
    _validate_items(criteria, path="criteria", depth=1)
    return criteria


def _validate_items(items: list, *, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValidationError(f"{path}: groups may be nested at most {MAX_DEPTH} deep.")
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{where}: each criterion must be an object.")
        if "criteria" in item:
            if item.get("logic", "all") not in {"all", "any"}:
                raise ValidationError(f"{where}: group logic must be 'all' or 'any'.")
            if not isinstance(item["criteria"], list) or not item["criteria"]:
                raise ValidationError(f"{where}: a group needs a non-empty list of criteria.")
            _validate_items(item["criteria"], path=f"{where}.criteria", depth=depth + 1)
            continue
        field, op, value = item.get("field"), item.get("op"), item.get("value")
        if field not in RULE_FIELDS:
            raise ValidationError(f"{where}: unknown field {field!r}; use one of {', '.join(sorted(RULE_FIELDS))}.")
        if op not in OPERATORS:
            raise ValidationError(f"{where}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}.")
        if op in {"in", "not_in"} and (not isinstance(value, list) or not value):
            raise ValidationError(f"{where}: '{op}' needs a non-empty list of values.")
        if op == "range":
            if not isinstance(value, list) or len(value) != 2 or value == [None, None]:
                raise ValidationError(f"{where}: 'range' needs [low, high]; one end may be null.")
            if field in NUMBER_FIELDS:
                for end in value:
                    if end is not None:
                        _number(end, where=where)
        if op in {"equals", "not_equals", "contains"} and (value is None or isinstance(value, list | dict)):
            raise ValidationError(f"{where}: '{op}' needs a single value.")
        if op in {"equals", "not_equals"} and field in NUMBER_FIELDS:
            _number(value, where=where)
        if op == "contains" and field in NUMBER_FIELDS:
            raise ValidationError(f"{where}: 'contains' works on text fields and products, not on {field}.")
        if op == "is_empty" and not isinstance(value, bool) and value is not None:
            raise ValidationError(f"{where}: 'is_empty' takes true or false.")


def criteria_compile(*, criteria: list[dict], logic: str = "all", alias: str = "a") -> tuple[str, list]:
    """The SQL condition (with %s parameters) an account row `alias` must meet; TRUE when there are none."""
    return _compile_group(criteria, logic, alias)


def _compile_group(items: list[dict], logic: str, alias: str) -> tuple[str, list]:
    if not items:
        return "TRUE", []
    parts, params = [], []
    for item in items:
        if "criteria" in item:
            sql, item_params = _compile_group(item["criteria"], item.get("logic", "all"), alias)
        else:
            sql, item_params = _compile_one(item, alias)
        parts.append(f"({sql})")
        params.extend(item_params)
    joiner = " AND " if logic == "all" else " OR "
    return joiner.join(parts), params


def _compile_one(item: dict, alias: str) -> tuple[str, list]:
    field, op, value = item["field"], item["op"], item.get("value")
    column = f"{alias}.{field}"  # field is whitelisted above, never user text
    if field in LIST_FIELDS:
        return _compile_list(column, op, value)
    is_number = field in NUMBER_FIELDS
    cast = "::numeric" if is_number else "::text"

    def convert(raw):
        return _number(raw, where=field) if is_number else str(raw)

    if op == "equals":
        return f"{column} = %s{cast}", [convert(value)]
    if op == "not_equals":
        return f"{column} IS DISTINCT FROM %s{cast}", [convert(value)]
    if op == "in":
        return f"{column} = ANY(%s{cast}[])", [[convert(v) for v in value]]
    if op == "not_in":
        return f"NOT ({column} = ANY(%s{cast}[])) OR {column} IS NULL", [[convert(v) for v in value]]
    if op == "range":
        low, high = value
        parts, params = [], []
        if low is not None:
            parts.append(f"{column} >= %s{cast}")
            params.append(convert(low))
        if high is not None:
            parts.append(f"{column} <= %s{cast}")
            params.append(convert(high))
        return " AND ".join(parts), params
    if op == "contains":
        return f"strpos(lower({column}), %s) > 0", [str(value).lower()]
    if op == "is_empty":
        empty = f"({column} IS NULL)" if is_number else f"(coalesce({column}, '') = '')"
        return (empty if value in (True, None) else f"NOT {empty}"), []
    raise ValidationError(f"Unknown operator {op!r}.")


def _compile_list(column: str, op: str, value) -> tuple[str, list]:
    if op in {"equals", "contains"}:
        return f"{column} @> ARRAY[%s]::varchar[]", [str(value)]
    if op == "not_equals":
        return f"NOT ({column} @> ARRAY[%s]::varchar[])", [str(value)]
    if op == "in":
        return f"{column} && %s::varchar[]", [[str(v) for v in value]]
    if op == "not_in":
        return f"NOT ({column} && %s::varchar[])", [[str(v) for v in value]]
    if op == "is_empty":
        empty = f"(cardinality({column}) = 0)"
        return (empty if value in (True, None) else f"NOT {empty}"), []
    raise ValidationError(f"'{op}' does not apply to a list field.")


def criteria_describe(*, criteria: list[dict], logic: str = "all") -> str:
    """A one-line human reading of the criteria, for pages and exports."""
    if not criteria:
        return "any account"
    words = []
    for item in criteria:
        if "criteria" in item:
            words.append(f"({criteria_describe(criteria=item['criteria'], logic=item.get('logic', 'all'))})")
        else:
            words.append(_condition_describe(item["field"], item["op"], item.get("value")))
    return (" and " if logic == "all" else " or ").join(words)


def _value_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def _condition_describe(field: str, op: str, value) -> str:
    """One condition in words: ranges say which end is open; lists are listed; is_empty says empty or not."""
    if op == "range" and isinstance(value, list | tuple) and len(value) == 2:
        low, high = value
        if low is not None and high is not None:
            return f"{field} between {_value_text(low)} and {_value_text(high)}"
        if low is not None:
            return f"{field} at least {_value_text(low)}"
        if high is not None:
            return f"{field} at most {_value_text(high)}"
        return f"{field} any value"
    if op in {"in", "not_in"} and isinstance(value, list):
        listed = ", ".join(_value_text(item) for item in value)
        return f"{field} {'in' if op == 'in' else 'not in'} ({listed})"
    if op == "is_empty":
        return f"{field} is empty" if value in (True, None) else f"{field} is not empty"
    return f"{field} {op.replace('_', ' ')} {_value_text(value)}"
