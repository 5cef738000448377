#!/usr/bin/env python3
"""The detector's scoring written the way a Python prototype would write it (pandas rolling
windows, numpy, scikit-learn's IsolationForest), doing the same work as the Rust code with the
same defaults: each method's statistic (the conditional-volatility filter shared by the three
methods that read it, as in the Rust code), its calibration against the method's own trailing
distribution (empirical rank, and a generalised Pareto tail fitted to quantiles of the largest 10 %,
its shape shrunk towards an exponential tail), and the
weighted Simes consensus over the groups. Run by `make bench-detector` on the series the Rust benchmark
exported:

    python bench_detector.py series.csv out.json

Writes the seconds each method (statistic + calibration) took over every series, the seconds the
whole scoring took, and how many candles passed the default threshold.
"""
import json
import math
import sys
import time

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.ensemble import IsolationForest

CALIBRATION, MIN_HISTORY, TAIL = 1000, 200, 0.1
SHAPE_PRIOR, SHAPE_WEIGHT = 0.0, 200.0
THRESHOLD = 0.6
HOUR = 3600


def calibrate(stat):
    """Tail probability of each statistic against the previous CALIBRATION values."""
    q = np.where(np.isnan(stat), np.nan, np.floor(np.clip(stat, 0, 1e6) / 1e-6 + 0.5))
    padded = np.concatenate([np.full(CALIBRATION, np.nan), q])
    windows = sliding_window_view(padded, CALIBRATION)[: len(q)]
    ordered = np.sort(windows, axis=1)
    n = np.sum(~np.isnan(windows), axis=1)
    at_least = np.sum(ordered >= q[:, None], axis=1)
    empirical = (at_least + 1) / (n + 1)
    k = np.maximum(20, np.floor(n * TAIL)).astype(int)
    rows = np.arange(len(q))
    has_tail = n > k
    u = ordered[rows, np.clip(n - k - 1, 0, CALIBRATION - 1)]
    q2 = ordered[rows, np.clip(n - 1 - k // 2, 0, CALIBRATION - 1)]
    q4 = ordered[rows, np.clip(n - 1 - k // 4, 0, CALIBRATION - 1)]
    lower, upper = q2 - u, q4 - q2
    with np.errstate(divide="ignore", invalid="ignore"):
        fitted = np.where(upper > 0, np.log(upper / lower) / np.log(2), 0.0)
        m = k // 4
        shape = np.clip((m * fitted + SHAPE_WEIGHT * SHAPE_PRIOR) / (m + SHAPE_WEIGHT), 0, 0.5)
        scale = np.where(shape > 0, lower * shape / (2 ** shape - 1), lower / np.log(2))
        beyond = q - u
        survival = np.where(
            shape > 0,
            (1 + shape * beyond / scale) ** (-1 / np.where(shape > 0, shape, 1)),
            np.exp(-beyond / scale),
        )
        tail = np.maximum((k + 1) / (n + 1) * survival, 1e-300)
    p = np.where(has_tail & (q > u) & (lower > 0), tail, empirical)
    return np.where(np.isnan(q) | (n < MIN_HISTORY), np.nan, p)


def statistics(frame):
    close = frame["close"]
    lc = np.log(close)
    r = lc.diff()
    out = {}
    out["pct_change"] = np.abs(close.pct_change()).to_numpy()
    mean = r.rolling(100, min_periods=50).mean().shift(1)
    std = r.rolling(100, min_periods=50).std().shift(1)
    out["zscore"] = np.abs((r - mean) / std).where(std > 0).to_numpy()
    q1 = r.rolling(100, min_periods=50).quantile(0.25).shift(1)
    q2 = r.rolling(100, min_periods=50).quantile(0.5).shift(1)
    q3 = r.rolling(100, min_periods=50).quantile(0.75).shift(1)
    out["iqr"] = np.abs((r - q2) / (q3 - q1)).where(q3 > q1).to_numpy()
    deviation = lc - lc.rolling(5).mean().shift(1)
    spread = deviation.rolling(25, min_periods=10).std().shift(1)
    out["moving_average"] = np.abs(deviation / spread).where(spread > 0).to_numpy()
    middle, band = lc.rolling(20).mean(), lc.rolling(20).std(ddof=0)
    out["technical"] = np.abs((lc - middle) / band).where(band > 0).to_numpy()
    log_volume = np.log(frame["volume"].where(frame["volume"] > 0))
    median = log_volume.rolling(50, min_periods=25).median().shift(1)
    mad = log_volume.rolling(50, min_periods=25).apply(
        lambda w: np.nanmedian(np.abs(w - np.nanmedian(w))), raw=True
    ).shift(1)
    z = (log_volume - median) / np.maximum(1.4826 * mad, 1e-3)
    out["volume_spike"] = z.clip(lower=0).to_numpy()
    sigma, factor, z = conditional(frame, r)
    out["conditional_z"] = np.abs(z)
    out["multi_horizon"] = multi_horizon(r.to_numpy(), sigma, factor)
    out["variance_ratio"] = variance_ratio(r.to_numpy(), sigma, factor)
    return out, r


def conditional(frame, r, lam=0.94, window=75):
    """RiskMetrics EWMA σ over the previous 75 in-session returns, the series' gap factor and
    the standardised returns."""
    seconds = frame["open_seconds"].to_numpy()
    elapsed = np.concatenate([[1.0], np.maximum(np.diff(seconds) / HOUR, 1.0)])
    gap = elapsed > 1.0
    grid = np.round(np.clip(r.to_numpy(), -64, 64) / 1e-12) * 1e-12
    squares = np.where(gap, np.nan, grid * grid)
    windows = sliding_window_view(np.concatenate([np.full(window, np.nan), squares]), window)
    windows = windows[: len(squares)]
    weights = lam ** np.arange(window - 1, -1, -1)
    present = ~np.isnan(windows)
    weighted = np.nan_to_num(windows) @ weights
    total = present.astype(float) @ weights
    ok = (present.sum(axis=1) >= 20) & (weighted > 0)
    sigma = np.where(ok, np.sqrt(weighted / np.where(total > 0, total, 1)), np.nan)
    raw = np.abs(grid / sigma)
    session = pd.Series(np.where(gap, np.nan, raw)).rolling(1000, min_periods=1).median().shift(1)
    gaps = pd.Series(np.where(gap, raw, np.nan)).rolling(1000, min_periods=20).median().shift(1)
    measured = (gaps > 0) & (session > 0)
    fallback = np.sqrt(1 + np.log(elapsed))
    factor = np.where(gap, np.where(measured, gaps / session, fallback), 1.0)
    return sigma, factor, grid / (sigma * factor)


def multi_horizon(r, sigma, factor):
    """The largest |sum of the last 2, 3, 6 returns without their largest| in conditional σ."""
    best = np.full(len(r), np.nan)
    for k in (2, 3, 6):
        pad = np.full(k - 1, np.nan)
        returns = sliding_window_view(np.concatenate([pad, r]), k)
        scales = sliding_window_view(np.concatenate([np.ones(k - 1), factor]), k)
        top = np.argmax(np.nan_to_num(np.abs(returns / scales), nan=-1.0), axis=1)[:, None]
        kept = returns.sum(axis=1) - np.take_along_axis(returns, top, axis=1)[:, 0]
        spread = (scales**2).sum(axis=1) - np.take_along_axis(scales, top, axis=1)[:, 0] ** 2
        before = np.concatenate([pad, sigma[: len(sigma) - k + 1]])
        best = np.fmax(best, np.abs(kept / (before * np.sqrt(spread))))
    return best


def stale(frame):
    close, high, low = frame["close"].to_numpy(), frame["high"].to_numpy(), frame["low"].to_numpy()
    unchanged = np.concatenate([[False], (close[1:] == close[:-1]) & (high[1:] == low[1:])])
    share = pd.Series(unchanged.astype(float)).shift(1).rolling(1000, min_periods=100)
    q = (share.sum() + 1) / (share.count() + 2)
    groups = np.cumsum(~unchanged)
    run = pd.Series(unchanged.astype(int)).groupby(groups).cumsum().clip(upper=1000)
    return np.where(unchanged, q.to_numpy() ** run.to_numpy(), np.nan)


def isolation(frame, r, window=1000, refit_every=500):
    log_volume = np.log(frame["volume"].where(frame["volume"] > 0))
    ratio = (log_volume - log_volume.rolling(50, min_periods=25).median().shift(1)).fillna(0.0)
    rows = pd.DataFrame(
        {"x": r, "abs": r.abs(), "range": np.log(frame["high"] / frame["low"]), "ratio": ratio}
    )
    valid = rows.notna().all(axis=1).to_numpy()
    features = rows.to_numpy()
    epoch = frame["open_seconds"].to_numpy() // (refit_every * HOUR)
    out = np.full(len(frame), np.nan)
    for e in np.unique(epoch):
        idx = np.flatnonzero(epoch == e)
        start = idx[0]
        train = features[max(0, start - window):start][valid[max(0, start - window):start]]
        if len(train) < 64:
            continue
        forest = IsolationForest(n_estimators=100, max_samples=256, random_state=int(e) % 2**31)
        forest.fit(train)
        own = -forest.score_samples(train)
        median = np.median(own)
        spread = max(1.4826 * np.median(np.abs(own - median)), 0.01)
        judged = idx[valid[idx]]
        if len(judged):
            out[judged] = np.maximum((-forest.score_samples(features[judged]) - median) / spread, 0)
    return out


def variance_ratio(r, sigma, factor, window=6):
    """The last 6 squared returns (in gap factors) without the largest, over 5 σ² before them."""
    pad = np.full(window - 1, np.nan)
    squares = sliding_window_view(np.concatenate([pad, (r / factor) ** 2]), window)
    before = np.concatenate([pad, sigma[: len(sigma) - window + 1]])
    return (squares.sum(axis=1) - squares.max(axis=1)) / ((window - 1) * before**2)


GROUPS = {
    "pct_change": "price", "zscore": "price", "iqr": "price", "conditional_z": "price",
    "multi_horizon": "price", "variance_ratio": "volatility", "moving_average": "level",
    "technical": "level", "volume_spike": "volume", "isolation_forest": "multivariate",
    "stale_feed": "feed",
}


WEIGHTS = {
    "price": 0.5, "level": 0.15, "volume": 0.15, "volatility": 0.1, "multivariate": 0.1,
    "feed": 0.1,
}


def consensus(ps):
    groups = {}
    for name, p in ps.items():
        g = GROUPS[name]
        groups[g] = p if g not in groups else np.fmin(groups[g], p)
    names = list(groups)
    p_g = np.vstack([groups[g] for g in names])
    w = np.array([WEIGHTS[g] for g in names])[:, None] * ~np.isnan(p_g)
    w = w / np.maximum(w.sum(axis=0), 1e-300)
    ratio = np.where(np.isnan(p_g), np.inf, p_g / np.where(w > 0, w, 1))
    order = np.argsort(ratio, axis=0)
    cumulative = np.cumsum(np.take_along_axis(w, order, axis=0), axis=0)
    sorted_p = np.take_along_axis(np.where(np.isnan(p_g), np.inf, p_g), order, axis=0)
    simes = np.min(sorted_p / np.where(cumulative > 0, cumulative, 1), axis=0)
    present = np.sum(~np.isnan(p_g), axis=0)
    p = np.where(present > 0, np.minimum(simes, 1.0), np.nan)
    days = (HOUR / 86400) / p
    return np.clip(np.log10(np.maximum(days, 1.0)) / math.log10(36525), 0, 1)


def main(csv_path, out_path):
    data = pd.read_csv(csv_path)
    series = [group.reset_index(drop=True) for _, group in data.groupby("series", sort=True)]
    seconds = {name: 0.0 for name in GROUPS}
    flagged = 0
    whole = time.perf_counter()
    for frame in series:
        all_p = {}
        started = time.perf_counter()
        stats, r = statistics(frame)
        base = time.perf_counter() - started
        for name, stat in stats.items():
            started = time.perf_counter()
            all_p[name] = calibrate(stat)
            seconds[name] += time.perf_counter() - started + base / len(stats)
        started = time.perf_counter()
        all_p["isolation_forest"] = calibrate(isolation(frame, r))
        seconds["isolation_forest"] += time.perf_counter() - started
        started = time.perf_counter()
        all_p["stale_feed"] = stale(frame)
        seconds["stale_feed"] += time.perf_counter() - started
        score = consensus(all_p)
        flagged += int(np.sum(score >= THRESHOLD))
    total = time.perf_counter() - whole
    report = {
        "methods": {name: {"seconds": s} for name, s in seconds.items()},
        "total_seconds": total,
        "flagged": flagged,
    }
    with open(out_path, "w") as out:
        json.dump(report, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
