"""Markdown tables for the benchmark scripts (the format docs/BENCHMARKS.md uses).

A table is a list of `Column`s and a list of row dicts. A cell is the row's
value under the column's key (or the column's function of the row), written
with the column's format spec; None is written "-". A row that holds an
"error" is written up to its first missing cell, which gets the error text,
and the rest of the row is left empty.

Example:

>>> cols = [Column("name", "name"), Column("img/s", "ips", ".3g", right=True)]
>>> print(markdown(cols, [dict(name="a", ips=12.345), dict(name="b", error="n/a: OOM")]))
| name | img/s |
|---|---:|
| a | 12.3 |
| b | n/a: OOM |
"""

import collections

Column = collections.namedtuple("Column", "header value spec right", defaults=("", False))
Column.__doc__ = """One column: `header`, `value` (a row key or a function of the row),
`spec` (a format spec such as ".3g", or a function of the value) and
`right` (right-aligned)."""


def cell(column, row):
    """The value of `column` in `row` (None when missing)."""
    if callable(column.value):
        return column.value(row)
    return row.get(column.value)


def fmt(value, spec=""):
    """`value` written with `spec` (a format spec or a function); None as "-"."""
    if value is None:
        return "-"
    if callable(spec):
        return spec(value)
    return format(value, spec)


def sig(value, digits=3):
    """`value` to `digits` significant digits, without an exponent (12345 -> "12345")."""
    if value and abs(value) >= 10 ** (digits - 1):
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def line(columns, row):
    """One markdown table line of `row`."""
    cells, error = [], row.get("error")
    for column in columns:
        value = cell(column, row)
        if error is not None and value is None:
            cells.append(str(error) if error is not False else "")
            error = False
        elif error is False:
            cells.append("")
        else:
            cells.append(fmt(value, column.spec))
    return "| " + " | ".join(cells) + " |"


def markdown(columns, rows):
    """The whole table (header, alignment row, one line per row) as a string."""
    head = "| " + " | ".join(c.header for c in columns) + " |"
    align = "|" + "|".join("---:" if c.right else "---" for c in columns) + "|"
    return "\n".join([head, align] + [line(columns, r) for r in rows])
