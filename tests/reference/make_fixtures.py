#!/usr/bin/env python3
"""Reference values for the detector's rolling statistics, computed independently of the Rust
code: TA-Lib for SMA, EMA, RSI and Bollinger bands, and numpy over explicit sliding windows
(every window sorted or summed from scratch) for rolling mean/std, median, MAD and quantiles.
Wilder's RSI is also computed with pandas (ewm with alpha = 1/n, adjust=False, seeded with the
simple mean of the first n changes, which is TA-Lib's definition) and checked against TA-Lib.

Run:  python make_fixtures.py > rolling.json   (numpy, pandas, TA-Lib; see requirements.txt)
"""
import json
import sys

import numpy as np
import pandas as pd
import talib
from numpy.lib.stride_tricks import sliding_window_view

N = 1500
rng = np.random.default_rng(20261122)
# A random walk rounded to cents, so windows hold repeated values (ties test order statistics).
prices = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, N))), 2)
volumes = np.round(rng.lognormal(mean=6.0, sigma=0.5, size=N), 1)


def listed(values):
    return [None if (v is None or np.isnan(v)) else float(v) for v in values]


def padded(per_window, window):
    return [None] * (window - 1) + list(per_window)


def wilder_rsi_pandas(close, n):
    change = pd.Series(close).diff()
    gain, loss = change.clip(lower=0.0), (-change).clip(lower=0.0)

    def smooth(series):
        seed = series.iloc[1 : n + 1].mean()
        tail = pd.concat([pd.Series([seed]), series.iloc[n + 1 :]], ignore_index=True)
        out = tail.ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()
        return np.concatenate([np.full(n, np.nan), out])

    g, l = smooth(gain), smooth(loss)
    return 100.0 * g / (g + l)


def mad(window):
    median = np.median(window)
    return np.median(np.abs(window - median))


out = {"prices": listed(prices), "volumes": listed(volumes)}
W = 20
out["window"] = W
out["sma"] = listed(talib.SMA(prices, timeperiod=W))
out["ema"] = listed(talib.EMA(prices, timeperiod=W))
windows = sliding_window_view(prices, W)
out["rolling_mean"] = listed(padded(windows.mean(axis=1), W))
out["rolling_std"] = listed(padded(windows.std(axis=1, ddof=1), W))

RSI_N = 14
out["rsi_period"] = RSI_N
rsi_talib = talib.RSI(prices, timeperiod=RSI_N)
rsi_pandas = wilder_rsi_pandas(prices, RSI_N)
agree = np.nanmax(np.abs(rsi_talib - rsi_pandas) / np.abs(rsi_talib))
assert agree < 1e-9, f"TA-Lib and pandas Wilder RSI disagree by {agree}"
out["rsi"] = listed(rsi_talib)

K = 2.0
out["band_k"] = K
upper, middle, lower = talib.BBANDS(prices, timeperiod=W, nbdevup=K, nbdevdn=K, matype=0)
out["bollinger"] = {"upper": listed(upper), "middle": listed(middle), "lower": listed(lower)}

# Both parities of window length: odd medians pick a value, even ones average two.
out["order"] = {}
for w in (20, 21):
    for name, series in (("prices", prices), ("volumes", volumes)):
        win = sliding_window_view(series, w)
        out["order"][f"{name}_{w}"] = {
            "window": w,
            "series": name,
            "median": listed(padded(np.median(win, axis=1), w)),
            "mad": listed(padded(np.array([mad(x) for x in win]), w)),
            "q25": listed(padded(np.quantile(win, 0.25, axis=1), w)),
            "q75": listed(padded(np.quantile(win, 0.75, axis=1), w)),
        }

out["generated_with"] = {
    "numpy": np.__version__,
    "pandas": pd.__version__,
    "talib": talib.__version__,
}
json.dump(out, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
