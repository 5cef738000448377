#!/usr/bin/env python3
"""Reference values for the detector's statistics and calibration, computed independently of
the Rust code with numpy and pandas (and TA-Lib for the Bollinger bands), every window summed or
sorted from scratch:

- rolling mean and sample standard deviation over windows with empty slots (numpy nan-aware);
- the methods' statistics on a series of candles: percentage change, z-score and IQR distance of
  log returns against the previous window, the moving-average deviation in spreads of the
  deviation, the Bollinger z of the log close (checked against TA-Lib's BBANDS), the robust z of
  log volume (median and MAD), Cutler's finite-window RSI, and the stale-feed run probability;
- the conditional volatility: the RiskMetrics EWMA (λ = 0.94, the last 75 slots, weights
  renormalised over the slots present) of squared past in-session returns, the series' gap factor
  (median |r/σ| of gap returns over that of in-session returns in the last 1000 candles) and
  the standardised returns, on returns with gaps; and the conditional z and multi-horizon
  statistics (the sum of the last 2, 3 or 6 returns without the largest) and the variance
  ratio (the last 6 squared returns without the largest over 5 σ²) of the candles;
- median, MAD and quantiles over sliding windows of both parities;
- the calibration: the tail probability of each statistic against the previous window
  (empirical rank, and a generalised Pareto tail fitted to quantiles of the largest values).

Run:  python make_fixtures.py > rolling.json   (numpy, pandas, TA-Lib; see requirements.txt)
"""
import json
import math
import sys

import numpy as np
import pandas as pd
import talib
from numpy.lib.stride_tricks import sliding_window_view

N = 1500
rng = np.random.default_rng(20261122)


def listed(values):
    return [None if (v is None or (isinstance(v, float) and math.isnan(v))) else float(v) for v in values]


def padded(per_window, window):
    return [None] * (window - 1) + list(per_window)


# ---- Candles: a heavy-tailed random walk, with a flat stretch, a frozen feed and volumes ---------
returns = rng.standard_t(4, N) * 0.006
returns[700:760] = 0.0  # a frozen stretch: the stale-feed run and exact-zero spreads
log_price = np.log(250.0) + np.cumsum(returns)
closes = [float(f"{math.exp(x):.10g}") for x in log_price]
close = np.array(closes)
# High and low around open/close; flat (high = low = close) on the frozen stretch.
opens = np.concatenate([[close[0]], close[:-1]])
wick = np.exp(np.abs(rng.normal(0, 0.002, N)))
high = np.array([float(f"{v:.10g}") for v in np.maximum(opens, close) * wick])
low = np.array([float(f"{v:.10g}") for v in np.minimum(opens, close) / wick])
high[700:760] = close[700:760]
low[700:760] = close[700:760]
opens[700:760] = close[700:760]
volume = np.round(rng.lognormal(6.0, 0.5, N), 1)
volume[700:760] = 0.0
volume[1200:1210] *= 12.0

log_close = np.log(close)
r = pd.Series(log_close).diff()

out = {
    "candles": {
        "open": [f"{v:.10g}" for v in opens],
        "high": [f"{v:.10g}" for v in high],
        "low": [f"{v:.10g}" for v in low],
        "close": [f"{v:.10g}" for v in close],
        "volume": [f"{v:.1f}" for v in volume],
    }
}


def previous_window(series, window, min_periods):
    """Rolling over the `window` values before each point (not the point itself)."""
    return series.rolling(window, min_periods=min_periods).agg, window


# pct_change against the previous close.
out["pct_change"] = listed(np.abs(pd.Series(close).pct_change()))

# z-score of the log return against the previous 100 returns (at least 50 of them).
W = 100
mean = r.rolling(W, min_periods=50).mean().shift(1)
std = r.rolling(W, min_periods=50).std(ddof=1).shift(1)
z = np.abs((r - mean) / std).where(std > 0)
out["zscore"] = listed(z)

# IQR distance: |r - median| / (q3 - q1) of the previous 100 returns.
q1 = r.rolling(W, min_periods=50).quantile(0.25).shift(1)
q2 = r.rolling(W, min_periods=50).quantile(0.5).shift(1)
q3 = r.rolling(W, min_periods=50).quantile(0.75).shift(1)
iqr = np.abs((r - q2) / (q3 - q1)).where(q3 > q1)
out["iqr"] = listed(iqr)

