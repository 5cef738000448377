-- Detection you can trust: one calibrated score per candle, anomalies as events, and rescans
-- driven by the candles themselves.

-- One row per judged candle: the consensus tail probability and score, and each method's
-- calibrated reading ({"zscore": {"statistic", "p", "direction"}, …}). A candle's row goes
-- with the candle.
CREATE TABLE candle_scores (
    symbol      text        NOT NULL,
    interval    text        NOT NULL,
    open_time   timestamptz NOT NULL,
    p           double precision CHECK (p > 0 AND p <= 1),
    score       double precision CHECK (score >= 0 AND score <= 1),
    severity    text        CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    readings    jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(readings) = 'object'),
    -- What a person would check, kept for candles with a severity.
    facts       jsonb,
    scored_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, interval, open_time),
    FOREIGN KEY (symbol, interval, open_time)
        REFERENCES candles (symbol, interval, open_time) ON DELETE CASCADE
);

-- The per-candle, per-method findings of the first detector are on scales nothing reads any
-- more (seven scores on seven scales); they are dropped, and every scanned series is rescanned
-- from its first candle (below), which writes scores and events in their place.
DROP TABLE anomalies;

-- Anomalies are events: one row per run of candles whose consensus passed the threshold.
-- `id` is the event's identity for its whole life: a rescan that moves its start, end or peak
-- updates the row (and `updated_at`); `severity_raised_at` records when its severity last
-- rose, so alerts can send each event once and once more when it gets worse.
CREATE TABLE anomalies (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol             text        NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval           text        NOT NULL CHECK (interval IN ('1m', '5m', '15m', '1h', '4h', '1d')),
    start_time         timestamptz NOT NULL,
    end_time           timestamptz NOT NULL,
    peak_time          timestamptz NOT NULL,
    candles            integer     NOT NULL CHECK (candles >= 1),
    score              double precision NOT NULL CHECK (score >= 0 AND score <= 1),
    severity           text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    kind               text        NOT NULL,
    methods            text[]      NOT NULL,
    details            jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    severity_raised_at timestamptz,
    CHECK (start_time <= peak_time AND peak_time <= end_time)
);
-- The API lists events newest first (optionally by symbol), paging by (start_time, id); the
-- detector finds a series' events near a range by their end; `method=` asks the array.
CREATE INDEX anomalies_by_time ON anomalies (start_time DESC, id DESC);
CREATE INDEX anomalies_by_symbol_time ON anomalies (symbol, start_time DESC, id DESC);
CREATE INDEX anomalies_by_series_end ON anomalies (symbol, interval, end_time);
CREATE INDEX anomalies_by_method ON anomalies USING gin (methods);

-- The earliest candle inserted, changed or deleted since the detector last looked at the
-- series. At or before the watermark it means "recompute from here"; after it, it is just new
-- data. The trigger below keeps it for every write (collector upserts, API corrections,
-- imports), one aggregate per statement.
ALTER TABLE detector_state ADD COLUMN rescan_from timestamptz;
UPDATE detector_state d
SET rescan_from = (SELECT min(open_time) FROM candles c
                   WHERE c.symbol = d.symbol AND c.interval = d.interval);

-- SECURITY DEFINER: the roles that write candles (the writer, the API) may not write
-- detector_state themselves; the trigger does it for them, and only this.
CREATE FUNCTION candles_request_rescan() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE detector_state d
    SET rescan_from = c.first
    FROM (SELECT symbol, interval, min(open_time) AS first
          FROM changed GROUP BY symbol, interval) c
    WHERE d.symbol = c.symbol AND d.interval = c.interval
      AND (d.rescan_from IS NULL OR c.first < d.rescan_from);
    RETURN NULL;
END
$$;

-- Statement-level: a batch of 5,000 candles costs one aggregate and one update per series.
-- PostgreSQL allows transition tables on one event per trigger, hence three.
CREATE TRIGGER candles_inserted_request_rescan
    AFTER INSERT ON candles REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION candles_request_rescan();
CREATE TRIGGER candles_updated_request_rescan
    AFTER UPDATE ON candles REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION candles_request_rescan();
CREATE TRIGGER candles_deleted_request_rescan
    AFTER DELETE ON candles REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION candles_request_rescan();
