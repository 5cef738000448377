-- A series' detector_state row now exists from the first candle written to it, not from the
-- end of its first scan. Before, a candle written behind the first page while that page was
-- being scored found no row to record itself in, and waited for an explicit rescan.
--
-- A series that was never scanned has no watermark yet. `writes` counts the statements that
-- changed the series' candles: a scan compares it with the count it read to know whether
-- anything was written meanwhile (the earliest changed time alone cannot tell a later write
-- behind the page from no write at all).
ALTER TABLE detector_state ALTER COLUMN watermark DROP NOT NULL;
ALTER TABLE detector_state ADD COLUMN writes bigint NOT NULL DEFAULT 0;

-- Series with candles but no row yet (never scanned): everything is new to them.
INSERT INTO detector_state (symbol, interval, watermark, rescan_from)
SELECT symbol, interval, NULL, min(open_time) FROM candles GROUP BY symbol, interval
ON CONFLICT (symbol, interval) DO NOTHING;

-- Rows are upserted in key order so that two statements writing several series cannot lock
-- them in opposite orders. Candles deleted because their symbol is (the cascade) ask for
-- nothing: the symbol's state goes with it.
CREATE OR REPLACE FUNCTION candles_request_rescan() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO detector_state AS d (symbol, interval, watermark, rescan_from, writes)
    SELECT symbol, interval, NULL, min(open_time), 1
    FROM changed
    WHERE EXISTS (SELECT 1 FROM symbols s WHERE s.symbol = changed.symbol)
    GROUP BY symbol, interval ORDER BY symbol, interval
    ON CONFLICT (symbol, interval) DO UPDATE
    SET rescan_from = LEAST(d.rescan_from, EXCLUDED.rescan_from),
        writes = d.writes + 1;
    RETURN NULL;
END
$$;
