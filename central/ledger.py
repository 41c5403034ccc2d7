"""The 业务办理登记台账: what the booths did in a period, for the office's records, as CSV or XLSX.

Four sections, each a table with its column headers in Chinese and English:

- usage (使用统计): per day, booth, item and action, the count the booths reported (their usage events);
- ratings (好差评): every rating given in the period, with the state of its follow-up;
- cases (办件): every case opened by a submission received in the period, with its status;
- assists (帮办代办): per booth and item, the calls for help made in the period, how many were taken, the
  median time to take one (from when the desk could see it), and their outcomes.

Items are named from the catalogue central publishes (`central.catalogue_names`), not only by code.

No personal data, ever: the cases section is read from the `cases` table and the submissions' receipt
time only — never a submission's payload (the applicant's name, ID number, phone and form) — the
ratings section leaves out a rating's free-text comment, and the assists section counts requests, never
their call-back numbers or notes.

Days are local days (the period's `start` and `end` are inclusive). A usage report counts on the day of its
`window_start` as the booth stamped it (as the dashboard counts it); a report is looked for among those
received from the day before the period to `LATE_DELIVERY_DAYS` after it (a booth offline longer than that
delivers into no ledger already made). A booth's region is its region now (`devices.region`), except in the
assists section: a request keeps the region its booth had when the citizen asked (as the desk shows it).

Values from the booths are text a booth chose: a cell that a spreadsheet would run as a formula is written
as text in XLSX and with a leading apostrophe in CSV; characters XLSX cannot hold are left out.
"""

from __future__ import annotations

import csv
import io
import time as clock
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import ColumnElement, Connection, and_, or_, select, true

from central.assist_desk import NO_ITEM, OUTCOME_NAMES, grouped, period_requests, tally
from central.catalogue_names import CatalogueNames
from central.tables import assists, cases, devices, events, follow_ups, ratings
from central.usage_totals import usage_counts
from central.views import LEVELS

MAX_DAYS = 366
LATE_DELIVERY_DAYS = 30
SECTIONS = ("usage", "ratings", "cases", "assists")
TITLES = {"usage": "使用统计", "ratings": "好差评", "cases": "办件", "assists": "帮办代办"}
ACTIONS = {"session_start": "开始使用", "session_end": "结束使用", "guide_viewed": "查看办事指南",
           "notice_printed": "打印一次性告知单", "submission": "提交申请", "rating": "评价", "assist": "帮办代办",
           "appointment": "预约", "timeout": "超时退出", "rating_offered": "办结后邀请评价",
           "rating_given": "应邀评价", "rating_skipped": "跳过评价"}
FOLLOW_UP_STATES = ("none", "open", "overdue", "closed")
MAX_SHEET_ROWS = 1_048_576  # a spreadsheet's limit, the header row included

USAGE_COLUMNS = ("日期 Date", "设备 Booth", "区划 Region", "事项编码 Item code", "事项名称 Item", "部门 Department",
                 "行为 Action", "行为说明 Action name", "次数 Count")
RATING_COLUMNS = ("评价时间 Rated", "设备 Booth", "区划 Region", "事项编码 Item code", "事项名称 Item",
                  "部门 Department", "等级 Level", "评价 Rating", "渠道 Channel", "受理编号 Case reference",
                  "回访 Follow-up", "回访期限 Follow-up due")
CASE_COLUMNS = ("办件编号 Case number", "受理编号 Receipt", "设备 Booth", "区划 Region", "事项编码 Item code",
                "事项名称 Item", "部门 Department", "状态 Status", "受理时间 Opened", "更新时间 Updated",
                "更新人 Updated by", "办结时间 Closed")
ASSIST_COLUMNS = ("设备 Booth", "区划 Region", "事项编码 Item code", "事项名称 Item", "部门 Department",
                  "求助 Requests", "已接单 Taken", "接单用时中位数(秒) Median seconds to take",
                  *(f"{OUTCOME_NAMES[outcome]} {outcome.replace('_', ' ').capitalize()}" for outcome in OUTCOME_NAMES),
                  "未办结 Open")

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Section:
    name: str  # usage, ratings, cases
    title: str  # the sheet's name
    columns: tuple[str, ...]  # "日期 Date", …
    rows: tuple[Row, ...]  # values: str, int, date, datetime (local, naive) or None


