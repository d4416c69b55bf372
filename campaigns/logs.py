"""The message log across campaigns (read-only selector): one filter (OA, campaign, state, phone,
Vietnam date range, error code) and keyset pagination, newest first by (created_at, id).

No OFFSET: a page is "the `size` rows before (or after) this (created_at, id)", one row comparison
that PostgreSQL answers inside an index whose last columns are (created_at, id); each filter has
such an index (campaigns.models.CampaignMessage.Meta.indexes), so every page costs the same at any
depth on any number of rows. Ties on created_at are broken by id, so no row is lost or repeated
across pages. The OA filter is the OA's campaigns (a message belongs to a campaign, which belongs
to one OA). Exports read the same filter in keyset chunks (`iter_chunks`), in constant memory.
"""

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignMessage
from zalo_admin.lib.dates import vietnam_midnight
from zalo_admin.lib.phones import PhoneRejected, parse_vietnamese_mobile

PAGE_SIZE = 50
CHUNK_SIZE = 5000
ERROR_CODE_MAX_LENGTH = 64
TABLE = CampaignMessage._meta.db_table
# What a row of the log carries (campaign and OA names through the campaign: two primary-key joins).
COLUMNS = (
    "id",
    "created_at",
    "campaign_id",
    "campaign__name",
    "campaign__oa_id",
    "campaign__oa__name",
    "phone",
    "state",
    "attempts",
    "error_code",
    "provider_error_code",
    "provider_error_message",
    "tracking_id",
    "provider_message_id",
    "accepted_at",
    "delivered_at",
    "failed_at",
    "updated_at",
)


@dataclass(frozen=True)
class LogFilter:
    """What the log is narrowed to; empty values filter nothing. `phone` is normalised (84…)."""

    oa: int | None = None
    campaign: int | None = None
    state: str = ""
    phone: str = ""
    date_from: date | None = None  # Vietnam calendar days, both included
    date_to: date | None = None
    error_code: str = ""
    # The teams whose campaigns the reader sees (teams.scoping); None: every team. Set by the views
    # from the signed-in user, kept in an export's filter so that its job writes only those rows.
    teams: tuple[int, ...] | None = None

    def as_dict(self) -> dict:
        """JSON-ready (the export job's argument, the audit entry's parameter)."""
        values = asdict(self)
        for key in ("date_from", "date_to"):
            values[key] = values[key].isoformat() if values[key] else None
        if values["teams"] is not None:
            values["teams"] = sorted(values["teams"])
        return {key: value for key, value in values.items() if value not in (None, "")}

    @classmethod
    def from_dict(cls, values: Mapping) -> "LogFilter":
        return cls(
            oa=values.get("oa"),
            campaign=values.get("campaign"),
            state=values.get("state", ""),
            phone=values.get("phone", ""),
            date_from=date.fromisoformat(values["date_from"]) if values.get("date_from") else None,
            date_to=date.fromisoformat(values["date_to"]) if values.get("date_to") else None,
            error_code=values.get("error_code", ""),
            teams=tuple(values["teams"]) if values.get("teams") is not None else None,
        )

    @property
    def is_empty(self) -> bool:
        return not self.as_dict()


@dataclass
class ParsedFilter:
    filter: LogFilter
    errors: dict[str, str] = field(default_factory=dict)
    # The query string as typed (re-shown in the form and carried by the pager links).
    raw: dict[str, str] = field(default_factory=dict)


