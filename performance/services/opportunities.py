"""Opportunities: CSV import with a per-row report (all-or-nothing unless skipping bad rows), upsert by external id."""

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation
from typing import IO

from django.db import transaction

from accounts.models import Account
from performance.models import Opportunity
from performance.services.kpis import kpi_refresh_for_accounts
from reps.models import Rep

MAX_REPORTED_ERRORS = 1_000
REQUIRED_COLUMNS = ("external_id", "account_external_id", "name", "stage", "amount", "close_date")
OPTIONAL_COLUMNS = ("product", "created_date", "rep_email")
UPDATED_FIELDS = ["account", "rep", "name", "product", "stage", "amount", "created_date", "close_date"]
# Stages are accepted by value ("won") or label ("Closed won"), in any case.
STAGES = {**{value: value for value in Opportunity.Stage.values},
          **{label.lower(): value for value, label in Opportunity.Stage.choices}}


class RowError(Exception):
    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column, self.message = column, message


def _text(raw: dict, column: str, max_length: int, required: bool = True) -> str:
    text = (raw.get(column) or "").strip()
    if required and not text:
        raise RowError(column, "is required")
    if len(text) > max_length:
        raise RowError(column, f"is longer than {max_length} characters")
    return text


def _date(raw: dict, column: str, required: bool = True) -> dt.date | None:
    text = (raw.get(column) or "").strip()
    if not text:
        if required:
            raise RowError(column, "is required")
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RowError(column, f"{text!r} is not a date (YYYY-MM-DD)") from None


def _amount(raw: dict) -> Decimal:
    text = (raw.get("amount") or "").strip().replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowError("amount", f"{text!r} is not a number" if text else "is required") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e12"):
        raise RowError("amount", f"{text!r} must be between 0 and 999,999,999,999.99")
    return value.quantize(Decimal("0.01"))


