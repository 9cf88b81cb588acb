"""p-chart limits, Shewhart run rules, detection time, validation and the SPC plot."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from sim.outcomes.spc import FRAME_COLUMNS, detection_flags, first_signal, p_chart, plot_spc

# ---------------------------------------------------------------- limits computed by hand

X = [5, 6, 9, 12, 6, 7]
N = [20, 25, 40, 50, 30, 35]


def test_centre_and_limits_by_hand():
    chart = p_chart(X, N)
    # p̄ = Σx/Σn = (5+6+9+12+6+7)/(20+25+40+50+30+35) = 45/200 = 0.225
    assert chart.centre == pytest.approx(0.225)
    # p̄(1−p̄) = 0.225·0.775 = 0.174375; half-width = 3·sqrt(0.174375/n)
    #  n=20: sqrt(0.00871875)   = 0.0933742 → 3σ = 0.2801227 → UCL 0.5051227, LCL −0.0551 → 0
    #  n=25: sqrt(0.006975)     = 0.0835165 → 3σ = 0.2505494 → UCL 0.4755494, LCL −0.0255 → 0
    #  n=40: sqrt(0.004359375)  = 0.0660256 → 3σ = 0.1980767 → UCL 0.4230767, LCL 0.0269233
    #  n=50: sqrt(0.0034875)    = 0.0590551 → 3σ = 0.1771652 → UCL 0.4021652, LCL 0.0478348
    #  n=30: sqrt(0.0058125)    = 0.0762398 → 3σ = 0.2287193 → UCL 0.4537193, LCL −0.0037 → 0
    #  n=35: sqrt(0.0049821429) = 0.0705843 → 3σ = 0.2117529 → UCL 0.4367529, LCL 0.0132471
    ucl = [0.5051227, 0.4755494, 0.4230767, 0.4021652, 0.4537193, 0.4367529]
    lcl = [0.0, 0.0, 0.0269233, 0.0478348, 0.0, 0.0132471]
    assert chart.ucl == pytest.approx(ucl, abs=1e-6)
    assert chart.lcl == pytest.approx(lcl, abs=1e-6)
    # p_i = 5/20, 6/25, 9/40, 12/50, 6/30, 7/35
    assert chart.p == pytest.approx([0.25, 0.24, 0.225, 0.24, 0.2, 0.2])
    assert not chart.signal.any()


def test_upper_limit_clipped_at_one():
    # p̄ = (19+20+18)/60 = 57/60 = 0.95; 3·sqrt(0.95·0.05/20) = 3·0.0487340 = 0.1462019
    # UCL = 1.0962019 → 1; LCL = 0.8037981
    chart = p_chart([19, 20, 18], [20, 20, 20])
    assert chart.centre == pytest.approx(0.95)
    assert chart.ucl == pytest.approx([1.0, 1.0, 1.0])
    assert chart.lcl == pytest.approx([0.8037981] * 3, abs=1e-6)


def test_sigma_scales_the_half_width():
    # 2σ for n=50: 0.225 ± 2·0.0590551 = 0.3431101 / 0.1068899
    chart = p_chart(X, N, sigma=2.0)
    assert chart.ucl[3] == pytest.approx(0.3431101, abs=1e-6)
    assert chart.lcl[3] == pytest.approx(0.1068899, abs=1e-6)


def test_baseline_points_freezes_the_centre():
    # baseline = first 3 points: p̄ = (5+6+9)/(20+25+40) = 20/85 = 0.2352941
    # n=50: 3·sqrt(0.2352941·0.7647059/50) = 3·0.0599885 = 0.1799654 → UCL 0.4152595
    chart = p_chart(X, N, baseline_points=3)
    assert chart.centre == pytest.approx(20 / 85)
    assert chart.ucl[3] == pytest.approx(0.4152595, abs=1e-6)
    assert chart.lcl[3] == pytest.approx(0.0553287, abs=1e-6)
    # later points do not move a frozen centre
    moved = p_chart([5, 6, 9, 50, 30, 35], N, baseline_points=3)
    assert moved.centre == pytest.approx(20 / 85)
    assert moved.outside_up[3:].all()
    # while an all-points centre follows them
    assert p_chart([5, 6, 9, 50, 30, 35], N).centre == pytest.approx(135 / 200)


def test_known_centre_is_used_as_given():
    chart = p_chart(X, N, centre=0.3)
    assert chart.centre == 0.3
    # n=20: 0.3 + 3·sqrt(0.3·0.7/20) = 0.3 + 3·0.1024695 = 0.6074085
    assert chart.ucl[0] == pytest.approx(0.6074085, abs=1e-6)
    assert chart.centre_known


def test_to_frame_is_tidy():
    frame = p_chart(X, N, periods=[10, 11, 12, 13, 14, 15]).to_frame()
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert len(frame) == 6
    assert frame["period"].tolist() == [10, 11, 12, 13, 14, 15]
    assert frame["numerator"].tolist() == X
    assert frame["denominator"].tolist() == N
    assert np.allclose(frame["centre"], 0.225)
    assert frame["signal"].dtype == bool
    detail = p_chart(X, N).to_frame(detail=True)
    assert {"outside_up", "shift_down", "trend_up"} <= set(detail.columns)


def test_arrays_are_read_only():
    chart = p_chart(X, N)
    with pytest.raises(ValueError):
        chart.p[0] = 0.9


# ---------------------------------------------------------------- rules

def chart10(xs, **kw):
    """Known centre 0.5, n=10 per point: limits 0.5 ± 3·sqrt(0.025) = 0.0257 / 0.9743."""
    return p_chart(xs, [10] * len(xs), centre=0.5, **kw)


def chart100(xs, **kw):
    """Known centre 0.5, n=100 per point: limits 0.5 ± 3·0.05 = 0.35 / 0.65."""
    return p_chart(xs, [100] * len(xs), centre=0.5, **kw)


def test_outside_up_and_down():
    chart = chart100([50, 50, 66, 50, 34, 64, 36])
    # 0.66 > 0.65 and 0.34 < 0.35; 0.64 and 0.36 are inside
    assert chart.outside.tolist() == [False, False, True, False, True, False, False]
    assert chart.outside_up.tolist() == [False, False, True, False, False, False, False]
    assert chart.outside_down.tolist() == [False, False, False, False, True, False, False]
    assert first_signal(chart, "up") == 2
    assert first_signal(chart, "down") == 4
    assert first_signal(chart, "any") == 2


def test_shift_of_exactly_shift_length_is_flagged():
    xs = [4, 4] + [6] * 8 + [4]
    chart = chart10(xs)
    assert chart.shift.tolist() == [False, False] + [True] * 8 + [False]
    assert chart.shift_up[2:10].all() and not chart.shift_down.any()
    assert not chart.outside.any() and not chart.trend.any()
    assert chart.signal.tolist() == chart.shift.tolist()
    # detected when the 8th point is plotted (index 9), not where the run began (index 2)
    assert first_signal(chart, "up") == 9
    assert first_signal(chart, "down") is None


def test_shift_one_short_is_not_flagged():
    chart = chart10([4, 4] + [6] * 7 + [4])
    assert not chart.shift.any()
    assert first_signal(chart, "any") is None


def test_shift_length_is_configurable():
    chart = chart10([4, 4] + [6] * 7 + [4], shift_length=7)
    assert chart.shift.sum() == 7
    assert first_signal(chart) == 8


def test_point_on_centre_neither_breaks_nor_counts():
    # 4 above, one exactly on the centre (5/10 = 0.5), 4 above: 8 counted → a shift
    xs = [4, 6, 6, 6, 6, 5, 6, 6, 6, 6, 4]
    chart = chart10(xs)
    assert chart.shift.tolist() == [False] + [True] * 4 + [False] + [True] * 4 + [False]
    assert first_signal(chart, "up") == 9
    # 3 above, centre, 4 above = 7 counted: the centre point does not make up the eighth
    assert not chart10([4, 6, 6, 6, 5, 6, 6, 6, 6, 4]).shift.any()


def test_shift_below_centre_is_downward():
    chart = chart10([6] + [4] * 9)
    assert chart.shift_down[1:].all() and not chart.shift_up.any()
    assert first_signal(chart, "down") == 8
    assert first_signal(chart, "up") is None


def test_six_rising_points_make_a_trend():
    xs = [45, 40, 42, 44, 46, 48, 50, 49]
    chart = chart100(xs)
    assert chart.trend.tolist() == [False] + [True] * 6 + [False]
    assert chart.trend_up[1:7].all() and not chart.trend_down.any()
    assert not chart.outside.any() and not chart.shift.any()
    # detection at the sixth rising point (index 6)
    assert first_signal(chart, "up") == 6


def test_five_rising_points_are_not_a_trend():
    chart = chart100([45, 40, 42, 44, 46, 48, 47])
    assert not chart.trend.any()
    assert first_signal(chart, "any") is None


def test_a_tie_breaks_the_trend():
    assert chart100([40, 42, 44, 45, 46, 48, 50]).trend.all()  # control: 7 rising
    chart = chart100([40, 42, 44, 44, 46, 48, 50])  # runs 40-44 and 44-50, 3 and 4 points
    assert not chart.trend.any()


def test_falling_trend_and_peak_in_both_directions():
    # 44 … 54 … 44: the peak (index 5) ends the rising and starts the falling trend;
    # the points straddle the centre, so no shift
    xs = [44, 46, 48, 50, 52, 54, 52, 50, 48, 46, 44]
    chart = chart100(xs)
    assert not chart.shift.any()
    assert chart.trend_up.tolist() == [True] * 6 + [False] * 5
    assert chart.trend_down.tolist() == [False] * 5 + [True] * 6
    assert first_signal(chart, "up") == 5
    assert first_signal(chart, "down") == 10


def test_zero_denominator_is_skipped_by_rules():
    chart = p_chart([40, 42, 0, 44, 46, 48, 50], [100, 100, 0, 100, 100, 100, 100], centre=0.5)
    assert math.isnan(chart.p[2]) and math.isnan(chart.ucl[2]) and math.isnan(chart.lcl[2])
    # the gap neither breaks the trend nor is flagged
    assert chart.trend.tolist() == [True, True, False, True, True, True, True]
    assert first_signal(chart, "up") == 6
    frame = chart.to_frame()
    assert not frame.loc[2, "signal"]


def test_first_signal_measures_time_to_detect_an_improvement():
    # 10 baseline weeks around 50 %, then compliance 60 % (inside the limits) from week 10
    base = [50, 52, 48, 51, 49, 50, 53, 47, 50, 50]
    after = [58, 61, 59, 62, 60, 57, 61, 60, 59]
    chart = p_chart(base + after, [100] * 19, baseline_points=10)
    assert chart.centre == pytest.approx(500 / 1000)
    assert not chart.outside.any()
    # eight in a row above the frozen centre: weeks 10..17 → detected at 17
    assert first_signal(chart, "up") == 17
    assert first_signal(chart, "up", start=10) == 17
    assert first_signal(chart, "up", start=18) == 18  # the run is still ≥ 8 long there
    flags = detection_flags(chart, "up")
    assert flags.tolist() == [False] * 17 + [True, True]
    assert chart.shift_up[10:].all()  # while every point of the run is flagged


def test_first_signal_rejects_bad_arguments():
    chart = chart10([5, 5])
    with pytest.raises(ValueError, match="direction"):
        first_signal(chart, "sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="start"):
        first_signal(chart, "up", start=-1)


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize(("xs", "ns", "kw", "message"), [
    ([1, 2], [5, 5, 5], {}, "differ in length"),
    ([1, -2], [5, 5], {}, "negative"),
    ([1, 2], [5, -5], {}, "negative"),
    ([1, 6], [5, 5], {}, "numerator 6 exceeds denominator 5 at index 1"),
    ([1, 2.5], [5, 5], {}, "whole numbers"),
    ([1, 2], [5, 5.2], {}, "whole numbers"),
    ([1, float("nan")], [5, 5], {}, "whole numbers"),
    ([True, False], [5, 5], {}, "booleans"),
    (["a", "b"], [5, 5], {}, "whole numbers"),
    ([[1, 2]], [[5, 5]], {}, "one-dimensional"),
    ([], [], {}, "at least one point"),
    ([0, 0], [0, 0], {}, "centre line is undefined"),
    ([0, 3], [0, 5], {"baseline_points": 1}, "centre line is undefined"),
    ([1, 2], [5, 5], {"baseline_points": 3}, "baseline_points"),
    ([1, 2], [5, 5], {"baseline_points": 0}, "baseline_points"),
    ([1, 2], [5, 5], {"centre": 1.5}, "centre must be"),
    ([1, 2], [5, 5], {"centre": 0.5, "baseline_points": 1}, "not both"),
    ([1, 2], [5, 5], {"sigma": 0}, "sigma"),
    ([1, 2], [5, 5], {"shift_length": 1}, "shift_length"),
    ([1, 2], [5, 5], {"trend_length": 2.5}, "trend_length"),
    ([1, 2], [5, 5], {"periods": [1, 2, 3]}, "periods"),
])
def test_validation_errors(xs, ns, kw, message):
    with pytest.raises(ValueError, match=message):
        p_chart(xs, ns, **kw)


def test_whole_floats_and_zero_denominators_are_accepted():
    chart = p_chart([1.0, 0.0, 3.0], [5.0, 0.0, 5.0])
    assert chart.numerators.dtype == np.int64
    assert chart.centre == pytest.approx(4 / 10)
    assert math.isnan(chart.p[1])


# ---------------------------------------------------------------- false-alarm rate

def test_outside_rule_false_alarm_rate_matches_binomial_tail():
    """In control with known p, the share beyond 3σ equals the exact binomial tail.

    With known p0 the limits are fixed, so each point is outside with probability
    P(X/n > UCL) + P(X/n < LCL), X ~ Bin(n, p0) – not the normal 0.27 %.
    """
    p0, sizes = 0.2, np.array([30, 50, 80])
    series, length = 600, 60
    rng = np.random.default_rng(20240611)
    ns = np.tile(sizes, length // len(sizes))
    outside = 0
    for _ in range(series):
        xs = rng.binomial(ns, p0)
        outside += int(p_chart(xs, ns, centre=p0).outside.sum())
    # exact tail per n, computed independently of the module
    tail = {}
    for n in sizes:
        half = 3 * math.sqrt(p0 * (1 - p0) / n)
        k = np.arange(n + 1)
        beyond = (k / n > p0 + half) | (k / n < p0 - half)
        tail[n] = float(binom.pmf(k[beyond], n, p0).sum())
    probs = np.array([tail[n] for n in ns])
    expected = probs.mean()
    se = math.sqrt((probs * (1 - probs)).sum() * series) / (series * len(ns))
    observed = outside / (series * len(ns))
    assert tail[50] == pytest.approx(binom.sf(18, 50, p0) + binom.cdf(1, 50, p0))
    assert abs(observed - expected) < 4 * se, (observed, expected, se)


# ---------------------------------------------------------------- plot

def test_plot_spc_writes_png(tmp_path):
    base = [50, 52, 48, 51, 49, 50, 53, 47, 50, 50]
    after = [58, 61, 59, 62, 60, 57, 61, 60, 59, 66, 64, 65, 67, 69, 71, 74]
    ns = [100, 90, 110, 100, 95, 105, 100, 100, 98, 102] + [100] * 16
    xs = base + after
    xs[12], ns[12] = 0, 0  # a week without audits: a gap in the chart
    chart = p_chart(xs, ns, baseline_points=10, periods=np.arange(1, 27))
    assert chart.signal.any()
    path = plot_spc(chart, tmp_path / "spc.png", title="CLABSI bundle", ylabel="compliance")
    assert path == tmp_path / "spc.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000
