package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/store"
)

// Hit implements store.Counters. The increment is one atomic upsert; on
// MySQL, which has no RETURNING, the count is read back under the row lock
// the upsert holds, in the same transaction.
func (o *ops) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error) {
	if window < time.Microsecond {
		return 0, time.Time{}, errors.New("hit counter: window shorter than a microsecond")
	}
	start, end := store.CounterWindowOf(now, window)
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
	start, end := store.CounterWindowOf(now, window)
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
	start, _ := store.CounterWindowOf(now, window)
	if _, err := o.exec(ctx, `UPDATE rate_limit_counters SET hits = hits - 1
		WHERE counter_key = ? AND window_start = ? AND hits > 0`, key, o.d.timeArg(start)); err != nil {
		return fmt.Errorf("unhit counter: %w", err)
	}
	return nil
}

// ResetCounter implements store.Counters.
//
// On SQLite the windows are set to zero hits instead of deleted: a row's
// delete or insert writes a page of the table and one of each of its two
// indexes to the WAL, setting hits (no index has it) only the table's. A
// successful login resets its attempt counter, and the next attempt from
// the address counts in the same row again while its window lasts (one
// page, not three); DeleteExpiredCounters removes the rows at their
// window's end as before. A window at zero hits counts as none.
func (o *ops) ResetCounter(ctx context.Context, key string) error {
	q := `DELETE FROM rate_limit_counters WHERE counter_key = ?`
	if o.d.Flavor == SQLite {
		q = `UPDATE rate_limit_counters SET hits = 0 WHERE counter_key = ? AND hits <> 0`
	}
	if _, err := o.exec(ctx, q, key); err != nil {
		return fmt.Errorf("reset counter: %w", err)
	}
	return nil
}

// HitAll implements store.Counters: one multi-row upsert returning the
// counts (on MySQL, which has no RETURNING, the counts are read back under
// the row locks the upsert holds, in the same transaction).
func (o *ops) HitAll(ctx context.Context, hits []store.CounterWindow, now time.Time) ([]int64, error) {
	counts, _, _, err := o.hitAll(ctx, hits, nil, now)
	return counts, err
}

// HitAllSeeing implements store.Counters: HitAll's upsert returns seen's
// current and previous counts beside each count (two scalar subqueries in
// its RETURNING list); on MySQL, which has no RETURNING, RecentHits reads
// them first.
func (o *ops) HitAllSeeing(ctx context.Context, hits []store.CounterWindow, seen store.CounterWindow, now time.Time) ([]int64, int64, int64, error) {
	if len(hits) == 0 {
		return nil, 0, 0, errors.New("hit counters: no counter to hit")
	}
	if slices.ContainsFunc(hits, func(h store.CounterWindow) bool { return h.Key == seen.Key }) {
		return nil, 0, 0, errors.New("hit counters: the counter seen is hit too")
	}
	if o.d.Flavor == MySQL {
		cur, prev, err := o.RecentHits(ctx, seen.Key, seen.Window, now)
		if err != nil {
			return nil, 0, 0, err
		}
		counts, err := o.HitAll(ctx, hits, now)
		return counts, cur, prev, err
	}
	return o.hitAll(ctx, hits, &seen, now)
}

// hitAll is HitAll, and HitAllSeeing when seen is set (not on MySQL).
func (o *ops) hitAll(ctx context.Context, hits []store.CounterWindow, seen *store.CounterWindow, now time.Time) ([]int64, int64, int64, error) {
	given := hits
	if len(hits) == 0 {
		return nil, 0, 0, nil
	}
	hits = byKey(hits)
	args := make([]any, 0, 3*len(hits))
	starts := make([]any, len(hits))
	var q strings.Builder
	q.WriteString(`INSERT INTO rate_limit_counters (counter_key, window_start, window_end, hits) VALUES `)
	for i, h := range hits {
		if h.Window < time.Microsecond {
			return nil, 0, 0, errors.New("hit counters: window shorter than a microsecond")
		}
		start, end := store.CounterWindowOf(now, h.Window)
		starts[i] = o.d.timeArg(start)
		args = append(args, h.Key, starts[i], o.d.timeArg(end))
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, 1)")
	}
	counts := make(map[string]int64, len(hits))
	var cur, prev sql.NullInt64
	if o.d.Flavor == MySQL {
		q.WriteString(` ON DUPLICATE KEY UPDATE hits = hits + 1`)
		if _, err := o.exec(ctx, q.String(), args...); err != nil {
			return nil, 0, 0, fmt.Errorf("hit counters: %w", err)
		}
		sel, selArgs := counterMatch(`SELECT counter_key, hits FROM rate_limit_counters WHERE `, hits, starts)
		if err := o.scanCounts(ctx, sel+` FOR UPDATE`, selArgs, counts); err != nil {
			return nil, 0, 0, fmt.Errorf("hit counters: %w", err)
		}
	} else {
		q.WriteString(` ON CONFLICT (counter_key, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1 RETURNING counter_key, hits`)
		var extra []any
		if seen != nil {
			if seen.Window < time.Microsecond {
				return nil, 0, 0, errors.New("hit counters: window shorter than a microsecond")
			}
			// RecentHits' read of seen, on every row returned.
			start, _ := store.CounterWindowOf(now, seen.Window)
			c, p := o.d.timeArg(start), o.d.timeArg(start.Add(-seen.Window))
			q.WriteString(`, (SELECT hits FROM rate_limit_counters k WHERE k.counter_key = ? AND k.window_start = ?),
				(SELECT hits FROM rate_limit_counters k WHERE k.counter_key = ? AND k.window_start = ?)`)
			args = append(args, seen.Key, c, seen.Key, p)
			extra = []any{&cur, &prev}
		}
		if err := o.scanCounts(ctx, q.String(), args, counts, extra...); err != nil {
			return nil, 0, 0, fmt.Errorf("hit counters: %w", err)
		}
	}
	out := make([]int64, len(given))
	for i, h := range given {
		n, ok := counts[h.Key]
		if !ok {
			return nil, 0, 0, fmt.Errorf("hit counters: no count for the counter %q", h.Key)
		}
		out[i] = n
	}
	return out, cur.Int64, prev.Int64, nil
}