class _Collector:
    """Reads a row's fields, keeping every column's error so the report names all of them at once."""

    def __init__(self):
        self.errors: list[RowError] = []

    def __call__(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except RowError as error:
            self.errors.append(error)
            return None


def _account(raw: dict, accounts: dict[str, int]) -> int:
    key = _text(raw, "account_external_id", 64)
    if key not in accounts:
        raise RowError("account_external_id", f"no account with external id {key!r}")
    return accounts[key]


def _stage(raw: dict) -> str:
    text = _text(raw, "stage", 32).lower()
    if text not in STAGES:
        raise RowError("stage", f"{text!r} is not one of {', '.join(Opportunity.Stage.values)}")
    return STAGES[text]


def _rep(raw: dict, reps: dict[str, int]) -> int | None:
    email = (raw.get("rep_email") or "").strip().lower()
    if email and email not in reps:
        raise RowError("rep_email", f"no rep with email {email!r}")
    return reps.get(email)


def _row(raw: dict, accounts: dict[str, int], reps: dict[str, int]) -> tuple[dict, list[RowError]]:
    read = _Collector()
    values = {
        "external_id": read(_text, raw, "external_id", 64), "account_id": read(_account, raw, accounts),
        "rep_id": read(_rep, raw, reps), "name": read(_text, raw, "name", 200),
        "product": read(_text, raw, "product", 64, False), "stage": read(_stage, raw), "amount": read(_amount, raw),
        "created_date": read(_date, raw, "created_date", False), "close_date": read(_date, raw, "close_date"),
    }
    if values["close_date"]:
        values["created_date"] = values["created_date"] or values["close_date"]
        if values["created_date"] > values["close_date"]:
            read.errors.append(RowError("created_date", "is after close_date"))
    return values, read.errors


def opportunity_import(*, file: IO, skip_bad_rows: bool = False, refresh_kpis: bool = True) -> dict:
    """Import opportunities from CSV; the report lists every bad row as (line, column, message).

    Columns: external_id, account_external_id, name, stage, amount, close_date (required), product,
    created_date, rep_email (optional). A row whose external_id exists updates that opportunity.
    Nothing is saved when any row is bad, unless `skip_bad_rows`.
    """
    def rejected(column: str, message: str, line: int = 1) -> dict:
        return {"rows": 0, "errors": 1, "created": 0, "updated": 0, "skipped": 0, "committed": False,
                "report": [{"line": line, "column": column, "message": message}], "message": message}

    content = file.read()
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
        reader = csv.DictReader(io.StringIO(text))
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            return rejected(missing[0], f"The file lacks the column(s) {', '.join(missing)}; nothing was saved.")
        rows = [{(key or "").strip().lower(): value if isinstance(value, str) else "" for key, value in raw.items()}
                for raw in reader]
    except UnicodeDecodeError:
        return rejected("", "The file is not UTF-8 text; save the spreadsheet as CSV UTF-8.")
    except csv.Error as error:
        return rejected("", f"The file is not valid CSV: {error}.", line=reader.line_num or 1)
    account_keys = {(raw.get("account_external_id") or "").strip() for raw in rows}
    accounts = dict(Account.objects.filter(external_id__in=account_keys).values_list("external_id", "pk"))
    reps = {email.lower(): pk for email, pk in Rep.objects.exclude(email="").values_list("email", "pk")}

    errors, valid, seen, bad_rows = [], [], {}, 0
    for line, raw in enumerate(rows, start=2):  # line 1 is the header
        values, row_errors = _row(raw, accounts, reps)
        external_id = values["external_id"]
        if external_id and external_id in seen:
            row_errors.insert(0, RowError("external_id", f"{external_id!r} appears again; first at line "
                                                         f"{seen[external_id]}"))
        elif external_id:
            seen[external_id] = line
        if row_errors:
            bad_rows += 1
            errors += [{"line": line, "column": error.column, "message": f"{error.column} {error.message}"}
                       for error in row_errors]
        else:
            valid.append(values)
    summary = {"rows": len(rows), "errors": bad_rows, "report": errors[:MAX_REPORTED_ERRORS], "created": 0,
               "updated": 0, "skipped": 0, "committed": False}
    if bad_rows and not skip_bad_rows:
        summary.update(skipped=len(rows), message=(
            f"Import rejected: {bad_rows} of {len(rows)} rows have errors; nothing was saved. "
            "Fix them, or import again skipping bad rows."))
        return summary
    updated = _write(valid, refresh_kpis=refresh_kpis, reason="opportunities imported")
    summary.update(committed=True, created=len(valid) - updated, updated=updated, skipped=bad_rows,
                   message=f"{len(valid) - updated} opportunities created, {updated} updated, {bad_rows} skipped.")
    return summary


def _write(valid: list[dict], *, refresh_kpis: bool, reason: str) -> int:
    """Upsert validated rows by external id in one transaction; the number that existed (updated)."""
    with transaction.atomic():
        keys = [values["external_id"] for values in valid]
        existing = set(Opportunity.objects.filter(external_id__in=keys).values_list("external_id", flat=True))
        Opportunity.objects.bulk_create(
            [Opportunity(**values) for values in valid], batch_size=2000,
            update_conflicts=True, unique_fields=["external_id"], update_fields=UPDATED_FIELDS,
        )
        account_ids = {values["account_id"] for values in valid}
        if refresh_kpis and account_ids:
            kpi_refresh_for_accounts(account_ids=account_ids, reason=reason)
    return len(existing)


def _item_text(value) -> str:
    """A JSON value as the CSV cell the row validation reads (numbers as written, null as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value if isinstance(value, str) else repr(value)


def opportunity_upsert(*, items: list, skip_invalid: bool = False, refresh_kpis: bool = True) -> dict:
    """Create or update opportunities given as objects (the bulk API) by external id, with the CSV import's row
    validation. The report lists (index, field, message) per problem; with any bad item nothing is saved unless
    `skip_invalid`. Counts follow the shared bulk report (updates are not compared, so `unchanged` is 0)."""
    rows: list[dict | None] = []
    for item in items:
        rows.append({str(key).strip().lower(): _item_text(value) for key, value in item.items()}
                    if isinstance(item, dict) else None)
    account_keys = {(raw.get("account_external_id") or "").strip() for raw in rows if raw}
    accounts = dict(Account.objects.filter(external_id__in=account_keys).values_list("external_id", "pk"))
    reps = {email.lower(): pk for email, pk in Rep.objects.exclude(email="").values_list("email", "pk")}
    errors, valid, seen, bad_items = [], [], {}, 0
    for index, raw in enumerate(rows):
        if raw is None:
            row_errors = [RowError("item", "must be an object with external_id, account_external_id, name, stage, "
                                           "amount and close_date")]
        else:
            values, row_errors = _row(raw, accounts, reps)
            external_id = values["external_id"]
            if external_id and external_id in seen:
                row_errors.insert(0, RowError("external_id", f"{external_id!r} appears again; first at item "
                                                             f"{seen[external_id]}"))
            elif external_id:
                seen[external_id] = index
        if row_errors:
            bad_items += 1
            errors += [{"index": index, "field": error.column, "message": f"{error.column} {error.message}"}
                       for error in row_errors]
        else:
            valid.append(values)
    summary = {"items": len(items), "errors": bad_items, "report": errors[:MAX_REPORTED_ERRORS], "created": 0,
               "updated": 0, "unchanged": 0, "skipped": 0, "committed": False}
    if bad_items and not skip_invalid:
        summary.update(skipped=len(items), message=f"Rejected: {bad_items} of {len(items)} items have errors; "
                                                   "nothing was saved. Fix them, or send again with skip_invalid.")
        return summary
    updated = _write(valid, refresh_kpis=refresh_kpis, reason="opportunities loaded") if valid else 0
    created = len(valid) - updated
    summary.update(committed=True, created=created, updated=updated, skipped=bad_items,
                   message=f"{created} opportunities created, {updated} updated, {bad_items} skipped.")
    return summary


@transaction.atomic
def opportunity_save(*, opportunity: Opportunity, refresh_kpis: bool = True) -> Opportunity:
    """Create or update one opportunity (API and admin), then refresh its account's KPIs after commit."""
    opportunity.full_clean()
    opportunity.save()
    if refresh_kpis:
        kpi_refresh_for_accounts(account_ids=[opportunity.account_id], reason="opportunity saved")
    return opportunity
