package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

func TestAttempts(t *testing.T) {
	t.Parallel()
	rule := Rule{Name: "attempts_test", Limit: 2, Window: time.Minute}
	clk := &clock{now: windowStart.Add(10 * time.Second)}
	cases := []struct {
		name    string
		limiter func(t *testing.T) Limiter
	}{
		{"db", func(t *testing.T) Limiter { return NewDB(storetest.SQLite(t), clk.Now, secret) }},
		{"local", func(t *testing.T) Limiter { return NewLocal(clk.Now, secret) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := Attempts{Limiter: tc.limiter(t), Rule: rule}
			ctx := context.Background()
			for n := 1; n <= 2; n++ {
				if wait, err := a.Attempt(ctx, "k"); err != nil || wait != 0 {
					t.Fatalf("attempt %d: wait %s, err %v", n, wait, err)
				}
			}
			wait, err := a.Attempt(ctx, "k")
			if err != nil || wait < time.Second {
				t.Fatalf("third attempt: wait %s, err %v", wait, err)
			}
			if wait, err := a.Attempt(ctx, "other"); err != nil || wait != 0 {
				t.Fatalf("other key: wait %s, err %v", wait, err)
			}
		})
	}
	t.Run("invalid rule", func(t *testing.T) {
		a := Attempts{Limiter: NewLocal(clk.Now, secret), Rule: Rule{Name: "x"}}
		if _, err := a.Attempt(context.Background(), "k"); !errors.Is(err, ErrInvalidRule) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestDBInTx(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	clk := &clock{now: windowStart}
	outer := NewDB(st, clk.Now, secret)
	rule := Rule{Name: "in_tx", Limit: 1, Window: time.Minute}
	ctx := context.Background()
	errRollback := errors.New("roll back")

	// Counted in a transaction that rolls back: nothing stays.
	err := st.Update(ctx, func(tx store.Tx) error {
		if d, err := InTx(outer, tx).Allow(ctx, rule, "k"); err != nil || !d.Allowed {
			t.Fatalf("first in tx: %+v %v", d, err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if d, err := outer.Allow(ctx, rule, "k"); err != nil || !d.Allowed {
		t.Fatalf("after rollback: %+v %v (the rolled-back count stayed)", d, err)
	}
	// Counted in a transaction that commits: the same key, same secret.
	if err := st.Update(ctx, func(tx store.Tx) error {
		d, err := InTx(outer, tx).Allow(ctx, rule, "k")
		if err != nil || d.Allowed {
			t.Fatalf("second in tx: %+v %v", d, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d, _ := outer.Allow(ctx, rule, "k"); d.Allowed {
		t.Fatal("the committed count is not seen outside")
	}
	if l := NewLocal(clk.Now, secret); InTx(l, st) != Limiter(l) {
		t.Fatal("InTx changed a limiter that does not count through the store")
	}
}

// wrapped is a decorator (like observe's metrics limiter) that binds to a
// transaction through TxBinder.
type wrapped struct{ Limiter }

func (w wrapped) InTx(c Counters) Limiter { return wrapped{InTx(w.Limiter, c)} }

// TestInTxThroughWrapper: a wrapped *DB counts in the caller's transaction
// too; without TxBinder this SQLite transaction would wait forever on its
// own write lock.
func TestInTxThroughWrapper(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	clk := &clock{now: windowStart}
	outer := wrapped{NewDB(st, clk.Now, secret)}
	rule := Rule{Name: "wrapped_in_tx", Limit: 1, Window: time.Minute}
	ctx := context.Background()
	err := st.Update(ctx, func(tx store.Tx) error {
		bound := InTx(outer, tx)
		if _, ok := bound.(wrapped); !ok {
			t.Fatalf("InTx dropped the wrapper: %T", bound)
		}
		if _, _, err := tx.Hit(ctx, "hold-the-write-lock", time.Minute, clk.Now()); err != nil {
			return err
		}
		d, err := bound.Allow(ctx, rule, "k")
		if err != nil || !d.Allowed {
			t.Fatalf("in tx: %+v %v", d, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := outer.Allow(ctx, rule, "k"); d.Allowed {
		t.Fatal("the count made in the transaction is not seen outside")
	}
}
