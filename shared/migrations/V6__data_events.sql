-- Data events and alerts leave the VPC through the detector's result (its on-success
-- destination is the notifier, outside the VPC), so what is still to be announced waits here
-- until a detector run takes it.

-- One row per statement that stored candles of a series: the writer's batches, API
-- corrections, imports. The detector drains it into `candles.stored` events.
CREATE TABLE candles_stored_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    symbol          text        NOT NULL,
    interval        text        NOT NULL,
    candles         integer     NOT NULL CHECK (candles >= 1),
    first_open_time timestamptz NOT NULL,
    last_open_time  timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now()
);

-- SECURITY DEFINER: the roles that write candles may not write the outbox themselves.
CREATE FUNCTION candles_stored_announce() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO candles_stored_outbox (symbol, interval, candles, first_open_time, last_open_time)
    SELECT symbol, interval, count(*), min(open_time), max(open_time)
    FROM stored GROUP BY symbol, interval;
    RETURN NULL;
END
$$;

CREATE TRIGGER candles_inserted_announce
    AFTER INSERT ON candles REFERENCING NEW TABLE AS stored
    FOR EACH STATEMENT EXECUTE FUNCTION candles_stored_announce();
CREATE TRIGGER candles_updated_announce
    AFTER UPDATE ON candles REFERENCING NEW TABLE AS stored
    FOR EACH STATEMENT EXECUTE FUNCTION candles_stored_announce();

-- The severity an event was last announced with (NULL: never). An event is announced when it
-- is new and once more each time its severity rises above this; rescans that leave it as it
-- was announce nothing. Events that exist already were found before announcements existed.
ALTER TABLE anomalies ADD COLUMN announced_severity text
    CHECK (announced_severity IN ('low', 'medium', 'high', 'critical'));
UPDATE anomalies SET announced_severity = severity;