# Moving-average deviation: log close minus the mean of the previous 5, in sample standard
# deviations of that deviation over the previous 25 (at least 10 of them).
MA = 5
lc = pd.Series(log_close)
deviation = lc - lc.rolling(MA).mean().shift(1)
spread = deviation.rolling(5 * MA, min_periods=2 * MA).std(ddof=1).shift(1)
out["moving_average"] = listed(np.abs(deviation / spread).where(spread > 0))

# Bollinger z of the log close over the last 20 (itself included), population deviation, checked
# against TA-Lib's bands.
B = 20
middle = lc.rolling(B).mean()
band_std = lc.rolling(B).std(ddof=0)
upper, ta_middle, _ = talib.BBANDS(log_close, timeperiod=B, nbdevup=1.0, nbdevdn=1.0, matype=0)
agree = np.nanmax(np.abs((upper - ta_middle) - band_std.to_numpy()))
assert agree < 1e-9, f"TA-Lib and pandas Bollinger deviations disagree by {agree}"
out["technical"] = listed(np.abs((lc - middle) / band_std).where(band_std > 0))

# Cutler's RSI over the last 14 log returns.
P = 14
gain = r.clip(lower=0.0).rolling(P).mean()
loss = (-r).clip(lower=0.0).rolling(P).mean()
rsi = (100.0 * gain / (gain + loss)).where(gain + loss > 0, 50.0).where(gain.notna())
out["rsi_period"] = P
out["rsi"] = listed(rsi)

# Robust z of log volume against the previous 50 traded volumes (at least 25), MAD floored at
# 0.1 %; one-sided; candles without trade have no reading and an empty slot.
V = 50
log_volume = np.where(volume > 0, np.log(np.where(volume > 0, volume, 1.0)), np.nan)
robust = []
for i in range(N):
    window = log_volume[max(0, i - V):i]
    window = window[~np.isnan(window)]
    if np.isnan(log_volume[i]) or len(window) < 25:
        robust.append(None)
        continue
    median = np.median(window)
    mad = np.median(np.abs(window - median))
    robust.append(max((log_volume[i] - median) / max(1.4826 * mad, 1e-3), 0.0))
out["volume_spike"] = listed(robust)

# Stale feed: a run of unchanged flat candles, probability q^L with q the smoothed share of
# unchanged candles among the previous 1000 (at least 100 of them); candles that traded have
# no reading.
S = 1000
unchanged = [False] + [close[i] == close[i - 1] and high[i] == low[i] for i in range(1, N)]
stale_p, stale_run, run = [], [], 0
for i in range(N):
    history = unchanged[max(1, i - S):i]
    length = min(run + 1, S) if unchanged[i] else 0
    if i == 0 or len(history) < 100 or not unchanged[i]:
        stale_p.append(None)
        stale_run.append(None)
    else:
        q = (sum(history) + 1) / (len(history) + 2)
        stale_p.append(q ** length)
        stale_run.append(float(length))
    run = min(run + 1, S) if unchanged[i] else 0
out["stale_feed"] = {"p": listed(stale_p), "run": listed(stale_run)}

# ---- Conditional volatility -----------------------------------------------------------------
LAMBDA, EWMA_WINDOW, MIN_RETURNS, GAP_WINDOW, MIN_GAPS = 0.94, 75, 20, 1000, 20


def on_grid(x):
    """The fixed-point grid of the exact sums: a multiple of 1e-12, half away from zero."""
    x = min(max(x, -64.0), 64.0) / 1e-12
    return math.copysign(math.floor(abs(x) + 0.5), x) * 1e-12


