-- Coinbase Exchange and Kraken join the sources a watch-list entry may name.
ALTER TABLE symbols DROP CONSTRAINT symbols_provider_check;
ALTER TABLE symbols ADD CONSTRAINT symbols_provider_check
    CHECK (provider IN ('coingecko', 'binance', 'coinbase', 'kraken', 'alphavantage', 'synthetic'));

-- Holes gap repair asked a source for and that were still missing afterwards. After a few
-- attempts a hole counts as gone from the source ("lost") and is no longer asked for, so a
-- source that simply does not have some buckets does not cost a request on every run.
CREATE TABLE collection_gaps (
    symbol          text        NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval        text        NOT NULL CHECK (interval IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    gap_start       timestamptz NOT NULL,
    gap_end         timestamptz NOT NULL CHECK (gap_end > gap_start),
    attempts        integer     NOT NULL DEFAULT 1 CHECK (attempts > 0),
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, interval, gap_start)
);