def _positive_int(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 2**63 else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_filter(params: Mapping[str, str]) -> ParsedFilter:
    """The filter from a query string; each bad value gets an error under its field and filters
    nothing (the page then shows no rows rather than more than was asked for)."""
    keys = ("oa", "campaign", "state", "phone", "date_from", "date_to", "error_code")
    raw = {key: (params.get(key) or "").strip() for key in keys}
    errors: dict[str, str] = {}
    values: dict = {}
    for key in ("oa", "campaign"):
        if raw[key]:
            values[key] = _positive_int(raw[key])
            if values[key] is None:
                errors[key] = _("Choose one from the list.")
    if raw["state"]:
        if raw["state"] in CampaignMessage.State.values:
            values["state"] = raw["state"]
        else:
            errors["state"] = _("Unknown state.")
    if raw["phone"]:
        try:
            values["phone"] = parse_vietnamese_mobile(raw["phone"])
        except PhoneRejected as rejected:
            errors["phone"] = str(rejected)
    for key in ("date_from", "date_to"):
        if raw[key]:
            values[key] = _day(raw[key])
            if values[key] is None:
                errors[key] = _("Give a date as YYYY-MM-DD.")
    if values.get("date_from") and values.get("date_to") and values["date_from"] > values["date_to"]:
        errors["date_to"] = _("The end date is before the start date.")
    if raw["error_code"]:
        if len(raw["error_code"]) > ERROR_CODE_MAX_LENGTH:
            errors["error_code"] = _("An error code is at most %(max)s characters.") % {
                "max": ERROR_CODE_MAX_LENGTH
            }
        else:
            values["error_code"] = raw["error_code"]
    values = {key: value for key, value in values.items() if value is not None}
    return ParsedFilter(LogFilter(**values), errors, {key: value for key, value in raw.items() if value})


def _is_provider_code(code: str) -> bool:
    """Zalo's codes are numbers (-124), Infobip's group/status ids too; ours are names (PHONE_INVALID)."""
    return code.lstrip("-").isdigit()


def filtered(log_filter: LogFilter) -> QuerySet:
    """The messages the filter selects (unordered)."""
    rows = CampaignMessage.objects.all()
    if log_filter.teams is not None:
        rows = rows.filter(
            campaign_id__in=Campaign.objects.filter(oa__team__in=log_filter.teams).values("id")
        )
    if log_filter.campaign:
        rows = rows.filter(campaign_id=log_filter.campaign)
    if log_filter.oa:
        rows = rows.filter(campaign_id__in=Campaign.objects.filter(oa_id=log_filter.oa).values("id"))
    if log_filter.state:
        rows = rows.filter(state=log_filter.state)
    if log_filter.phone:
        rows = rows.filter(phone=log_filter.phone)
    if log_filter.date_from:
        rows = rows.filter(created_at__gte=vietnam_midnight(log_filter.date_from))
    if log_filter.date_to:
        rows = rows.filter(created_at__lt=vietnam_midnight(log_filter.date_to + timedelta(days=1)))
    if log_filter.error_code:
        # Both columns' partial indexes exclude '' (an empty code matches nothing anyway).
        if _is_provider_code(log_filter.error_code):
            rows = rows.filter(provider_error_code=log_filter.error_code).exclude(provider_error_code="")
        else:
            rows = rows.filter(error_code=log_filter.error_code).exclude(error_code="")
    return rows


# --- keyset ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """A position in the log: the (created_at, id) of a row, as text `<microseconds since epoch>.<id>`."""

    created_at: datetime
    id: int

    def __str__(self) -> str:
        delta = self.created_at - datetime(1970, 1, 1, tzinfo=UTC)
        micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}.{self.id}"

    @classmethod
    def parse(cls, text: str | None) -> "Cursor | None":
        """None for anything malformed (the page then starts at the top)."""
        micros, _dot, row_id = (text or "").partition(".")
        if not (micros.lstrip("-").isdigit() and row_id.isdigit()) or len(micros) > 18 or len(row_id) > 18:
            return None
        try:
            moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
        except OverflowError:
            return None
        return cls(moment, int(row_id))

    @classmethod
    def of(cls, row: Mapping) -> "Cursor":
        return cls(row["created_at"], row["id"])


def _beyond(cursor: Cursor, older: bool) -> RawSQL:
    """(created_at, id) < cursor (older rows) or > cursor (newer rows): one index range."""
    operator = "<" if older else ">"
    return RawSQL(  # noqa: S611 (the table and operator are constants; the values are parameters)
        f'("{TABLE}"."created_at", "{TABLE}"."id") {operator} (%s, %s)',  # noqa: S608
        [cursor.created_at, cursor.id],
        output_field=BooleanField(),
    )


def _ordered(rows: QuerySet, older: bool) -> QuerySet:
    return rows.order_by("-created_at", "-id") if older else rows.order_by("created_at", "id")


@dataclass
class LogPage:
    rows: list[dict]
    # Cursors for the links: `after` = the next (older) page, `before` = the previous (newer) one.
    next_after: str | None
    previous_before: str | None


# Above this many campaigns a team's log (no OA filter) walks the time index instead of merging.
MERGE_MAX_CAMPAIGNS = 2000


def _campaign_set(log_filter: LogFilter) -> QuerySet:
    """The campaigns whose messages the filter reads, by OA and team (unordered)."""
    campaigns = Campaign.objects.all()
    if log_filter.oa:
        campaigns = campaigns.filter(oa_id=log_filter.oa)
    if log_filter.teams is not None:
        campaigns = campaigns.filter(oa__team__in=log_filter.teams)
    return campaigns


def _by_campaigns(log_filter: LogFilter) -> bool:
    """A filter by OA (or a reader's teams), maybe with a state, with no other narrowing column: read
    each of those campaigns in page order (index campaigns_msg_log_campaign_idx, or
    campaigns_msg_state_time_idx with a state) and merge, rather than sort all of
    their messages or walk the whole log's time index past everyone else's rows (2.4 s for a team of
    10 OAs among 1,000 on 10,000,000 messages; 19 ms merged). A team of many campaigns (or no team:
    every campaign) walks the time index, which then finds its rows at once."""
    if log_filter.campaign or log_filter.phone or log_filter.error_code:
        return False
    if log_filter.oa:
        return True
    if log_filter.teams is None:
        return False
    return _campaign_set(log_filter).order_by()[: MERGE_MAX_CAMPAIGNS + 1].count() <= MERGE_MAX_CAMPAIGNS


