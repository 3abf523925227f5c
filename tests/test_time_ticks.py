"""Time-axis ticks: round steps, labels that never repeat, seconds for short videos and m:ss for long ones."""
import pytest

from actionhas.reporting.time_ticks import mmss, precise_time, time_ticks


@pytest.mark.parametrize("duration, labels, unit", [
    (1.5, ["0", "0.2", "0.4", "0.6", "0.8", "1", "1.2", "1.4"], "s"),
    (12.0, ["0", "2", "4", "6", "8", "10", "12"], "s"),
    (59.0, ["0", "10", "20", "30", "40", "50"], "s"),
    (125.0, ["0:00", "0:30", "1:00", "1:30", "2:00"], "m:ss"),
    (1200.0, ["0:00", "5:00", "10:00", "15:00", "20:00"], "m:ss"),
    (4000.0, ["0:00", "10:00", "20:00", "30:00", "40:00", "50:00", "1:00:00"], "m:ss"),
])
def test_ticks_fall_on_round_steps_in_the_unit_of_the_video_length(duration, labels, unit):
    ticks = time_ticks(duration)
    assert ticks.labels == labels and ticks.unit == unit
    assert ticks.positions[0] == 0 and ticks.positions[-1] <= duration


@pytest.mark.parametrize("duration", [0.0, 0.3, 1.0, 7.7, 61.0, 599.0, 3601.0, 50000.0, 1e6])
def test_ticks_are_few_distinct_and_increasing(duration):
    ticks = time_ticks(duration)
    assert 1 <= len(ticks.positions) <= 9
    assert len(set(ticks.labels)) == len(ticks.labels)
    assert all(a < b for a, b in zip(ticks.positions, ticks.positions[1:]))


def test_times_read_as_mmss_and_to_the_tenth_in_tables():
    assert [mmss(s) for s in (0, 59.4, 61, 3600)] == ["0:00", "0:59", "1:01", "1:00:00"]
    assert precise_time(3.25, 10) == "3.2" and precise_time(63.27, 100) == "1:03.3"
    assert precise_time(3599.96, 4000) == "1:00:00.0"


def test_timeline_plots_use_the_same_ticks():
    import numpy as np

    from actionhas.reporting import plots

    times = np.linspace(0.05, 1.45, 15)
    fig = plots.timeline([{"name": "Bars", "times": times, "activation": np.ones(15), "predicted": [(0.2, 0.9, 1.0)]}],
                         "t", duration=1.5)
    ax = fig.axes[-1]
    assert [t.get_text() for t in ax.get_xticklabels()] == time_ticks(1.5).labels
    assert ax.get_xlabel() == "time (s)"
