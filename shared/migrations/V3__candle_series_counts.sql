-- How many candles each (symbol, interval) series holds, kept up to date by statement-level
-- triggers on `candles`, so `/metrics` reads a handful of rows instead of counting the whole
-- table on every scrape. Each trigger aggregates only the rows its statement touched (its
-- transition table), so the upkeep grows with the batch, never with the table.
--
-- No foreign key to `symbols`: deleting a symbol cascades to its candles, whose delete trigger
-- then brings the series' count to zero. Readers skip series at zero.
CREATE TABLE candle_series_counts (
    symbol   text   NOT NULL,
    interval text   NOT NULL,
    candles  bigint NOT NULL,
    PRIMARY KEY (symbol, interval)
);

-- Adds one signed delta per series. It runs with its owner's rights (the migrations' role), so
-- the function roles that write candles need no privilege on this table: nothing but these
-- triggers can change a count. `ON CONFLICT DO UPDATE` re-reads a row another
-- transaction changed meanwhile, so concurrent writers never lose each other's counts; rows
-- are taken in key order, so two writers of the same series cannot deadlock on them.
CREATE FUNCTION candle_series_counts_add(symbols text[], intervals text[], deltas bigint[])
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO candle_series_counts AS c (symbol, interval, candles)
    SELECT symbol, interval, sum(delta)
    FROM unnest(symbols, intervals, deltas) AS d(symbol, interval, delta)
    GROUP BY 1, 2
    HAVING sum(delta) <> 0
    ORDER BY 1, 2
    ON CONFLICT (symbol, interval) DO UPDATE SET candles = c.candles + EXCLUDED.candles;
$$;

CREATE FUNCTION candle_series_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM candle_series_counts_add(array_agg(symbol), array_agg(interval), array_agg(n))
    FROM (SELECT symbol, interval, count(*) AS n FROM inserted GROUP BY 1, 2) g;
    RETURN NULL;
END $$;

CREATE FUNCTION candle_series_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM candle_series_counts_add(array_agg(symbol), array_agg(interval), array_agg(n))
    FROM (SELECT symbol, interval, -count(*) AS n FROM deleted GROUP BY 1, 2) g;
    RETURN NULL;
END $$;

-- An update moves a row between series only when it changes symbol or interval; the
-- collector's and the API's updates never do, so for them the deltas cancel and nothing is
-- written.
CREATE FUNCTION candle_series_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM candle_series_counts_add(array_agg(symbol), array_agg(interval), array_agg(n))
    FROM (SELECT symbol, interval, count(*) AS n FROM inserted GROUP BY 1, 2
          UNION ALL
          SELECT symbol, interval, -count(*) FROM deleted GROUP BY 1, 2) g;
    RETURN NULL;
END $$;

CREATE FUNCTION candle_series_counts_truncated() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM candle_series_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER candles_count_inserts AFTER INSERT ON candles
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION candle_series_counts_inserted();
CREATE TRIGGER candles_count_deletes AFTER DELETE ON candles
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION candle_series_counts_deleted();
CREATE TRIGGER candles_count_updates AFTER UPDATE ON candles
    REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION candle_series_counts_updated();
CREATE TRIGGER candles_count_truncates AFTER TRUNCATE ON candles
    FOR EACH STATEMENT EXECUTE FUNCTION candle_series_counts_truncated();

-- The rows already stored (a database that ran before this migration).
INSERT INTO candle_series_counts (symbol, interval, candles)
SELECT symbol, interval, count(*) FROM candles GROUP BY 1, 2;
