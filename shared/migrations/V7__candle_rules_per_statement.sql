-- What `candles` keeps in step with its rows is now done once per statement, not per row or
-- per concern:
--
-- * One trigger function per event instead of three triggers (series counts, the detector's
--   rescan request, the data-events outbox): each of the three scanned the batch's transition
--   table and grouped it by series on its own, and each paid a trigger call. Now the batch is
--   grouped once, into one row per series, and everything is written from those rows.
-- * Every candle must belong to a watched symbol, and unwatching a symbol removes its
--   candles. The foreign key did both, but it checks each inserted row on its own (one lookup
--   of `symbols` per candle, run by a row trigger): on a backfill that was over half of the
--   server's time per batch, for a batch that names one symbol. The insert and update path
--   now looks the batch's symbols up once and locks them (FOR KEY SHARE, as the foreign key's
--   check does), and a statement trigger on `symbols` deletes the candles of deleted symbols.
--
-- What each event records is unchanged: inserts and updates count, announce and ask for a
-- rescan from their earliest candle; deletes uncount and ask for a rescan (not for candles
-- whose symbol is being deleted); truncation zeroes the counts (its trigger stays as it was).
-- Every statement takes its locks in one order — series counts, symbols, outbox, detector
-- state, each in key order — so two writers cannot deadlock on them.
--
-- Why the symbol lock is enough: a symbol deleted before the check is missing from what it
-- locks, so the statement fails; one deleted after waits for the writer's transaction to end,
-- and its cascade, a later statement under READ COMMITTED (every tickwatch session), then
-- sees and deletes the candles that transaction wrote.

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

ALTER TABLE candles DROP CONSTRAINT candles_symbol_fkey;

-- Raises what the foreign key raised (SQLSTATE 23503, which the collector counts as
-- `unknown_symbol`) when a symbol of `symbol_list` is not in `symbols`. Locks in key order, so
-- writers and a statement deleting several symbols cannot deadlock on them.
CREATE FUNCTION candles_require_symbols(symbol_list text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    locked text[];
    missing text;
BEGIN
    SELECT array_agg(symbol) INTO locked
    FROM (SELECT symbol FROM symbols WHERE symbol = ANY (symbol_list)
          ORDER BY symbol FOR KEY SHARE) s;
    SELECT wanted INTO missing
    FROM unnest(symbol_list) AS wanted
    WHERE wanted <> ALL (coalesce(locked, '{}'))
    LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'candles of symbol "%" refused: it is not in table "symbols"', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
END
$$;

-- What a statement's changes record besides the counts, one array element per series it
-- changed. Rows a statement `written` (inserted or updated) have their symbols checked, and
-- are announced in the outbox; every change asks for a rescan from its series' earliest
-- candle, except for candles whose symbol is being deleted (the cascade): the symbol's state
-- goes with it. SECURITY DEFINER: the roles that write candles may write neither table
-- themselves.
CREATE FUNCTION candles_record_changes(
    symbol_list text[], interval_list text[], candle_counts bigint[],
    first_open_times timestamptz[], last_open_times timestamptz[], written boolean
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF written THEN
        PERFORM candles_require_symbols(symbol_list);
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

-- The insert and the update trigger both run this: both see the rows as they now are in
-- `inserted`, grouped here once. An update also takes its old rows (`deleted`) out of their
-- series' counts; it moves a row between series only when it changes symbol or interval, and
-- the collector's and the API's updates never do, so their count changes cancel and
-- `candle_series_counts_add` writes none. (`||` with the NULL arrays of an insert is a no-op.)
CREATE FUNCTION candles_written() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(symbol), array_agg(interval), array_agg(n)
        INTO left_symbol_list, left_interval_list, left_counts
        FROM (SELECT symbol, interval, -count(*) AS n FROM deleted GROUP BY symbol, interval) g;
    END IF;
    PERFORM candle_series_counts_add(symbol_list || left_symbol_list,
        interval_list || left_interval_list, candle_counts || left_counts);
    PERFORM candles_record_changes(
        symbol_list, interval_list, candle_counts, first_open_times, last_open_times, true);
    RETURN NULL;
END $$;

-- Deletes uncount, and ask for a rescan from each series' earliest deleted candle; they
-- announce nothing, so no latest candle is needed.
CREATE FUNCTION candles_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    symbol_list text[]; interval_list text[]; candle_counts bigint[];
    first_open_times timestamptz[];
BEGIN
    SELECT array_agg(symbol), array_agg(interval), array_agg(n), array_agg(first_open)
    INTO symbol_list, interval_list, candle_counts, first_open_times
    FROM (SELECT symbol, interval, count(*) AS n, min(open_time) AS first_open
          FROM deleted GROUP BY symbol, interval) g;
    PERFORM candle_series_counts_add(
        symbol_list, interval_list, array(SELECT -n FROM unnest(candle_counts) AS n));
    PERFORM candles_record_changes(
        symbol_list, interval_list, candle_counts, first_open_times, NULL, false);
    RETURN NULL;
END $$;

CREATE TRIGGER candles_inserted AFTER INSERT ON candles
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION candles_written();
CREATE TRIGGER candles_updated AFTER UPDATE ON candles
    REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION candles_written();
CREATE TRIGGER candles_deleted AFTER DELETE ON candles
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION candles_deleted();

-- The cascade: the candles of deleted symbols go (their delete trigger keeps the counts).
CREATE FUNCTION symbols_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM candles WHERE symbol IN (SELECT symbol FROM deleted);
    RETURN NULL;
END
$$;

-- Renaming a symbol that has candles is refused, as the foreign key refused it (nothing in
-- tickwatch renames one; this keeps a hand-made UPDATE from orphaning candles).
CREATE FUNCTION symbols_renamed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    orphaned text;
BEGIN
    SELECT o.symbol INTO orphaned FROM deleted o
    WHERE NOT EXISTS (SELECT 1 FROM inserted n WHERE n.symbol = o.symbol)
      AND EXISTS (SELECT 1 FROM candles c WHERE c.symbol = o.symbol)
    LIMIT 1;
    IF orphaned IS NOT NULL THEN
        RAISE EXCEPTION 'symbol "%" has candles: it cannot be renamed', orphaned
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;

-- Truncating `symbols` (only with CASCADE: other tables keep their foreign keys) takes the
-- candles with it, as the foreign key's CASCADE did.
CREATE FUNCTION symbols_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    TRUNCATE candles CASCADE;
    RETURN NULL;
END
$$;

CREATE TRIGGER symbols_deleted AFTER DELETE ON symbols
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION symbols_deleted();
CREATE TRIGGER symbols_renamed AFTER UPDATE ON symbols
    REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION symbols_renamed();
CREATE TRIGGER symbols_truncated AFTER TRUNCATE ON symbols
    FOR EACH STATEMENT EXECUTE FUNCTION symbols_truncated();
