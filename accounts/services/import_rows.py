"""Parsing one imported account row (a CSV line, a GeoJSON feature, an item of the bulk API) into typed values,
with the error that names the column; shared by the file import and the bulk upsert."""

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from accounts.models import Account

Progress = Callable[[float, str], None] | None
PROGRESS_EVERY = 10_000
MAX_REPORTED_ERRORS = 1_000
MAX_EMPLOYEES = 2_147_483_647  # accounts_account.employees is an integer column

# column -> (sql type, parser name); the order is the temporary table's.
COLUMNS = {
    "external_id": "varchar(64)",
    "name": "varchar(200)",
    "street": "varchar(200)",
    "city": "varchar(100)",
    "state": "varchar(100)",
    "postal_code": "varchar(20)",
    "country": "varchar(2)",
    "location": "geometry(Point,4326)",
    "industry": "varchar(64)",
    "segment": "varchar(16)",
    "customer_type": "varchar(3)",
    "products": "varchar(64)[]",
    "employees": "integer",
    "annual_revenue": "numeric(14,2)",
    "potential": "numeric(14,2)",
    "tier": "varchar(1)",
    "status": "varchar(16)",
    "workload_hours": "double precision",
}
DEFAULTS = {
    "street": "",
    "city": "",
    "state": "",
    "postal_code": "",
    "country": "US",
    "location": None,
    "industry": "",
    "segment": "",
    "customer_type": "b2b",
    "products": [],
    "employees": None,
    "annual_revenue": Decimal(0),
    "potential": Decimal(0),
    "tier": "C",
    "status": "customer",
    "workload_hours": 0.0,
}
LONGITUDE_NAMES = ("longitude", "lon", "lng", "x")
LATITUDE_NAMES = ("latitude", "lat", "y")
CHOICES = {
    "segment": Account.Segment,
    "customer_type": Account.CustomerType,
    "tier": Account.Tier,
    "status": Account.Status,
}


class RowError(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column, self.message = column, message


def _text(column: str, value, max_length: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise RowError(column, "is required")
    if len(text) > max_length:
        raise RowError(column, f"is longer than {max_length} characters")
    return text


# column -> {stored value or label, lower-cased: stored value}; built once (enum .choices is rebuilt on every access)
_CHOICE_LOOKUP = {
    column: {
        **{str(label).lower(): stored for stored, label in choices.choices},
        **{stored.lower(): stored for stored in choices.values},
    }
    for column, choices in CHOICES.items()
}


def _choice(column: str, value) -> str:
    text = "" if value is None else str(value).strip()
    if not text:
        return DEFAULTS[column]
    stored = _CHOICE_LOOKUP[column].get(text.lower())
    if stored is None:
        raise RowError(column, f"{text!r} is not one of {', '.join(CHOICES[column].values)}")
    return stored


def _decimal(column: str, value) -> Decimal | None:
    text = "" if value is None else str(value).strip().replace(",", "")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RowError(column, f"{text!r} is not a number") from None
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        raise RowError(column, f"{text!r} is out of range")
    if number < 0:
        raise RowError(column, "cannot be negative")
    return number.quantize(Decimal("0.01"))


def _coordinate(column: str, value, limit: float) -> float | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise RowError(column, f"{text!r} is not a number") from None
    if not -limit <= number <= limit:
        raise RowError(column, f"{number:g} is outside -{limit:g}..{limit:g}")
    return number


def _row_values(raw: dict, present: set[str], location: tuple[float, float] | None) -> dict:
    """Parse one input row into typed values; raises RowError naming the column."""
    values = {
        "external_id": _text("external_id", raw.get("external_id"), 64, required=True),
        "name": _text("name", raw.get("name"), 200, required=True),
    }
    for column, size in (("street", 200), ("city", 100), ("state", 100), ("postal_code", 20), ("industry", 64)):
        if column in present:
            values[column] = _text(column, raw.get(column), size)
    if "country" in present:
        country = _text("country", raw.get("country"), 2).upper() or "US"
        values["country"] = country
    for column in CHOICES:
        if column in present:
            values[column] = _choice(column, raw.get(column))
    if "products" in present:
        products = raw.get("products")
        items = products if isinstance(products, list) else str(products or "").replace("|", ";").split(";")
        values["products"] = [_text("products", item, 64) for item in items if str(item).strip()]
    if "employees" in present:
        text = str(raw.get("employees") or "").strip()
        if text:
            try:
                values["employees"] = int(float(text))
            except (ValueError, OverflowError):  # OverflowError: "inf"
                raise RowError("employees", f"{text!r} is not a whole number") from None
            if values["employees"] < 0:
                raise RowError("employees", "cannot be negative")
            if values["employees"] > MAX_EMPLOYEES:  # the column's type holds no more (it failed the whole file)
                raise RowError("employees", f"{text!r} is out of range")
        else:
            values["employees"] = None
    for column in ("annual_revenue", "potential"):
        if column in present:
            values[column] = _decimal(column, raw.get(column)) or Decimal(0)
    if "workload_hours" in present:
        number = _decimal("workload_hours", raw.get("workload_hours"))
        values["workload_hours"] = float(number) if number is not None else 0.0
    if location is not None or "location" in present:
        values["location"] = f"SRID=4326;POINT({location[0]!r} {location[1]!r})" if location else None
    return values


def csv_location(lon_name: str | None, lat_name: str | None, lon_text, lat_text) -> tuple[float, float] | None:
    """A CSV row's point from its longitude and latitude cells (None when the file has no such columns or both are
    empty); raises RowError naming the header as the file spells it."""
    if not (lon_name and lat_name):
        return None
    lon = _coordinate(lon_name, lon_text, 180)
    lat = _coordinate(lat_name, lat_text, 90)
    if (lon is None) != (lat is None):
        raise RowError(lon_name if lon is None else lat_name, "is empty while the other coordinate is given")
    return (lon, lat) if lon is not None else None


def default_sql(column: str) -> str:
    """A column's default as an SQL literal, for the columns an import file does not have."""
    value = DEFAULTS[column]
    if value is None:
        return "NULL"
    if column == "products":
        return "'{}'::varchar[]"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)
