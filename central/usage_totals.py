"""Usage totals kept as the booths' usage reports arrive: per day, region, action and item, and per
day and booth the citizens served. The usage page and the fleet's charts read these small tables, not
every report of the period (2,000 booths × 14 days is 28,000 reports of dozens of counts each:
seconds per page). Added in the transaction that records the reports, so a total never counts a
report twice nor misses one that was recorded (events are recorded once per (device, id))."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, desc, func, select
from sqlalchemy.dialects import postgresql, sqlite

from central.accounts import User
from central.regions import in_regions
from central.tables import usage_daily, usage_daily_booth

SERVED = frozenset({"guide_viewed", "notice_printed", "submission", "appointment"})  # a citizen served
# 好差评 offered as each task is done, and how each offer ended (appliance/services/citizen.py)
RATING_OFFER = ("rating_offered", "rating_given", "rating_skipped")
UNKNOWN_DAY = "unknown"


def usage_counts(payload: Any) -> list[dict[str, Any]]:
    """A usage report's well-formed counts. Intake refuses malformed reports now; a row recorded before
    that must not fail a page or a migration."""
    counts = payload.get("counts") if isinstance(payload, dict) else None
    if not isinstance(counts, list):
        return []
    return [count for count in counts
            if isinstance(count, dict) and isinstance(count.get("action"), str)
            and isinstance(count.get("count"), int) and not isinstance(count.get("count"), bool)
            and (count.get("item") is None or isinstance(count.get("item"), str))]


def report_day(stamp: Any) -> str:
    """The booth-stamped day a usage report's window starts on (its own local date), or "unknown"."""
    try:
        return datetime.fromisoformat(stamp).date().isoformat() if isinstance(stamp, str) and stamp else UNKNOWN_DAY
    except ValueError:
        return UNKNOWN_DAY


def add_reports(conn: Connection, reports: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    """Add usage reports (device, region, payload) to the totals: two upserts for the whole batch."""
    by_item: Counter[tuple[str, str, str, str]] = Counter()
    served: Counter[tuple[str, str, str]] = Counter()
    for device, region, payload in reports:
        day = report_day(payload.get("window_start") if isinstance(payload, dict) else None)
        for count in usage_counts(payload):
            by_item[(day, region, count["action"][:32], (count.get("item") or "")[:32])] += count["count"]
            if count["action"] in SERVED:
                served[(day, device, region)] += count["count"]
    if by_item:
        conn.execute(_adding(conn, usage_daily, ("day", "region", "action", "item")),
                     [{"day": d, "region": r, "action": a, "item": i, "count": n}
                      for (d, r, a, i), n in by_item.items()])
    if served:
        conn.execute(_adding(conn, usage_daily_booth, ("day", "device"), total="served"),
                     [{"day": d, "device": dev, "region": r, "served": n} for (d, dev, r), n in served.items()])


def _adding(conn: Connection, table, keys: tuple[str, ...], total: str = "count"):
    """INSERT … ON CONFLICT (keys) DO UPDATE SET total = total + the new one, on either database."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(index_elements=list(keys),
                                           set_={total: table.c[total] + statement.excluded[total]})


def usage_totals(conn: Connection, user: User, days: int, today: date | None = None) -> dict[str, Any]:
    """The usage page's figures for the last `days` booth-stamped days in the user's regions."""
    since = ((today or date.today()) - timedelta(days=days - 1)).isoformat()
    in_period = (usage_daily.c.day >= since, usage_daily.c.day != UNKNOWN_DAY, in_regions(usage_daily.c.region, user))
    per_day: dict[str, Counter[str]] = {}
    for day, action, n in conn.execute(select(usage_daily.c.day, usage_daily.c.action, func.sum(usage_daily.c.count))
                                       .where(*in_period).group_by(usage_daily.c.day, usage_daily.c.action)):
        per_day.setdefault(day, Counter())[action] += int(n)
    top = func.sum(usage_daily.c.count).label("n")
    top_items = conn.execute(select(usage_daily.c.item, top).where(
        *in_period, usage_daily.c.action.in_(SERVED), usage_daily.c.item != "")
        .group_by(usage_daily.c.item).order_by(desc("n"), usage_daily.c.item).limit(10)).all()
    booth = func.sum(usage_daily_booth.c.served).label("n")
    per_device = conn.execute(select(usage_daily_booth.c.device, booth).where(
        usage_daily_booth.c.day >= since, usage_daily_booth.c.day != UNKNOWN_DAY,
        in_regions(usage_daily_booth.c.region, user))
        .group_by(usage_daily_booth.c.device).order_by(desc("n"), usage_daily_booth.c.device).limit(20)).all()
    offers: dict[str, Counter[str]] = {}
    for item, action, n in conn.execute(select(usage_daily.c.item, usage_daily.c.action, func.sum(usage_daily.c.count))
                                        .where(*in_period, usage_daily.c.action.in_(RATING_OFFER))
                                        .group_by(usage_daily.c.item, usage_daily.c.action)):
        offers.setdefault(item, Counter())[action] += int(n)
    return {"per_day": {day: dict(c) for day, c in sorted(per_day.items())},
            "top_items": [(item, int(n)) for item, n in top_items],
            "per_device": [(device, int(n)) for device, n in per_device],
            "rating_offers": offers}


def response_rates(offers: dict[str, Counter[str]]) -> dict[str, Any]:
    """The 好差评 response rate: ratings given in answer to an offer over offers made (given / offered), per
    item (most offered first) and overall; None where nothing was offered. Offers still standing when a
    window closed count as neither given nor skipped until their visit ends."""
    def rate(counts: Counter[str]) -> dict[str, Any]:
        offered, given = counts["rating_offered"], counts["rating_given"]
        return {"offered": offered, "given": given, "skipped": counts["rating_skipped"],
                "rate": given / offered if offered else None}

    total: Counter[str] = Counter()
    for counts in offers.values():
        total.update(counts)
    per_item = sorted(((item, rate(counts)) for item, counts in offers.items()),
                      key=lambda entry: (-entry[1]["offered"], entry[0]))
    return {"total": rate(total), "per_item": per_item}
