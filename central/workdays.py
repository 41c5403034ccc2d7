"""Working days, for deadlines an office counts that way (a 差评 follow-up: 5 working days), and the
assist desk's staff hours (帮办代办: staffed on working days between two times).

Saturdays, Sundays and the configured holidays are not working days. (China's make-up working
weekends, 调休, are not modelled: list the holidays and the deadline is at worst a day generous.)
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta


def is_working_day(day: date, holidays: Collection[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: float, days: int, holidays: Collection[date] = ()) -> float:
    """The end (23:59:59 local) of the `days`-th working day after the day of `start` (unix seconds):
    opened on a Friday with 5 days, due at the end of the next Friday (shown as that Friday's date)."""
    day = datetime.fromtimestamp(start).date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if is_working_day(day, holidays):
            left -= 1
    return datetime.combine(day, time(23, 59, 59)).timestamp()


def next_staffed(at: float, hours: tuple[time, time] | None, holidays: Collection[date] = ()) -> float:
    """`at` (unix seconds) if the desk is staffed then, else when it is next: the start of `hours` on
    the first working day it has not yet passed. `hours` None: always staffed."""
    if hours is None:
        return at
    start, end = hours
    moment = datetime.fromtimestamp(at)
    day = moment.date()
    if is_working_day(day, holidays) and moment.time() < end:
        if moment.time() >= start:
            return at
    else:
        day += timedelta(days=1)
        while not is_working_day(day, holidays):
            day += timedelta(days=1)
    return datetime.combine(day, start).timestamp()
