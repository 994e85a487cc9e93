"""Bulk loading through PostgreSQL COPY (psycopg 3), the fastest way to insert generated rows."""

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from django.db import connection

NULL = "\\N"


def text_field(values: Sequence[str]) -> list[str]:
    """Escape strings for COPY's text format (backslash, tab and newlines)."""
    return [
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        if value
        else value
        for value in values
    ]


def text_array(values: Sequence[Sequence[str]]) -> list[str]:
    """Render lists of plain words as PostgreSQL array literals ('{"a","b"}')."""
    return ["{" + ",".join(f'"{item}"' for item in items) + "}" for items in values]


def copy_columns(
    *,
    table: str,
    columns: Sequence[str],
    rows: int,
    render: Callable[[int, int], Iterable[Sequence[str]]],
    chunk: int = 100_000,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """COPY `rows` rows into `table`; `render(start, stop)` yields one list of rendered text per column.

    Rows are rendered and sent a chunk at a time, so memory stays flat however many rows there are.
    """
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for start in range(0, rows, chunk):
            stop = min(start + chunk, rows)
            rendered = list(render(start, stop))
            lines = ["\t".join(fields) for fields in zip(*rendered, strict=True)]
            copy.write("\n".join(lines) + "\n")
            if progress:
                progress(stop, rows)


def fixed(values: np.ndarray, decimals: int = 2) -> list[str]:
    """Render numbers with a fixed number of decimals (for DECIMAL columns)."""
    return np.char.mod(f"%.{decimals}f", values).tolist()


def integers(values: np.ndarray) -> list[str]:
    return np.asarray(values, dtype=np.int64).astype(str).tolist()
