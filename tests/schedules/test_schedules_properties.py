"""Properties (hypothesis), SPEC round trips, closed forms without a torch twin, validation."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ravine import schedules as rs

lrs = st.floats(min_value=1e-6, max_value=10.0)
fracs = st.floats(min_value=0.0, max_value=1.0)
lengths = st.integers(min_value=1, max_value=5000)
steps = st.integers(min_value=0, max_value=10**7)
gammas = st.floats(min_value=1e-3, max_value=1.0)


@st.composite
def base_schedules(draw):
    peak = draw(lrs)
    floor = peak * draw(fracs)
    kind = draw(st.sampled_from(["constant", "step", "multistep", "exponential", "cosine",
                                 "linear", "polynomial", "inverse_sqrt", "sgdr", "one_cycle",
                                 "cyclic"]))
    if kind == "constant":
        return rs.constant(peak=peak)
    if kind == "step":
        return rs.step(peak=peak, step_size=draw(lengths), gamma=draw(gammas))
    if kind == "multistep":
        ms = sorted(set(draw(st.lists(lengths, min_size=1, max_size=4))))
        return rs.multistep(peak=peak, milestones=ms, gamma=draw(gammas))
    if kind == "exponential":
        return rs.exponential(peak=peak, gamma=draw(gammas))
    if kind == "cosine":
        return rs.cosine(peak=peak, total=draw(lengths), floor=floor)
    if kind == "linear":
        return rs.linear(peak=peak, total=draw(lengths), floor=floor)
    if kind == "polynomial":
        return rs.polynomial(peak=peak, total=draw(lengths), floor=floor,
                             power=draw(st.floats(min_value=0.1, max_value=5.0)))
    if kind == "inverse_sqrt":
        return rs.inverse_sqrt(peak=peak, warmup=draw(st.integers(0, 5000)))
    if kind == "sgdr":
        return rs.sgdr(peak=peak, T_0=draw(lengths), T_mult=draw(st.integers(1, 3)),
                       floor=floor, gamma=draw(gammas))
    if kind == "one_cycle":
        total = draw(st.integers(20, 10_000))
        return rs.one_cycle(peak=peak, total=total, pct_start=draw(st.floats(0.1, 0.4)),
                            anneal_strategy=draw(st.sampled_from(["cos", "linear"])),
                            three_phase=draw(st.booleans()))
    return rs.cyclic(floor=floor, peak=peak, step_size_up=draw(lengths),
                     step_size_down=draw(st.none() | lengths),
                     mode=draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
                     gamma=draw(st.floats(min_value=0.9, max_value=1.0)))


@st.composite
def schedules(draw):
    """Base schedules, and warmup/join of them."""
    s = draw(base_schedules())
    kind = draw(st.sampled_from(["base", "warmup", "join", "warmup_cosine"]))
    if kind == "warmup":
        return rs.warmup(s, warmup=draw(st.integers(0, 5000)), start=s(0) * draw(fracs))
    if kind == "join":
        b = draw(lengths)
        return rs.join([s, draw(base_schedules())], boundaries=[b])
    if kind == "warmup_cosine":
        total = draw(st.integers(2, 10_000))
        return rs.warmup_cosine(peak=draw(lrs), warmup=draw(st.integers(0, total - 1)),
                                total=total)
    return s


@settings(max_examples=300, deadline=None)
@given(schedules(), st.lists(steps, min_size=1, max_size=20))
def test_finite_and_non_negative(s, ts):
    for t in ts:
        v = s(t)
        assert isinstance(v, float) and math.isfinite(v) and v >= 0.0, (s, t, v)


@settings(max_examples=200, deadline=None)
@given(schedules())
def test_spec_round_trip_and_pickle(s):
    assert rs.parse(repr(s)) == s
    assert pickle.loads(pickle.dumps(s)) == s
    assert repr(pickle.loads(pickle.dumps(s))) == repr(s)


@settings(max_examples=200, deadline=None)
@given(base_schedules(), st.integers(1, 5000), fracs)
def test_warmup_reaches_peak_exactly_at_the_boundary(s, w, frac):
    start = s(0) * frac
    wu = rs.warmup(s, warmup=w, start=start)
    assert wu(0) == start
    assert wu(w) == s(0)
    values = [wu(t) for t in range(0, w + 1, max(1, w // 50))]
    assert all(a <= b for a, b in zip(values[:-1], values[1:], strict=True))  # monotone ramp
    peak = s(0) if s(0) > 0 else 1.0
    assert rs.warmup_cosine(peak=peak, warmup=w, total=w + 10)(w) == peak
    assert rs.inverse_sqrt(peak=peak, warmup=w)(w) == peak


@settings(max_examples=200, deadline=None)
@given(base_schedules(), st.integers(1, 5000), st.integers(1, 5000))
def test_join_is_continuous_where_the_pieces_are(a, k, total):
    """A right piece that starts where the left one is at the boundary joins without a jump:
    the joined schedule equals the left piece up to and at the boundary."""
    b = rs.cosine(peak=a(k), total=total)
    j = rs.join([a, b], boundaries=[k])
    for t in (0, k // 2, k - 1, k):
        assert j(t) == a(t)
    assert j(k + total) == b(total) == 0.0
    # and the joined one is the right piece after the boundary
    assert j(k + total // 2) == b(total // 2)


def test_inverse_sqrt_closed_form():
    s = rs.inverse_sqrt(peak=0.02, warmup=400)
    for t in (0, 1, 200, 399):
        assert s(t) == pytest.approx(0.02 * t / 400, rel=1e-15)
    for t in (400, 401, 1600, 10**6):
        assert s(t) == pytest.approx(0.02 * math.sqrt(400 / t), rel=1e-15)
    s0 = rs.inverse_sqrt(peak=1.0)
    assert [s0(t) for t in (0, 1, 4, 100)] == [1.0, 1.0, 0.5, 0.1]


def test_after_the_end_schedules_hold_their_last_value():
    assert rs.cosine(peak=1.0, total=10, floor=0.1)(11) == 0.1
    assert rs.linear(peak=1.0, total=10, floor=0.1)(10**6) == pytest.approx(0.1)
    oc = rs.one_cycle(peak=1.0, total=100)
    assert oc(99) == oc(100) == oc(10**6) == pytest.approx(1.0 / 25 / 1e4)
    assert rs.warmup_cosine(peak=1.0, warmup=5, total=20)(500) == 0.0


BAD = [
    (lambda: rs.constant(peak=-1.0), ValueError, r"constant\(\): peak must be in \[0.0, inf\)"),
    (lambda: rs.constant(peak=float("nan")), ValueError, "peak"),
    (lambda: rs.constant(peak="0.1"), TypeError, "peak must be a number"),
    (lambda: rs.step(peak=0.1, step_size=0), ValueError, "step_size must be an integer >= 1"),
    (lambda: rs.step(peak=0.1, step_size=10, gamma=1.5), ValueError, r"gamma must be in \[0.0"),
    (lambda: rs.multistep(peak=0.1, milestones=[30, 20]), ValueError, "strictly increasing"),
    (lambda: rs.cosine(peak=0.1, total=10, floor=0.2), ValueError, r"floor must be in \[0, peak"),
    (lambda: rs.cosine(peak=0.1, total=True), TypeError, "total must be an integer"),
    (lambda: rs.polynomial(peak=0.1, total=10, power=0.0), ValueError, r"power must be in \(0.0"),
    (lambda: rs.sgdr(peak=0.1, T_0=10, T_mult=0), ValueError, "T_mult must be an integer >= 1"),
    (lambda: rs.sgdr(peak=0.1, T_0=10, gamma=0.0), ValueError, r"gamma must be in \(0.0, 1.0\]"),
    (lambda: rs.warmup(rs.constant(peak=0.1), warmup=5, start=0.2), ValueError,
     r"start must be in \[0.0, 0.1\]"),
    (lambda: rs.warmup("cosine", warmup=5), TypeError, "schedule must be a Schedule"),
    (lambda: rs.warmup_cosine(peak=0.1, warmup=10, total=10), ValueError,
     r"warmup must be in \[0, total=10\)"),
    (lambda: rs.join([rs.constant(peak=0.1)], boundaries=[5]), ValueError, "one more schedule"),
    (lambda: rs.join([rs.constant(peak=0.1)] * 3, boundaries=[5, 5]), ValueError,
     "strictly increasing"),
    (lambda: rs.one_cycle(peak=0.1, total=10, pct_start=0.05), ValueError, "empty phase"),
    (lambda: rs.one_cycle(peak=0.1, total=100, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of"),
    (lambda: rs.cyclic(floor=0.2, peak=0.1), ValueError, "floor must be in"),
    (lambda: rs.cyclic(floor=0.0, peak=0.1, mode="sawtooth"), ValueError, "mode must be one of"),
    (lambda: rs.constant(peak=0.1)(-1), ValueError, "step must be >= 0"),
    (lambda: rs.constant(peak=0.1)(1.5), TypeError, "step must be an int"),
]


@pytest.mark.parametrize("make, error, message", BAD)
def test_bad_arguments_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("spec, message", [
    ("cosine(peak=0.1, total=10", "cannot parse"),
    ("cosine", "expected a schedule call"),
    ("os.system('x')", "expected a schedule call"),
    ("nope(peak=0.1)", "unknown schedule 'nope'; known: constant"),
    ("cosine(peak=0.1, total=10, floor=0.0, floor=0.0)", "given twice|repeated"),
    ("cosine(0.1, 10, 0.0, 4)", "at most 3 arguments"),
    ("cosine(peak=0.1, total=10, **{})", r"'\*\*' is not allowed"),
    ("cosine(peak=1e400, total=10)", "peak must be in"),
    ("cosine(peak=[1], total=10)", "peak must be a number"),
    ("warmup(schedule=cosine(peak=0.1), warmup=5)", "cosine\\(\\): missing keyword total"),
    ("cosine(peak=0.1 + 0.2, total=10)", "unsupported value"),
])
def test_parse_errors_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        rs.parse(spec)


def test_parse_accepts_positional_negative_free_and_nested():
    assert rs.parse("cosine(0.1, 100)") == rs.cosine(peak=0.1, total=100)
    s = rs.parse("warmup(sgdr(peak=0.1, T_0=100, T_mult=2), warmup=10, start=+0.0)")
    assert s == rs.warmup(rs.sgdr(peak=0.1, T_0=100, T_mult=2), warmup=10)
    assert repr(s) == "warmup(schedule=sgdr(peak=0.1, T_0=100, T_mult=2), warmup=10)"
    assert rs.parse("cyclic(floor=0.0, peak=1.0, step_size_down=None)") == rs.cyclic(0.0, 1.0)
    with pytest.raises(TypeError, match="spec must be a str"):
        rs.parse(3)


def test_plot_returns_figure_and_writes(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    fig = rs.plot([rs.cosine(peak=0.1, total=100), rs.sgdr(peak=0.1, T_0=30)], 100,
                  path=tmp_path / "p.png", log=True)
    assert (tmp_path / "p.png").stat().st_size > 1000
    lines = fig.axes[0].get_lines()
    assert [len(line.get_xdata()) for line in lines] == [100, 100]
    assert lines[1].get_ydata()[30] == pytest.approx(0.1)
    assert matplotlib.get_backend() == backend  # the global backend is left alone
    fig2 = rs.plot(rs.constant(peak=1.0), range(0, 50, 5), ax=fig.axes[0])
    assert fig2 is fig and len(fig.axes[0].get_lines()) == 3
    with pytest.raises(TypeError, match="not a Schedule"):
        rs.plot({"x": 0.1}, 10)
    with pytest.raises(ValueError, match="steps"):
        rs.plot(rs.constant(peak=1.0), 0)
