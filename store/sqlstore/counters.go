package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// windowOf returns the start and end of the window of length w that holds
// now, windows starting at multiples of w since the Unix epoch.
func windowOf(now time.Time, w time.Duration) (start, end time.Time) {
	ns := now.UnixNano()
	off := ns % int64(w)
	if off < 0 {
		off += int64(w)
	}
	start = time.Unix(0, ns-off).UTC()
	return start, start.Add(w)
}

// Hit implements store.Counters. The increment is one atomic upsert; on
// MySQL, which has no RETURNING, the count is read back under the row lock
// the upsert holds, in the same transaction.
func (o *ops) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error) {
	if window < time.Microsecond {
		return 0, time.Time{}, errors.New("hit counter: window shorter than a microsecond")
	}
	start, end := windowOf(now, window)
	var n int64
	var err error
	if o.d.Flavor == MySQL {
		_, err = o.exec(ctx, `INSERT INTO rate_limit_counters (counter_key, window_start, window_end, hits)
			VALUES (?, ?, ?, 1) ON DUPLICATE KEY UPDATE hits = hits + 1`,
			key, o.d.timeArg(start), o.d.timeArg(end))
		if err == nil {
			err = o.queryRow(ctx, `SELECT hits FROM rate_limit_counters
				WHERE counter_key = ? AND window_start = ? FOR UPDATE`, key, o.d.timeArg(start)).Scan(&n)
		}
	} else {
		err = o.queryRow(ctx, `INSERT INTO rate_limit_counters (counter_key, window_start, window_end, hits)
			VALUES (?, ?, ?, 1) ON CONFLICT (counter_key, window_start)
			DO UPDATE SET hits = rate_limit_counters.hits + 1 RETURNING hits`,
			key, o.d.timeArg(start), o.d.timeArg(end)).Scan(&n)
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("hit counter: %w", err)
	}
	return n, normTime(end), nil
}

// CountHits implements store.Counters.
func (o *ops) CountHits(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error) {
	if window < time.Microsecond {
		return 0, time.Time{}, errors.New("count hits: window shorter than a microsecond")
	}
	start, end := windowOf(now, window)
	var n int64
	err := o.queryRow(ctx, `SELECT hits FROM rate_limit_counters WHERE counter_key = ? AND window_start = ?`,
		key, o.d.timeArg(start)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		n, err = 0, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count hits: %w", err)
	}
	return n, normTime(end), nil
}

// Unhit implements store.Counters.
func (o *ops) Unhit(ctx context.Context, key string, window time.Duration, now time.Time) error {
	if window < time.Microsecond {
		return errors.New("unhit counter: window shorter than a microsecond")
	}
	start, _ := windowOf(now, window)
	if _, err := o.exec(ctx, `UPDATE rate_limit_counters SET hits = hits - 1
		WHERE counter_key = ? AND window_start = ? AND hits > 0`, key, o.d.timeArg(start)); err != nil {
		return fmt.Errorf("unhit counter: %w", err)
	}
	return nil
}

// ResetCounter implements store.Counters.
func (o *ops) ResetCounter(ctx context.Context, key string) error {
	if _, err := o.exec(ctx, `DELETE FROM rate_limit_counters WHERE counter_key = ?`, key); err != nil {
		return fmt.Errorf("reset counter: %w", err)
	}
	return nil
}

// DeleteExpiredCounters implements store.Counters.
func (o *ops) DeleteExpiredCounters(ctx context.Context, t time.Time) (int, error) {
	n, err := o.execAffected(ctx, `DELETE FROM rate_limit_counters WHERE window_end < ?`, o.d.timeArg(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired counters: %w", err)
	}
	return n, nil
}