@dataclass(frozen=True)
class Ledger:
    start: date
    end: date
    regions: tuple[str, ...]  # region code prefixes; () = every region
    usage: Section
    ratings: Section
    cases: Section
    assists: Section
    skipped_usage: int = 0  # usage reports unreadable (malformed old rows, no usable day): left out
    made_at: datetime = field(default_factory=lambda: datetime.now().replace(microsecond=0))

    def section(self, name: str) -> Section:
        if name not in SECTIONS:
            raise ValueError(f"no ledger section {name!r}: one of {', '.join(SECTIONS)}")
        return getattr(self, name)

    @property
    def sections(self) -> tuple[Section, ...]:
        return tuple(getattr(self, name) for name in SECTIONS)


# -- reading ---------------------------------------------------------------------------------------------------
def ledger(conn: Connection, start: date, end: date, regions: Sequence[str], names: CatalogueNames, *,
           now: float | None = None) -> Ledger:
    """The ledger of the days `start`..`end` (inclusive, local time) for booths whose region starts with one of
    `regions` (empty: every booth). `now` decides which follow-ups are overdue (default: now)."""
    prefixes = _prefixes(regions)
    check_period(start, end)
    usage, skipped = usage_section(conn, start, end, prefixes, names)
    return Ledger(start=_day_of(start), end=_day_of(end), regions=prefixes, usage=usage,
                  ratings=ratings_section(conn, start, end, prefixes, names, now=now),
                  cases=cases_section(conn, start, end, prefixes, names),
                  assists=assists_section(conn, start, end, prefixes, names), skipped_usage=skipped)


def check_period(start: date, end: date) -> tuple[float, float]:
    """The period as unix seconds [from, to) of local time; ValueError if it is backwards or too long."""
    if not isinstance(start, date) or not isinstance(end, date):
        raise TypeError("the period's start and end are dates")
    start, end = _day_of(start), _day_of(end)
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise ValueError(f"the period {start} – {end} is {days} days long; a ledger covers at most {MAX_DAYS} days "
                         "(export it in parts, e.g. a year or a month at a time)")
    return (datetime.combine(start, time()).timestamp(),
            datetime.combine(end + timedelta(days=1), time()).timestamp())


def usage_section(conn: Connection, start: date, end: date, regions: Sequence[str],
                  names: CatalogueNames) -> tuple[Section, int]:
    """Usage per day, booth, item and action, and how many usage reports were unreadable (left out)."""
    prefixes = _prefixes(regions)
    since, until = check_period(start, end)
    first, last = _day_of(start), _day_of(end)
    query = (select(events.c.device, devices.c.region, events.c.payload)
             .select_from(events.outerjoin(devices, devices.c.id == events.c.device))
             .where(events.c.kind == "usage", events.c.received_at >= since - 86_400,
                    events.c.received_at < until + LATE_DELIVERY_DAYS * 86_400, *_in_regions(prefixes))
             .execution_options(yield_per=2_000))
    totals: Counter[tuple[date, str, str, str, str]] = Counter()
    skipped = 0
    for device, region, payload in conn.execute(query):
        day = _stamp_day(payload.get("window_start") if isinstance(payload, dict) else None)
        if day is None:
            skipped += 1
            continue
        if not first <= day <= last:
            continue
        counts = usage_counts(payload)
        if not counts:
            skipped += 1
            continue
        for count in counts:
            totals[(day, region or "", device, count.get("item") or "", count["action"])] += count["count"]
    rows = []
    for (day, region, device, item, action), n in sorted(totals.items()):
        rows.append((day, device, region, item, names.item(item), names.department(item), action,
                     ACTIONS.get(action, ""), n))
    return Section("usage", TITLES["usage"], USAGE_COLUMNS, tuple(rows)), skipped


