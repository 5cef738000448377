-- Every candle must belong to a watched symbol, and unwatching a symbol removes its candles.
-- The foreign key did both, but it checks each inserted row on its own (one lookup of
-- `symbols` per candle, run by a row trigger): on a backfill that was over half of the
-- server's time per batch, for a batch that names one symbol. The same rules now hold per
-- statement: the insert and update triggers look the batch's symbols up once and lock them
-- (FOR KEY SHARE, as the foreign key's check does), and a statement trigger on `symbols`
-- deletes the candles of deleted symbols.
--
-- Why the lock is enough: a symbol deleted before the check is missing from what it locks,
-- so the statement fails; one deleted after waits for the writer's transaction to end, and
-- its cascade, a later statement under READ COMMITTED (every tickwatch session), then sees
-- and deletes the candles that transaction wrote.

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

-- As in V7, with the symbols checked first for the rows a statement inserted or updated.
CREATE OR REPLACE FUNCTION candles_record_changes(
    symbol_list text[], interval_list text[], candle_counts bigint[],
    first_open_times timestamptz[], last_open_times timestamptz[], announce boolean
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF announce THEN
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
