-- How many events each (symbol, interval) series holds, kept as V3 keeps the candles' counts:
-- `/metrics` counted the whole `anomalies` table on every scrape, a cost that grows with the
-- history. Statement triggers add what each statement inserted or deleted (its transition
-- table, grouped once), so the upkeep grows with the statement, never with the table.
--
-- A table of its own rather than a column of `candle_series_counts`: the detector writes
-- events while collectors write candles of the same series, and sharing rows would make each
-- wait on the other (and lock them in opposite orders). No foreign key to `symbols`: deleting
-- a symbol cascades to its events, whose delete trigger brings the count to zero. Readers skip
-- series at zero.
CREATE TABLE anomaly_series_counts (
    symbol    text   NOT NULL,
    interval  text   NOT NULL,
    anomalies bigint NOT NULL,
    PRIMARY KEY (symbol, interval)
);

-- Inserts count, deletes uncount, and an update moves a count only when it changes an event's
-- symbol or interval: the detector's and the notifier's updates never do, so their deltas
-- cancel and nothing is written (a trigger with transition tables cannot be limited to some
-- columns). One write of the summed deltas, rows in key order, so two writers cannot deadlock
-- on them; with its owner's rights (the migrations' role), so the detector needs no privilege
-- on the table.
CREATE FUNCTION anomalies_counted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    added_symbols text[]; added_intervals text[]; added bigint[];
    removed_symbols text[]; removed_intervals text[]; removed bigint[];
BEGIN
    IF TG_OP <> 'DELETE' THEN
        SELECT array_agg(symbol), array_agg(interval), array_agg(n)
        INTO added_symbols, added_intervals, added
        FROM (SELECT symbol, interval, count(*) AS n FROM inserted GROUP BY 1, 2) g;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT array_agg(symbol), array_agg(interval), array_agg(n)
        INTO removed_symbols, removed_intervals, removed
        FROM (SELECT symbol, interval, -count(*) AS n FROM deleted GROUP BY 1, 2) g;
    END IF;
    INSERT INTO anomaly_series_counts AS c (symbol, interval, anomalies)
    SELECT symbol, interval, sum(delta)
    FROM unnest(added_symbols || removed_symbols, added_intervals || removed_intervals,
                added || removed) AS d(symbol, interval, delta)
    GROUP BY 1, 2
    HAVING sum(delta) <> 0
    ORDER BY 1, 2
    ON CONFLICT (symbol, interval) DO UPDATE SET anomalies = c.anomalies + EXCLUDED.anomalies;
    RETURN NULL;
END $$;

CREATE FUNCTION anomalies_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM anomaly_series_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER anomalies_counted_inserts AFTER INSERT ON anomalies
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION anomalies_counted();
CREATE TRIGGER anomalies_counted_deletes AFTER DELETE ON anomalies
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION anomalies_counted();
CREATE TRIGGER anomalies_counted_moves AFTER UPDATE ON anomalies
    REFERENCING OLD TABLE AS deleted NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION anomalies_counted();
CREATE TRIGGER anomalies_truncated AFTER TRUNCATE ON anomalies
    FOR EACH STATEMENT EXECUTE FUNCTION anomalies_truncated();

-- The events already stored (a database that ran before this migration).
INSERT INTO anomaly_series_counts (symbol, interval, anomalies)
SELECT symbol, interval, count(*) FROM anomalies GROUP BY 1, 2;