def ratings_section(conn: Connection, start: date, end: date, regions: Sequence[str], names: CatalogueNames, *,
                    now: float | None = None) -> Section:
    """Every rating given in the period (the citizen's time, see ratings.rated_at), with the state of its
    follow-up in words (无需回访, 待回访, 已超期, 已回访)."""
    prefixes = _prefixes(regions)
    since, until = check_period(start, end)
    now = clock.time() if now is None else now
    query = (select(ratings.c.rated_at, ratings.c.device, devices.c.region, ratings.c.item, ratings.c.level,
                    ratings.c.channel, ratings.c.case_ref, follow_ups.c.id.label("follow_up"),
                    follow_ups.c.due_at, follow_ups.c.closed_at)
             .select_from(ratings.outerjoin(devices, devices.c.id == ratings.c.device)
                          .outerjoin(follow_ups, and_(follow_ups.c.device == ratings.c.device,
                                                      follow_ups.c.rating == ratings.c.event)))
             .where(ratings.c.rated_at >= since, ratings.c.rated_at < until, *_in_regions(prefixes))
             .order_by(ratings.c.rated_at, ratings.c.device, ratings.c.event))
    rows = []
    for r in conn.execute(query).mappings():
        rows.append((_local(r["rated_at"]), r["device"], r["region"] or "", r["item"], names.item(r["item"]),
                     names.department(r["item"]), r["level"], LEVELS.get(r["level"], ""),
                     CHANNELS.get(r["channel"], r["channel"]), r["case_ref"] or "",
                     FOLLOW_UP_WORDS[follow_up_state(r["follow_up"], r["due_at"], r["closed_at"], now)],
                     _local(r["due_at"])))
    return Section("ratings", TITLES["ratings"], RATING_COLUMNS, tuple(rows))


FOLLOW_UP_WORDS = {"none": "无需回访", "open": "待回访", "overdue": "已超期", "closed": "已回访"}
CHANNELS = {"kiosk": "自助终端", "window": "窗口", "online": "网上", "app": "移动端", "hotline": "12345热线"}


def follow_up_state(follow_up: int | None, due_at: float | None, closed_at: float | None, now: float) -> str:
    """none (no follow-up owed), open, overdue (open past its deadline) or closed. A follow-up opened before
    deadlines were kept (due_at NULL) is open until it is closed."""
    if follow_up is None:
        return "none"
    if closed_at is not None:
        return "closed"
    return "overdue" if due_at is not None and now > due_at else "open"


def cases_section(conn: Connection, start: date, end: date, regions: Sequence[str],
                  names: CatalogueNames) -> Section:
    """Every case whose submission was received in the period: numbers, item, status and its times. Only
    columns of `cases` and the submission's receipt time are read: never its payload."""
    prefixes = _prefixes(regions)
    since, until = check_period(start, end)
    query = (select(cases.c.case_no, cases.c.receipt, cases.c.device, devices.c.region, cases.c.item,
                    cases.c.status, events.c.received_at.label("opened_at"), cases.c.updated_at,
                    cases.c.updated_by, cases.c.closed_at)
             .select_from(cases.join(events, and_(events.c.device == cases.c.device, events.c.id == cases.c.receipt))
                          .outerjoin(devices, devices.c.id == cases.c.device))
             .where(events.c.received_at >= since, events.c.received_at < until, *_in_regions(prefixes))
             .order_by(events.c.received_at, cases.c.id))
    rows = []
    for r in conn.execute(query).mappings():
        rows.append((r["case_no"] or "", r["receipt"], r["device"], r["region"] or "", r["item"],
                     names.item(r["item"]), names.department(r["item"]), r["status"], _local(r["opened_at"]),
                     _local(r["updated_at"]), r["updated_by"] or "", _local(r["closed_at"])))
    return Section("cases", TITLES["cases"], CASE_COLUMNS, tuple(rows))


