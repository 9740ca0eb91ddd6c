"""Cron schedules of reports: five fields (minute hour day-of-month month day-of-week), or six
with seconds first; `*`, lists, ranges and steps; evaluated in the report's time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from toucan.errors import ValidationError

_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


@dataclass(frozen=True)
class Cron:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        # As cron: when both are restricted, either one matches.
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return dow
        if self.any_weekday:
            return dom
        return dom or dow

    def next_after(self, after: datetime, time_zone: str) -> datetime:
        """The first time strictly after `after` that matches, as an aware UTC datetime."""
        zone = ZoneInfo(time_zone)
        local = after.astimezone(zone).replace(microsecond=0) + timedelta(seconds=1)
        day = local.replace(hour=0, minute=0, second=0)
        for _ in range(366 * 5):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        for second in sorted(self.seconds):
                            candidate = day.replace(hour=hour, minute=minute, second=second)
                            if candidate >= local:
                                return candidate.astimezone(UTC)
            day = (day + timedelta(days=1)).replace(hour=0, minute=0, second=0)
        raise ValidationError("This schedule never runs.", details={"field": "cron"})


def _field(text: str, name: str, low: int, high: int) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(base)
            if step_text:
                end = high
        if step < 1 or start < low or end > high or start > end:
            raise ValueError(f"{name} {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values), text == "*"


def parse_cron(text: str) -> Cron:
    """A schedule; 400 naming the field when it is not one."""
    parts = text.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise ValidationError(
            f"The schedule {text!r} is not cron: five fields (minute hour day month weekday, "
            "e.g. '0 8 * * 1' for Mondays at 8:00) or six with seconds first.",
            details={"field": "cron", "value": text},
        )
    sets = []
    anys = []
    for value, (name, low, high) in zip(parts, _FIELDS, strict=True):
        try:
            found, anything = _field(value, name, low, high)
        except ValueError as exc:
            raise ValidationError(
                f"The schedule {text!r} is not cron: {exc}.", details={"field": "cron", "value": text}
            ) from None
        sets.append(found)
        anys.append(anything)
    weekdays = frozenset(d % 7 for d in sets[5])
    return Cron(sets[0], sets[1], sets[2], sets[3], sets[4], weekdays, anys[3], anys[5])


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown time zone {name!r}: use an IANA name such as 'Europe/Paris' or 'UTC'.",
            details={"field": "time_zone", "value": name},
        ) from None
    return name
