-- The watch list: what the collector fetches and the API lets people edit.
CREATE TABLE symbols (
    symbol             text        PRIMARY KEY
                                   CHECK (symbol ~ '^[A-Z0-9]([.-]?[A-Z0-9])*$' AND length(symbol) <= 20),
    asset_class        text        NOT NULL CHECK (asset_class IN ('crypto', 'stock')),
    provider           text        NOT NULL CHECK (provider IN ('coingecko', 'binance', 'alphavantage', 'synthetic')),
    provider_id        text        NOT NULL CHECK (length(provider_id) BETWEEN 1 AND 64),
    interval           text        NOT NULL CHECK (interval IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    enabled            boolean     NOT NULL DEFAULT true,
    detector_overrides jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(detector_overrides) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- OHLCV candles. Prices are exact numerics so sub-cent coins survive; volume is the traded
-- volume within the candle only, NULL where the source has none.
CREATE TABLE candles (
    symbol      text        NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval    text        NOT NULL CHECK (interval IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    open_time   timestamptz NOT NULL,
    open        numeric     NOT NULL,
    high        numeric     NOT NULL,
    low         numeric     NOT NULL,
    close       numeric     NOT NULL,
    volume      numeric     CHECK (volume >= 0),
    source      text        NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    -- The key is also the index behind latest, history and the detector's scans, which all
    -- filter on (symbol, interval) and walk open_time in either direction.
    PRIMARY KEY (symbol, interval, open_time),
    CHECK (low > 0 AND high >= low AND open BETWEEN low AND high AND close BETWEEN low AND high)
);

-- Findings. One row per (candle, method, kind): a re-run upserts the same row, never a new one.
-- Kind is part of the key because one method may find two things on one candle (the technical
-- method can see an RSI crossing and a band breach at once).
CREATE TABLE anomalies (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol      text        NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval    text        NOT NULL CHECK (interval IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    open_time   timestamptz NOT NULL,
    method      text        NOT NULL,
    kind        text        NOT NULL,
    score       double precision NOT NULL CHECK (score >= 0 AND score <= 1),
    severity    text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    details     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    detected_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (symbol, interval, open_time, method, kind)
);
-- The API lists anomalies newest first, optionally by symbol or method, paging by (open_time, id).
CREATE INDEX anomalies_by_time ON anomalies (open_time DESC, id DESC);
CREATE INDEX anomalies_by_symbol_time ON anomalies (symbol, open_time DESC, id DESC);
CREATE INDEX anomalies_by_method_time ON anomalies (method, open_time DESC, id DESC);

-- How far the detector has read each series, so a run reads only new candles.
CREATE TABLE detector_state (
    symbol     text        NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval   text        NOT NULL CHECK (interval IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    watermark  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, interval)
);