def conditional(returns, after_gap, elapsed):
    """σ, gap factor and standardised return of every point, each from its own window."""
    n = len(returns)
    grid = [None if r is None or math.isnan(r) else on_grid(r) for r in returns]
    squares = [None if (g is None or gap) else g * g for g, gap in zip(grid, after_gap)]
    sigma = []
    for i in range(n):
        window = squares[max(0, i - EWMA_WINDOW):i][::-1]  # newest first
        present = [(LAMBDA ** j, s) for j, s in enumerate(window) if s is not None]
        weighted = sum(w * s for w, s in present)
        total = sum(w for w, _ in present)
        sigma.append(math.sqrt(weighted / total) if len(present) >= MIN_RETURNS and weighted > 0 else None)
    raw = [None if (g is None or s is None) else abs(g / s) for g, s in zip(grid, sigma)]
    scale = []
    for i in range(n):
        if not after_gap[i]:
            scale.append(1.0)
            continue
        lo = max(0, i - GAP_WINDOW)
        gaps = [raw[j] for j in range(lo, i) if after_gap[j] and raw[j] is not None]
        session = [raw[j] for j in range(lo, i) if not after_gap[j] and raw[j] is not None]
        fallback = math.sqrt(1.0 + math.log(max(elapsed[i], 1.0)))
        if len(gaps) >= MIN_GAPS and session and np.median(gaps) > 0 and np.median(session) > 0:
            scale.append(float(np.median(gaps) / np.median(session)))
        else:
            scale.append(fallback)
    z = [None if (g is None or s is None) else g / (s * c) for g, s, c in zip(grid, sigma, scale)]
    return sigma, scale, z


# The candles have no gaps: the conditional z and the multi-horizon statistic of their returns.
candle_returns = [None] + [float(v) for v in r[1:]]
c_sigma, c_scale, c_z = conditional(candle_returns, [False] * N, [1.0] * N)
out["conditional_z"] = listed([None if v is None else abs(v) for v in c_z])
multi = []
for i in range(N):
    best = None
    for k in (2, 3, 6):
        first = i + 1 - k
        if first < 0 or c_sigma[first] is None or any(candle_returns[j] is None for j in range(first, i + 1)):
            continue
        # Without the return largest in units of its scale (the first of equals).
        window = list(range(first, i + 1))
        top = max(window, key=lambda j: (abs(candle_returns[j] / c_scale[j]), -j))
        kept = [j for j in window if j != top]
        spread = math.sqrt(sum(c_scale[j] ** 2 for j in kept))
        value = abs(sum(candle_returns[j] for j in kept) / (c_sigma[first] * spread))
        best = value if best is None else max(best, value)
    multi.append(best)
out["multi_horizon"] = listed(multi)
# Variance ratio: the squares of the last 6 returns without the largest, over 5 σ² from before.
ratio = []
for i in range(N):
    first = i + 1 - 6
    if first < 0 or c_sigma[first] is None or any(candle_returns[j] is None for j in range(first, i + 1)):
        ratio.append(None)
        continue
    squares = [candle_returns[j] ** 2 for j in range(first, i + 1)]
    ratio.append((sum(squares) - max(squares)) / (5 * c_sigma[first] ** 2))
out["variance_ratio"] = listed(ratio)

# The filter on returns with gaps: every fifth a gap of 3 to 60 intervals with twice the spread,
# a missing return now and then, a calm and a wild regime (its own generator, so the fixtures
# that came before it keep their values).
grng = np.random.default_rng(20261129)
g_returns = list(grng.standard_t(4, N) * np.where(np.arange(N) < 800, 0.002, 0.008))
g_gap = [i > 0 and i % 5 == 0 for i in range(N)]
g_elapsed = [float(grng.integers(3, 60)) if gap else 1.0 for gap in g_gap]
for i in range(N):
    if g_gap[i]:
        g_returns[i] *= 2.0
g_returns[0] = None
for i in grng.choice(N, 40, replace=False):
    g_returns[int(i)] = None
g_returns[300:340] = [0.0] * 40  # a flat stretch shorter than the window
g_sigma, g_scale, g_z = conditional(g_returns, g_gap, g_elapsed)
out["conditional"] = {
    "returns": listed(g_returns),
    "after_gap": g_gap,
    "elapsed": g_elapsed,
    "sigma": listed(g_sigma),
    "scale": listed(g_scale),
    "z": listed(g_z),
}

