"""Keyset pages of a list ordered by (one column, id): "the `size` rows after (or before) this row",
with no OFFSET and no COUNT, so a page costs the same at any depth.

The cursor in the URL is only the id of the boundary row; its sort value is read again from the
table (one primary-key lookup). A cursor whose row is gone, or that is not a number, starts at the
top. Ties on the column are broken by id, so no row is lost or repeated across pages.
"""

from dataclasses import dataclass

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

PAGE_SIZE = 50


@dataclass
class KeysetPage:
    rows: list
    # The id to pass as `after` for the next page, or as `before` for the previous one (None: none).
    next_after: int | None
    previous_before: int | None


def cursor_id(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**63 else None


def _beyond(rows: QuerySet, column: str, value, row_id: int, greater: bool) -> RawSQL:
    meta = rows.model._meta
    table = meta.db_table
    db_column = meta.get_field(column).column
    pk_column = meta.pk.column
    operator = ">" if greater else "<"
    return RawSQL(  # noqa: S611 (names come from the model; the values are parameters)
        f'("{table}"."{db_column}", "{table}"."{pk_column}") {operator} (%s, %s)',  # noqa: S608
        [value, row_id],
        output_field=BooleanField(),
    )


def keyset_page(
    rows: QuerySet,
    column: str,
    *,
    after: str | None = None,
    before: str | None = None,
    descending: bool = False,
    size: int = PAGE_SIZE,
) -> KeysetPage:
    """One page of `rows` ordered by (`column`, pk) (`descending`: newest first): the first page,
    the page after the row `after` or the page before the row `before`. One query of `size + 1`
    rows (plus the cursor's lookup). `column` must not be nullable."""
    after_id, before_id = cursor_id(after), cursor_id(before)
    forward = [f"-{column}", "-pk"] if descending else [column, "pk"]
    backward = [column, "pk"] if descending else [f"-{column}", "-pk"]

    def value_of(row_id):
        found = rows.model._default_manager.filter(pk=row_id).values_list(column, flat=True)[:1]
        return found[0] if found else None

    if before_id is not None and after_id is None:
        value = value_of(before_id)
        if value is not None:
            found = list(
                rows.filter(_beyond(rows, column, value, before_id, greater=descending)).order_by(*backward)[
                    : size + 1
                ]
            )
            if found:
                more_before = len(found) > size
                found = found[:size]
                found.reverse()
                return KeysetPage(
                    found,
                    next_after=_pk(found[-1]),
                    previous_before=_pk(found[0]) if more_before else None,
                )
        before_id = None  # nothing before it (any more): the first page
    value = value_of(after_id) if after_id is not None else None
    if value is not None:
        rows = rows.filter(_beyond(rows, column, value, after_id, greater=not descending))
    found = list(rows.order_by(*forward)[: size + 1])
    more_after = len(found) > size
    found = found[:size]
    return KeysetPage(
        found,
        next_after=_pk(found[-1]) if found and more_after else None,
        previous_before=_pk(found[0]) if found and value is not None else None,
    )


def _pk(row):
    return row["pk"] if isinstance(row, dict) else row.pk
