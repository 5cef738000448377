#!/usr/bin/env python3
"""The detector's seven methods written the way the Python prototypes write them (pandas
rolling windows, numpy, scikit-learn's IsolationForest), with the same default parameters as
the Rust code. Run by `make bench-detector` on the series the Rust benchmark exported:

    python bench_detector.py series.csv out.json

Writes, per method, the seconds it took over every series and the flags it raised as
[series, candle index, kind].
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest


def pct_change(df):
    change = df["close"].pct_change()
    out = []
    for i in np.flatnonzero(change.abs().to_numpy() > 0.05):
        out.append((i, "spike" if change.iloc[i] > 0 else "drop"))
    return out


def log_returns(df):
    return np.log(df["close"]).diff()


def zscore(df, window=100, threshold=6.0):
    r = log_returns(df)
    mean = r.rolling(window).mean().shift(1)
    std = r.rolling(window).std().shift(1)
    z = ((r - mean) / std).to_numpy()
    hits = np.flatnonzero(np.abs(np.nan_to_num(z)) > threshold)
    return [(i, "spike" if z[i] > 0 else "drop") for i in hits]


def iqr(df, window=100, k=4.0):
    r = log_returns(df)
    q1 = r.rolling(window).quantile(0.25).shift(1)
    q3 = r.rolling(window).quantile(0.75).shift(1)
    spread = q3 - q1
    upper, lower = q3 + k * spread, q1 - k * spread
    valid = (spread > 0).to_numpy()
    out = [(i, "spike") for i in np.flatnonzero(valid & (r > upper).to_numpy())]
    out += [(i, "drop") for i in np.flatnonzero(valid & (r < lower).to_numpy())]
    return out


def moving_average(df, window=5, k=6.0, residual_windows=5):
    close = df["close"]
    average = close.rolling(window).mean().shift(1)
    residual = close - average
    spread = residual.rolling(window * residual_windows).std().shift(1)
    deviation = (residual / spread).to_numpy()
    hits = np.flatnonzero(np.abs(np.nan_to_num(deviation)) > k)
    return [(i, "spike" if deviation[i] > 0 else "drop") for i in hits]


def mad(x):
    return np.median(np.abs(x - np.median(x)))


def volume_spike(df, window=50, threshold=12.0, min_ratio=4.0):
    volume = df["volume"].dropna()
    median = volume.rolling(window).median().shift(1)
    spread = 1.4826 * volume.rolling(window).apply(mad, raw=True).shift(1)
    z = (volume - median) / spread
    ratio = volume / median
    hit = ((ratio >= min_ratio) & (z > threshold) & (median > 0)).to_numpy()
    return [(int(i), "volume_spike") for i in volume.index[hit]]


def wilder(series, n):
    seed = series.iloc[1 : n + 1].mean()
    tail = pd.concat([pd.Series([seed]), series.iloc[n + 1 :]], ignore_index=True)
    smoothed = tail.ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()
    return np.concatenate([np.full(n, np.nan), smoothed])


def technical(df, period=14, overbought=80.0, oversold=20.0, band_window=20, band_k=3.0):
    close = df["close"]
    change = close.diff()
    gain, loss = wilder(change.clip(lower=0.0), period), wilder((-change).clip(lower=0.0), period)
    rsi = pd.Series(100.0 * gain / (gain + loss))
    before = rsi.shift(1)
    out = [(i, "overbought") for i in np.flatnonzero(((before <= overbought) & (rsi > overbought)).to_numpy())]
    out += [(i, "oversold") for i in np.flatnonzero(((before >= oversold) & (rsi < oversold)).to_numpy())]
    middle = close.rolling(band_window).mean()
    std = close.rolling(band_window).std(ddof=0)
    breach = ((close > middle + band_k * std) | (close < middle - band_k * std)) & (std > 0)
    out += [(i, "band_breach") for i in np.flatnonzero(breach.to_numpy())]
    return out


def isolation_forest(df, threshold=0.78, volume_window=50):
    r = log_returns(df)
    ratio = (df["volume"] / df["volume"].rolling(volume_window).median().shift(1)).fillna(1.0)
    features = pd.DataFrame(
        {"r": r, "abs": r.abs(), "range": np.log(df["high"] / df["low"]), "ratio": ratio}
    ).dropna()
    forest = IsolationForest(n_estimators=100, max_samples=256, random_state=42)
    scores = -forest.fit(features.to_numpy()).score_samples(features.to_numpy())
    return [(int(i), "outlier") for i in features.index[scores > threshold]]


METHODS = {
    "pct_change": pct_change,
    "zscore": zscore,
    "iqr": iqr,
    "isolation_forest": isolation_forest,
    "moving_average": moving_average,
    "volume_spike": volume_spike,
    "technical": technical,
}


def main(csv_path, out_path):
    data = pd.read_csv(csv_path)
    series = [group.reset_index(drop=True) for _, group in data.groupby("series", sort=True)]
    report = {"methods": {}}
    for name, method in METHODS.items():
        started = time.perf_counter()
        flags = []
        for s, frame in enumerate(series):
            flags.extend([s, int(i), kind] for i, kind in method(frame))
        report["methods"][name] = {"seconds": time.perf_counter() - started, "flags": flags}
    with open(out_path, "w") as out:
        json.dump(report, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
