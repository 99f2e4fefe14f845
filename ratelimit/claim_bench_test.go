//go:build unix

package ratelimit

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// BenchmarkTOTPStepCounting is the counting of a TOTP login's step from a
// known address in one transaction, as api/kratos and api/hanko do it: the
// attempt counted, the code's time step claimed, the right attempt taken
// back. claim=separate hits the claim after Begin (Claim's Hit); claim=
// with-attempt hits it in the attempt's statement (BeginClaiming). It
// runs on SQLite, and on PostgreSQL and MySQL when configured
// (storetest.PostgresDSN, storetest.MySQLDSN); cpu-µs/op is this
// process's CPU per step.
func BenchmarkTOTPStepCounting(b *testing.B) {
	for name, open := range map[string]func(testing.TB) store.Store{"sqlite": storetest.SQLite, "postgres": storetest.Postgres, "mysql": storetest.MySQL} {
		for _, fold := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/claim=%s", name, map[bool]string{false: "separate", true: "with-attempt"}[fold]), func(b *testing.B) {
				ctx := context.Background()
				s := open(b)
				p, err := NewPolicy(NewDB(s, time.Now, secret), testPolicyConfig())
				if err != nil {
					b.Fatal(err)
				}
				step := func(i int) {
					id := fmt.Sprintf("id-%d", i%200)
					claim := store.CounterWindow{Key: fmt.Sprintf("totp_step:%s:%d", id, i), Window: time.Hour, At: time.Now()}
					err := s.Update(ctx, func(tx store.Tx) error {
						pt := p.In(tx)
						var a Attempt
						var err error
						if fold {
							a, _, err = pt.BeginClaiming(ctx, TOTP, id, "192.0.2.1", claim)
						} else if a, err = pt.Begin(ctx, TOTP, id, "192.0.2.1"); err == nil {
							_, _, err = tx.Hit(ctx, claim.Key, claim.Window, claim.At)
						}
						if err != nil {
							return err
						}
						return a.Succeed(ctx, pt)
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				for i := range 400 { // every address known, counters there
					step(-1 - i)
				}
				var ru syscall.Rusage
				cpu := func() int64 {
					_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
					return ru.Utime.Nano() + ru.Stime.Nano()
				}
				i, cpu0 := 0, cpu()
				for b.Loop() {
					i++
					step(i)
				}
				b.ReportMetric(float64(cpu()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
			})
		}
	}
}