def assists_section(conn: Connection, start: date, end: date, regions: Sequence[str],
                    names: CatalogueNames) -> Section:
    """The calls for help made in the period (the citizen's time), per booth and item (未选事项 for those asked
    before an item was picked): counted, never their call-back numbers or notes."""
    prefixes = _prefixes(regions)
    since, until = check_period(start, end)
    requests = period_requests(conn, since, until, and_(true(), *_in_regions(prefixes, assists.c.region)))
    rows = []
    for (device, region, item), part in sorted(grouped(requests, "device", "region", "item").items()):
        counted = tally(part)
        named = (names.item(item), names.department(item)) if item else (NO_ITEM, NO_ITEM)
        rows.append((device, region, item, *named, counted["requests"],
                     counted["taken"], counted["median_take_s"], *counted["outcomes"].values(), counted["open"]))
    return Section("assists", TITLES["assists"], ASSIST_COLUMNS, tuple(rows))


def _prefixes(regions: Sequence[str]) -> tuple[str, ...]:
    if isinstance(regions, str):  # "3702" would read as the prefixes 3, 7, 0, 2: far more than meant
        raise TypeError("regions is a tuple of region code prefixes, e.g. ('3702',)")
    prefixes = tuple(regions)
    if not all(isinstance(p, str) for p in prefixes):
        raise TypeError("regions is a tuple of region code prefixes (text)")
    return prefixes


def _in_regions(prefixes: tuple[str, ...], region: ColumnElement[str] = devices.c.region) -> list[ColumnElement[bool]]:
    if not prefixes:
        return []
    return [or_(*(region.startswith(prefix, autoescape=True) for prefix in prefixes))]


def _day_of(day: date) -> date:
    return day.date() if isinstance(day, datetime) else day


def _stamp_day(stamp: Any) -> date | None:
    """The calendar day of a booth's ISO 8601 stamp, as the booth wrote it (usage_totals.report_day does the same)."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp).date()
    except ValueError:
        return None


def _local(unix: float | None) -> datetime | None:
    return None if unix is None else datetime.fromtimestamp(unix).replace(microsecond=0)


# -- writing ---------------------------------------------------------------------------------------------------
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (CSV injection)


def cell_text(value: Any) -> str:
    """A value as the CSV writes it: dates ISO 8601 (2026-11-23, 2026-11-23 10:00:00), None empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


def to_csv(ledger: Ledger, section: str) -> bytes:
    """One section as CSV, UTF-8 with a BOM (Excel then reads the Chinese right), header row first."""
    part = ledger.section(section)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(part.columns)
    writer.writerows([cell_text(value) for value in row] for row in part.rows)
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(ledger: Ledger) -> bytes:
    """The whole ledger as an XLSX workbook: a sheet per section, its header row bold and frozen."""
    for part in ledger.sections:
        if len(part.rows) + 1 > MAX_SHEET_ROWS:
            raise ValueError(f"the {part.name} section has {len(part.rows)} rows, more than a spreadsheet holds: "
                             "export a shorter period or fewer regions, or that section as CSV")
    book = Workbook(write_only=True)
    regions = "、".join(ledger.regions) if ledger.regions else "全部 all"
    book.properties.title = f"业务办理登记台账 {ledger.start} – {ledger.end}"
    book.properties.subject = f"区划 Regions: {regions}"
    book.properties.creator = "central"
    book.properties.created = ledger.made_at
    bold = Font(bold=True)
    for part in ledger.sections:
        sheet = book.create_sheet(part.title)
        for n, width in enumerate(_widths(part), 1):
            sheet.column_dimensions[get_column_letter(n)].width = width
        sheet.freeze_panes = "A2"
        header = []
        for title in part.columns:
            cell = WriteOnlyCell(sheet, title)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for row in part.rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(part.columns))}{len(part.rows) + 1}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    if isinstance(value, str):
        if not value:
            return None  # an empty cell, not an empty text
        cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # text, even when it starts with "=": never a formula
        return cell
    return value


def _widths(part: Section) -> list[float]:
    """Each column wide enough for its header and its longest value (CJK characters count twice), within
    8–48 characters."""
    widest = [_width(title) for title in part.columns]
    for row in part.rows:
        for n, value in enumerate(row):
            if value is not None:
                widest[n] = max(widest[n], 19 if isinstance(value, datetime) else _width(cell_text(value)))
    return [min(max(w + 2, 8), 48) for w in widest]


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
