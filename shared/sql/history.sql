SELECT COALESCE($2::text, s.interval) AS series_interval, c.*
FROM symbols s
LEFT JOIN LATERAL (
    SELECT symbol, interval, open_time, open, high, low, close, volume, source
    FROM candles
    WHERE symbol = s.symbol AND interval = COALESCE($2::text, s.interval)
      AND open_time >= $3 AND open_time < $4
    ORDER BY open_time DESC
    LIMIT $5
) c ON true
WHERE s.symbol = $1
