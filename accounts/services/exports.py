"""Account export as CSV or GeoJSON, with each account's territory, owner rep and the reason it is there.

The CSV uses the import's columns (plus territory and rep columns), so an export can be edited and imported back.
"""

import csv
import json
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import QuerySet

from accounts.models import AccountAssignment

FIELDS = ["external_id", "name", "street", "city", "state", "postal_code", "country", "longitude", "latitude",
          "industry", "segment", "customer_type", "products", "employees", "annual_revenue", "potential", "tier",
          "status", "workload_hours"]
ALIGNMENT_FIELDS = ["territory_code", "territory_name", "rep", "assignment_source", "assignment_reason"]
SOURCE_LABELS = dict(AccountAssignment.Source.choices)


def _reason(account) -> str:
    source = getattr(account, "current_source", None)
    if not source:
        return ""
    text = SOURCE_LABELS.get(source, source)
    if source == AccountAssignment.Source.RULE and account.current_rule_name:
        text = f"{text}: {account.current_rule_name}"
    if account.current_reason:
        text = f"{text} ({account.current_reason})"
    return text


def _record(account) -> dict:
    location = account.location
    return {
        "external_id": account.external_id, "name": account.name, "street": account.street, "city": account.city,
        "state": account.state, "postal_code": account.postal_code, "country": account.country,
        "longitude": round(location.x, 7) if location else "", "latitude": round(location.y, 7) if location else "",
        "industry": account.industry, "segment": account.segment, "customer_type": account.customer_type,
        "products": ";".join(account.products or []), "employees": account.employees if account.employees is not None
        else "", "annual_revenue": account.annual_revenue, "potential": account.potential, "tier": account.tier,
        "status": account.status, "workload_hours": account.workload_hours,
        "territory_code": getattr(account, "current_territory_code", None) or "",
        "territory_name": getattr(account, "current_territory_name", None) or "",
        "rep": getattr(account, "owner_rep_name", None) or "",
        "assignment_source": getattr(account, "current_source", None) or "",
        "assignment_reason": _reason(account),
    }


class _Echo:
    def write(self, value):
        return value


def account_export_csv_rows(*, accounts: QuerySet) -> Iterator[str]:
    """CSV lines, streamed (the queryset is read in chunks)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(FIELDS + ALIGNMENT_FIELDS)
    for account in accounts.iterator(chunk_size=2000):
        record = _record(account)
        yield writer.writerow([record[name] for name in FIELDS + ALIGNMENT_FIELDS])


def _json_default(value):
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def account_export_geojson_chunks(*, accounts: QuerySet) -> Iterator[str]:
    """A GeoJSON FeatureCollection, streamed feature by feature."""
    yield '{"type": "FeatureCollection", "features": ['
    first = True
    for account in accounts.iterator(chunk_size=2000):
        record = _record(account)
        longitude, latitude = record.pop("longitude"), record.pop("latitude")
        feature = {
            "type": "Feature", "id": account.pk,
            "geometry": {"type": "Point", "coordinates": [longitude, latitude]} if account.location else None,
            "properties": record,
        }
        yield ("" if first else ",") + json.dumps(feature, default=_json_default)
        first = False
    yield "]}"
