-- One statement trigger per event on `candles` instead of three (series counts, the
-- detector's rescan request, the data-events outbox): each of the three scanned the batch's
-- transition table and grouped it by series on its own, and each paid a trigger call. Now the
-- batch is grouped once, into one row per series, and the three tables are written from those
-- rows, in the order the three triggers ran before (counts, outbox, detector state: the same
-- order for every writer, so two writers cannot lock them in opposite orders).
--
-- What each event records is unchanged: inserts and updates count, announce and ask for a
-- rescan from their earliest candle; deletes uncount and ask for a rescan (not for candles
-- whose symbol is being deleted); truncation zeroes the counts (its trigger stays as it was).

DROP TRIGGER candles_count_inserts ON candles;
DROP TRIGGER candles_count_deletes ON candles;
DROP TRIGGER candles_count_updates ON candles;
DROP TRIGGER candles_inserted_request_rescan ON candles;
DROP TRIGGER candles_updated_request_rescan ON candles;
DROP TRIGGER candles_deleted_request_rescan ON candles;
DROP TRIGGER candles_inserted_announce ON candles;
DROP TRIGGER candles_updated_announce ON candles;
DROP FUNCTION candle_series_counts_inserted();
DROP FUNCTION candle_series_counts_deleted();
DROP FUNCTION candle_series_counts_updated();
DROP FUNCTION candles_request_rescan();
DROP FUNCTION candles_stored_announce();

-- The outbox row and the rescan request of each series a statement changed; the caller
-- passes one element per series (the state rows are taken in key order, as the counts are, so
-- two writers cannot deadlock on them). Deletes announce nothing, and ask no rescan for
-- candles whose symbol is being deleted (the cascade): the symbol's state goes with it.
-- SECURITY DEFINER: the roles that write candles may write neither table themselves.
CREATE FUNCTION candles_record_changes(
    symbol_list text[], interval_list text[], candle_counts bigint[],
    first_open_times timestamptz[], last_open_times timestamptz[], announce boolean
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF announce THEN
        INSERT INTO candles_stored_outbox
            (symbol, interval, candles, first_open_time, last_open_time)
        SELECT symbol, interval, n, first_open, last_open
        FROM unnest(symbol_list, interval_list, candle_counts, first_open_times, last_open_times)
            AS c(symbol, interval, n, first_open, last_open);
    END IF;
    INSERT INTO detector_state AS d (symbol, interval, watermark, rescan_from, writes)
    SELECT symbol, interval, NULL, first_open, 1
    FROM unnest(symbol_list, interval_list, first_open_times) AS c(symbol, interval, first_open)
    WHERE EXISTS (SELECT 1 FROM symbols s WHERE s.symbol = c.symbol)
    ORDER BY symbol, interval
    ON CONFLICT (symbol, interval) DO UPDATE
    SET rescan_from = LEAST(d.rescan_from, EXCLUDED.rescan_from),
        writes = d.writes + 1;
END
$$;

CREATE FUNCTION candles_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    symbol_list text[]; interval_list text[]; candle_counts bigint[];
    first_open_times timestamptz[]; last_open_times timestamptz[];
BEGIN
    SELECT array_agg(symbol), array_agg(interval), array_agg(n), array_agg(first_open),
           array_agg(last_open)
    INTO symbol_list, interval_list, candle_counts, first_open_times, last_open_times
    FROM (SELECT symbol, interval, count(*) AS n,
                 min(open_time) AS first_open, max(open_time) AS last_open
          FROM inserted GROUP BY symbol, interval) g;
    PERFORM candle_series_counts_add(symbol_list, interval_list, candle_counts);
    PERFORM candles_record_changes(
        symbol_list, interval_list, candle_counts, first_open_times, last_open_times, true);
    RETURN NULL;
END $$;

-- An update moves a row between series only when it changes symbol or interval; the
-- collector's and the API's updates never do, so their count changes cancel and
-- `candle_series_counts_add` writes none.
CREATE FUNCTION candles_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    symbol_list text[]; interval_list text[]; candle_counts bigint[];
    first_open_times timestamptz[]; last_open_times timestamptz[];
    left_symbol_list text[]; left_interval_list text[]; left_counts bigint[];
BEGIN
    SELECT array_agg(symbol), array_agg(interval), array_agg(n), array_agg(first_open),
           array_agg(last_open)
    INTO symbol_list, interval_list, candle_counts, first_open_times, last_open_times
    FROM (SELECT symbol, interval, count(*) AS n,
                 min(open_time) AS first_open, max(open_time) AS last_open
          FROM inserted GROUP BY symbol, interval) g;
    SELECT array_agg(symbol), array_agg(interval), array_agg(n)
    INTO left_symbol_list, left_interval_list, left_counts
    FROM (SELECT symbol, interval, -count(*) AS n FROM deleted GROUP BY symbol, interval) g;
    PERFORM candle_series_counts_add(symbol_list || left_symbol_list,
        interval_list || left_interval_list, candle_counts || left_counts);
    PERFORM candles_record_changes(
        symbol_list, interval_list, candle_counts, first_open_times, last_open_times, true);
    RETURN NULL;
END $$;

CREATE FUNCTION candles_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    symbol_list text[]; interval_list text[]; candle_counts bigint[];
    first_open_times timestamptz[]; last_open_times timestamptz[];
BEGIN
    SELECT array_agg(symbol), array_agg(interval), array_agg(n), array_agg(first_open),
           array_agg(last_open)
    INTO symbol_list, interval_list, candle_counts, first_open_times, last_open_times
    FROM (SELECT symbol, interval, count(*) AS n,
                 min(open_time) AS first_open, max(open_time) AS last_open
          FROM deleted GROUP BY symbol, interval) g;
    PERFORM candle_series_counts_add(
        symbol_list, interval_list, array(SELECT -n FROM unnest(candle_counts) AS n));
    PERFORM candles_record_changes(
        symbol_list, interval_list, candle_counts, first_open_times, last_open_times, false);
    RETURN NULL;
END $$;

CREATE TRIGGER candles_inserted AFTER INSERT ON candles
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION candles_inserted();
CREATE TRIGGER candles_updated AFTER UPDATE ON candles
    REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION candles_updated();
CREATE TRIGGER candles_deleted AFTER DELETE ON candles
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION candles_deleted();
