package sqlstore_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// TestSQLiteTxStatementsUninterrupted checks that a statement of a SQLite
// write transaction costs no more under a cancellable context (a request's)
// than under one that cannot be cancelled: the driver started a goroutine,
// a channel and a closure per statement under a cancellable context, to
// interrupt it on cancellation (ops.uninterrupted). The one allocation left
// per statement is context.WithoutCancel's.
func TestSQLiteTxStatementsUninterrupted(t *testing.T) {
	st := storetest.SQLite(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	f := &core.Flow{ID: "0b5bd9e5-3f1f-4c52-9a4e-3d7e35c3a001", Kind: core.FlowLogin, Face: "hanko", State: "s",
		CSRFToken: "t", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.CreateFlow(ctx, f) }); err != nil {
		t.Fatal(err)
	}
	const statements = 40
	run := func(ctx context.Context) {
		err := st.Update(ctx, func(tx store.Tx) error {
			for range statements {
				if _, err := tx.GetFlow(ctx, f.ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cancellable, cancel := context.WithCancel(ctx)
	defer cancel()
	run(ctx) // prepare the statement
	// Each figure is the least of several measurements, taken in turns: a
	// garbage collection during one empties the sync.Pools that database/sql
	// and the driver draw from, and the refills counted then (about 100
	// allocations per run) say nothing about the statements.
	plain, withCancel := math.Inf(1), math.Inf(1)
	for range 5 {
		plain = min(plain, testing.AllocsPerRun(20, func() { run(ctx) }))
		withCancel = min(withCancel, testing.AllocsPerRun(20, func() { run(cancellable) }))
	}
	// BEGIN keeps the caller's context (its busy wait stays
	// interruptible), and database/sql has a few allocations of its own for
	// a cancellable one: about 17 here, against about 4.7 per statement
	// before (the driver's goroutine).
	if extra := withCancel - plain; extra > 2*statements {
		t.Errorf("%d statements in a transaction under a cancellable context allocated %.0f times more than under a background one (%.0f against %.0f), want at most %d more",
			statements, extra, withCancel, plain, 2*statements)
	}
}