// byKey returns hits sorted by key: concurrent batches then lock the rows
// they share in the same order (no deadlock on PostgreSQL and MySQL).
func byKey(hits []store.CounterWindow) []store.CounterWindow {
	if slices.IsSortedFunc(hits, cmpKey) {
		return hits
	}
	return slices.SortedFunc(slices.Values(hits), cmpKey)
}

func cmpKey(a, b store.CounterWindow) int { return strings.Compare(a.Key, b.Key) }

// counterMatch returns prefix followed by the condition matching each of
// hits in the window starting at starts[i], and its arguments.
func counterMatch(prefix string, hits []store.CounterWindow, starts []any) (string, []any) {
	var q strings.Builder
	q.WriteString(prefix)
	args := make([]any, 0, 2*len(hits))
	for i, h := range hits {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("(counter_key = ? AND window_start = ?)")
		args = append(args, h.Key, starts[i])
	}
	return q.String(), args
}

// scanCounts runs q and collects its (counter_key, hits) rows into counts;
// the columns after those are scanned into extra (every row has the same).
func (o *ops) scanCounts(ctx context.Context, q string, args []any, counts map[string]int64, extra ...any) error {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(append([]any{&k, &n}, extra...)...); err != nil {
			return err
		}
		counts[k] = n
	}
	return rows.Err()
}

// UnhitAll implements store.Counters.
func (o *ops) UnhitAll(ctx context.Context, hits []store.CounterWindow, now time.Time) error {
	if len(hits) == 0 {
		return nil
	}
	hits = byKey(hits)
	starts := make([]any, len(hits))
	for i, h := range hits {
		if h.Window < time.Microsecond {
			return errors.New("unhit counters: window shorter than a microsecond")
		}
		start, _ := store.CounterWindowOf(now, h.Window)
		starts[i] = o.d.timeArg(start)
	}
	q, args := counterMatch(`UPDATE rate_limit_counters SET hits = hits - 1 WHERE hits > 0 AND (`, hits, starts)
	if _, err := o.exec(ctx, q+")", args...); err != nil {
		return fmt.Errorf("unhit counters: %w", err)
	}
	return nil
}

// RecentHits implements store.Counters.
func (o *ops) RecentHits(ctx context.Context, key string, window time.Duration, now time.Time) (int64, int64, error) {
	if window < time.Microsecond {
		return 0, 0, errors.New("recent hits: window shorter than a microsecond")
	}
	start, _ := store.CounterWindowOf(now, window)
	cur, prev := o.d.timeArg(start), o.d.timeArg(start.Add(-window))
	var c, p sql.NullInt64
	err := o.queryRow(ctx, `SELECT MAX(CASE WHEN window_start = ? THEN hits END), MAX(CASE WHEN window_start = ? THEN hits END)
		FROM rate_limit_counters WHERE counter_key = ? AND window_start IN (?, ?)`, cur, prev, key, cur, prev).Scan(&c, &p)
	if err != nil {
		return 0, 0, fmt.Errorf("recent hits: %w", err)
	}
	return c.Int64, p.Int64, nil
}

// DeleteExpiredCounters implements store.Counters.
func (o *ops) DeleteExpiredCounters(ctx context.Context, t time.Time) (int, error) {
	n, err := o.execAffected(ctx, `DELETE FROM rate_limit_counters WHERE window_end < ?`, o.d.timeArg(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired counters: %w", err)
	}
	return n, nil
}
