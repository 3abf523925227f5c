"""Time-axis ticks a person reads at a glance, shared by the detect page and the report's plots.

Ticks fall on round steps (1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1 h ...) so that no
two labels read the same: a 1.5 s video is labelled 0 0.5 1 1.5 (seconds), a 20-minute one
0:00 5:00 10:00 ... (m:ss, h:mm:ss past an hour).
"""
from __future__ import annotations

from dataclasses import dataclass

NICE_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
"""Tick steps in seconds, smallest first."""
SECONDS_BELOW = 60.0
"""Videos shorter than this are labelled in seconds, longer ones in m:ss."""


@dataclass(frozen=True)
class TimeTicks:
    positions: list[float]   # seconds, from 0 to at most the duration
    labels: list[str]        # one per position
    unit: str                # "s" or "m:ss", for the axis title


def mmss(seconds: float) -> str:
    """Whole seconds as m:ss (h:mm:ss past an hour)."""
    s = int(round(max(seconds, 0.0)))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def time_ticks(duration: float, max_ticks: int = 8) -> TimeTicks:
    """Ticks for an axis from 0 to ``duration`` seconds: at most ``max_ticks`` + 1, on a round step."""
    duration = max(float(duration), 0.0)
    short = duration < SECONDS_BELOW
    steps = NICE_STEPS if short else [s for s in NICE_STEPS if s >= 1]
    step = next((s for s in steps if duration / s <= max_ticks), None)
    if step is None:  # beyond the table: whole hours
        step = 3600 * -(-duration // (3600 * max_ticks))
    count = int(duration / step + 1e-9) + 1
    positions = [round(k * step, 6) for k in range(count)]
    labels = [f"{p:g}" for p in positions] if short else [mmss(p) for p in positions]
    return TimeTicks(positions, labels, "s" if short else "m:ss")


def precise_time(seconds: float, duration: float) -> str:
    """A time to the tenth of a second, in the unit of the video's ticks: 3.2 (s) or 1:03.2 (m:ss)."""
    tenths = int(round(max(float(seconds), 0.0) * 10))
    if duration < SECONDS_BELOW:
        return f"{tenths / 10:.1f}"
    return f"{mmss(tenths // 10)}.{tenths % 10}"
