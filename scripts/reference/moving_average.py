#!/usr/bin/env python3
"""Reference values for the API's moving averages (functions/api/tests/api/prices.rs).

Written independently of the Rust code, from the textbook definitions, with exact decimal
arithmetic (50 significant digits) so the Rust f64 results can be checked to 1e-12:
  SMA_t = mean(close_{t-w+1..t})
  EMA   = SMA of the first window, then EMA_t = a*close_t + (1-a)*EMA_{t-1}, a = 2/(w+1)
Run: python3 scripts/reference/moving_average.py
"""
from decimal import Decimal, getcontext

getcontext().prec = 50

CLOSES = ["100", "102.5", "101", "105", "110", "108", "107.25", "111", "115", "113.5", "99.75", "104"]


def sma(closes, w):
    return [sum(closes[i - w + 1:i + 1]) / w for i in range(w - 1, len(closes))]


def ema(closes, w):
    a = Decimal(2) / Decimal(w + 1)
    out = [sum(closes[:w]) / w]
    for c in closes[w:]:
        out.append(a * c + (1 - a) * out[-1])
    return out


if __name__ == "__main__":
    closes = [Decimal(c) for c in CLOSES]
    for w in (3, 5):
        print(f"sma w={w}:", [f"{v:.15g}" for v in sma(closes, w)])
        print(f"ema w={w}:", [f"{v:.15g}" for v in ema(closes, w)])
