package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// claimIDs selects, in the caller's transaction, the ids of up to limit rows
// of a queue table (courier_messages, webhook_deliveries) that may be
// claimed: status queued with next_attempt <= now, or status processing with
// updated_at <= now-lease (a worker died holding them). On PostgreSQL and
// MySQL the rows stay locked (FOR UPDATE SKIP LOCKED) until the transaction
// ends, so concurrent claimers pass over them; on SQLite the single write
// transaction excludes them.
//
// Every row it locks that may be claimed must be one it returns: a claimable
// row locked and not returned is skipped by every concurrent claimer, which
// then finds nothing to claim while there is work. PostgreSQL locks rows as
// the LIMIT takes them from the sorted result, so one statement ordered by
// created_at does. InnoDB locks every row it reads before the server sorts
// and applies the LIMIT: the same statement, planned as a range scan of
// *_lease_idx and a filesort, locked all claimable rows (150 for a batch of
// 7, under REPEATABLE READ until commit) and left concurrent claimers with
// nothing. On MySQL the two kinds of claimable rows are therefore read by
// two statements, each a range scan of an index in its own order (expired
// leases by updated_at in *_lease_idx, then due rows by next_attempt in
// *_claim_idx, both (status, time) with the primary key appended), so that
// InnoDB stops reading at the LIMIT and locks only rows it returns.
// When more rows may be claimed than limit, MySQL therefore takes expired
// leases first and then the rows due longest, where the others take the
// oldest by created_at; the claimed rows are returned oldest first on all.
func (o *ops) claimIDs(ctx context.Context, table, queued, processing string, now time.Time, lease time.Duration, limit int) ([]string, error) {
	if o.d.Flavor != MySQL {
		return o.scanIDs(ctx, `SELECT id FROM `+table+`
			WHERE (status = ? AND next_attempt <= ?) OR (status = ? AND updated_at <= ?)
			ORDER BY created_at, id LIMIT `+itoa(limit)+o.d.lockSuffix(),
			queued, o.d.timeArg(now), processing, o.d.timeArg(now.Add(-lease)))
	}
	ids, err := o.scanIDs(ctx, `SELECT id FROM `+table+` FORCE INDEX (`+table+`_lease_idx)
		WHERE status = ? AND updated_at <= ?
		ORDER BY updated_at, id LIMIT `+itoa(limit)+o.d.lockSuffix(),
		processing, o.d.timeArg(now.Add(-lease)))
	if err != nil || len(ids) == limit {
		return ids, err
	}
	due, err := o.scanIDs(ctx, `SELECT id FROM `+table+` FORCE INDEX (`+table+`_claim_idx)
		WHERE status = ? AND next_attempt <= ?
		ORDER BY next_attempt, id LIMIT `+itoa(limit-len(ids))+o.d.lockSuffix(),
		queued, o.d.timeArg(now))
	return append(ids, due...), err
}

// scanIDs runs q and returns the ids it selects.
func (o *ops) scanIDs(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// inClaimTx runs a claim (fn calls claimIDs) in its own write transaction.
// On MySQL that transaction is READ COMMITTED: under InnoDB's default
// REPEATABLE READ a range scan that finds fewer rows than its LIMIT also
// locks the gap after the last one, and the UPDATE of every concurrent
// claim, which inserts its rows' new (processing, updated_at) entries into
// *_lease_idx there, waited for that claim to commit. READ COMMITTED takes
// no gap locks and releases at once the rows a scan read but did not
// select.
func (s *Store) inClaimTx(ctx context.Context, fn func(o *ops) error) error {
	var opts *sql.TxOptions
	if s.d.Flavor == MySQL {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return s.inTxOpts(ctx, opts, fn)
}