# ---- Rolling mean and standard deviation over slots, some empty ------------------------------
slots = rng.normal(0.0, 0.01, N)
slots[rng.random(N) < 0.2] = np.nan
slots[400:460] = 0.0125  # constant: the deviation must be exactly 0
M = 30
moment_mean, moment_std = [], []
for i in range(N):
    window = slots[max(0, i - M + 1):i + 1]
    window = window[~np.isnan(window)]
    moment_mean.append(float(window.mean()) if len(window) else None)
    moment_std.append(float(window.std(ddof=1)) if len(window) > 1 else None)
out["moments"] = {"window": M, "values": listed(slots), "mean": moment_mean, "std": moment_std}

# ---- Order statistics, both parities of window length ----------------------------------------
walk = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, N))), 2)
volumes = np.round(rng.lognormal(mean=6.0, sigma=0.5, size=N), 1)
out["walk"] = listed(walk)
out["volumes"] = listed(volumes)


def mad(window):
    median = np.median(window)
    return np.median(np.abs(window - median))


out["order"] = {}
for w in (20, 21):
    for name, series in (("walk", walk), ("volumes", volumes)):
        win = sliding_window_view(series, w)
        out["order"][f"{name}_{w}"] = {
            "window": w,
            "series": name,
            "median": listed(padded(np.median(win, axis=1), w)),
            "mad": listed(padded(np.array([mad(x) for x in win]), w)),
            "q25": listed(padded(np.quantile(win, 0.25, axis=1), w)),
            "q75": listed(padded(np.quantile(win, 0.75, axis=1), w)),
        }

# ---- Calibration ------------------------------------------------------------------------------
C, MIN_HISTORY, TAIL = 300, 100, 0.1
# The fitted tail shape is shrunk towards SHAPE_PRIOR with the weight of SHAPE_WEIGHT exceedances.
SHAPE_PRIOR, SHAPE_WEIGHT = 0.25, 25.0
statistic = np.abs(rng.standard_t(3, N))
statistic[rng.random(N) < 0.1] = np.nan
statistic[900:1000] = 0.5  # a flat stretch: a degenerate tail
statistic[1000] = 0.75
statistic[1100] = 40.0  # far beyond the fitted tail


def quantise(x):
    return int(math.floor(min(max(x, 0.0), 1e6) / 1e-6 + 0.5))


quantised = [None if math.isnan(s) else quantise(s) for s in statistic]
calibrated = []
for i in range(N):
    q = quantised[i]
    reference = [v for v in quantised[max(0, i - C):i] if v is not None]
    n = len(reference)
    if q is None or n < MIN_HISTORY:
        calibrated.append(None)
        continue
    ordered = np.sort(np.array(reference, dtype=np.float64))
    empirical = (np.sum(ordered >= q) + 1) / (n + 1)
    k = max(20, int(math.floor(n * TAIL)))
    if n <= k:
        calibrated.append(float(empirical))
        continue
    u = ordered[n - k - 1]
    if q <= u:
        calibrated.append(float(empirical))
        continue
    # Quantiles of the tail (Pickands): the (k/2+1)-th and (k/4+1)-th largest values.
    q2, q4 = ordered[n - 1 - k // 2], ordered[n - 1 - k // 4]
    if q2 <= u:
        calibrated.append(float(empirical))
        continue
    lower, upper = q2 - u, q4 - q2
    fitted = math.log(upper / lower) / math.log(2) if upper > 0 else 0.0
    m = k // 4
    shape = min(max((m * fitted + SHAPE_WEIGHT * SHAPE_PRIOR) / (m + SHAPE_WEIGHT), 0.0), 0.5)
    scale = lower * shape / (2 ** shape - 1) if shape > 0 else lower / math.log(2)
    beyond = q - u
    survival = (1 + shape * beyond / scale) ** (-1 / shape) if shape > 0 else math.exp(-beyond / scale)
    calibrated.append(max((k + 1) / (n + 1) * survival, 1e-300))
out["calibration"] = {
    "window": C,
    "min_history": MIN_HISTORY,
    "tail_fraction": TAIL,
    "shape_prior": SHAPE_PRIOR,
    "shape_weight": SHAPE_WEIGHT,
    "statistic": listed(statistic),
    "p": calibrated,
}

out["generated_with"] = {"numpy": np.__version__, "pandas": pd.__version__, "talib": talib.__version__}
json.dump(out, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