def _merged_ids(log_filter: LogFilter, cursor: Cursor | None, older: bool, limit: int) -> list[int]:
    """The ids of the next `limit` rows of the campaigns' messages beyond `cursor`, merged from the
    first `limit` rows of each campaign (one LATERAL index range per campaign): the cost grows with
    the number of campaigns, not with their number of messages."""
    try:
        campaigns, campaign_params = _campaign_set(log_filter).values("id").query.sql_with_params()
    except EmptyResultSet:  # no team at all: no campaign
        return []
    conditions, params = ["m.campaign_id = c.id"], []
    if log_filter.state:  # index campaigns_msg_state_time_idx: (campaign, state, created_at, id)
        conditions.append("m.state = %s")
        params.append(log_filter.state)
    if log_filter.date_from:
        conditions.append("m.created_at >= %s")
        params.append(vietnam_midnight(log_filter.date_from))
    if log_filter.date_to:
        conditions.append("m.created_at < %s")
        params.append(vietnam_midnight(log_filter.date_to + timedelta(days=1)))
    if cursor is not None:
        conditions.append(f"(m.created_at, m.id) {'<' if older else '>'} (%s, %s)")
        params += [cursor.created_at, cursor.id]
    order = "DESC" if older else "ASC"
    # The table, columns and subquery are ours; the values are parameters.
    sql = (
        f"SELECT m.id FROM ({campaigns}) c CROSS JOIN LATERAL ("  # noqa: S608
        f'SELECT m.id, m.created_at FROM "{TABLE}" m WHERE {" AND ".join(conditions)} '
        f"ORDER BY m.created_at {order}, m.id {order} LIMIT %s) m "
        f"ORDER BY m.created_at {order}, m.id {order} LIMIT %s"
    )
    with connection.cursor() as db:
        db.execute(sql, [*campaign_params, *params, limit, limit])
        return [row[0] for row in db.fetchall()]


def _rows(
    log_filter: LogFilter,
    cursor: Cursor | None,
    older: bool,
    limit: int,
    columns,
    flat: bool = False,
    merge: bool = True,
):
    """Up to `limit` rows of the filter beyond `cursor` (older or newer), in that direction's order.
    `merge`: read an OA's (or a small team's) campaigns one by one and merge (pages: at most `limit`
    rows per campaign); exports do not, since a chunk of 5,000 rows would read up to 5,000 rows of
    every campaign (1.6 s a chunk for 1,000 campaigns of 1,000 messages, against 0.28 s planned)."""
    rows = filtered(log_filter)
    if merge and _by_campaigns(log_filter):
        rows = rows.filter(pk__in=_merged_ids(log_filter, cursor, older, limit))
    elif cursor is not None:
        rows = rows.filter(_beyond(cursor, older=older))
    rows = _ordered(rows, older=older)
    return list((rows.values_list(*columns) if flat else rows.values(*columns))[:limit])


def page(
    log_filter: LogFilter, *, after: str | None = None, before: str | None = None, size: int = PAGE_SIZE
) -> LogPage:
    """One page of the log, newest first: the first page, the page after `after` (older rows) or the
    page before `before` (newer rows). One query of `size + 1` rows (two for an OA filter)."""
    after_cursor, before_cursor = Cursor.parse(after), Cursor.parse(before)
    if before_cursor is not None and after_cursor is None:
        found = _rows(log_filter, before_cursor, older=False, limit=size + 1, columns=COLUMNS)
        if not found:  # nothing newer (any more): the top of the log
            return page(log_filter, size=size)
        more_newer = len(found) > size
        found = found[:size]
        found.reverse()
        return LogPage(
            found,
            next_after=str(Cursor.of(found[-1])),
            previous_before=str(Cursor.of(found[0])) if found and more_newer else None,
        )
    found = _rows(log_filter, after_cursor, older=True, limit=size + 1, columns=COLUMNS)
    more_older = len(found) > size
    found = found[:size]
    return LogPage(
        found,
        next_after=str(Cursor.of(found[-1])) if found and more_older else None,
        previous_before=str(Cursor.of(found[0])) if found and after_cursor is not None else None,
    )


def iter_chunks(log_filter: LogFilter, size: int = CHUNK_SIZE, columns=COLUMNS) -> Iterator[list[tuple]]:
    """Every row of the filter as tuples of `columns` (which hold "id" and "created_at"), newest first,
    `size` rows per query (keyset: constant memory, each query as cheap as the first, no long-running
    transaction)."""
    at, key = columns.index("created_at"), columns.index("id")
    cursor: Cursor | None = None
    while True:
        chunk = _rows(log_filter, cursor, older=True, limit=size, columns=columns, flat=True, merge=False)
        if not chunk:
            return
        yield chunk
        if len(chunk) < size:
            return
        cursor = Cursor(chunk[-1][at], chunk[-1][key])


def count_up_to(log_filter: LogFilter, limit: int) -> int:
    """How many rows the filter selects, counted no further than `limit` (cheap on any table)."""
    return filtered(log_filter).order_by()[:limit].count()
