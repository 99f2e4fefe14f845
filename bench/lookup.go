package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// scaleEmail is the identifier of the i-th identity lookup-at-scale seeds.
func (r *Runner) scaleEmail(i int) string {
	return fmt.Sprintf("bench-%s-scale-%d@example.com", r.runID, i)
}

// scaleLogins is how many seeded identities carry a password.
const scaleLogins = 20

// seed creates the identities [from, to) through batch imports of
// BatchSize on the runner's concurrency; the first scaleLogins get a
// bcrypt-hashed password.
func (r *Runner) seed(ctx context.Context, from, to int, hash string) error {
	size := r.o.BatchSize
	batches := (to - from + size - 1) / size
	var done int
	start := time.Now()
	lastLog := start
	return r.parallel(ctx, batches, func(ctx context.Context, b int) error {
		lo := from + b*size
		hi := min(lo+size, to)
		emails := make([]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			emails = append(emails, r.scaleEmail(i))
		}
		withPassword := max(0, min(scaleLogins-lo, len(emails)))
		if r.o.Seed != nil {
			batch := make([]SeedIdentity, len(emails))
			for i, e := range emails {
				batch[i].Email = e
				if i < withPassword {
					batch[i].HashedPassword = hash
				}
			}
			if err := r.o.Seed(ctx, batch); err != nil {
				return fmt.Errorf("seed: %w", err)
			}
		} else if err := r.sendBatch(ctx, r.batchBody(emails, withPassword, hash)); err != nil {
			return err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		done += hi - lo
		if r.o.Progress != nil {
			el := time.Since(start)
			fmt.Fprintf(r.o.Progress, "\r\033[Kseeding %d/%d identities  %.0f/s", from+done, to, float64(done)/max(el.Seconds(), 1e-9))
		} else if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			r.logf("seeded %d/%d identities", from+done, to)
		}
		return nil
	})
}

func humanCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func (r *Runner) lookupAtScale(ctx context.Context) ([]Result, error) {
	if err := r.requireAdmin(); err != nil {
		return nil, err
	}
	scales := slices.Clone(r.o.Scales)
	if len(scales) == 0 {
		scales = []int{10_000}
	}
	slices.Sort(scales)
	hash, err := r.benchHash()
	if err != nil {
		return nil, err
	}
	var (
		out        []Result
		seeded     int
		firstScale = map[string]float64{}
		canLogin   = true
	)
	for _, n := range scales {
		if n > seeded {
			t0 := time.Now()
			err := r.seed(ctx, seeded, n, hash)
			if r.o.Progress != nil {
				fmt.Fprint(r.o.Progress, "\r\033[K")
			}
			if err != nil {
				if seeded == 0 {
					return out, skipIfMissing("Kratos batch import", err)
				}
				return out, fmt.Errorf("seed %d identities: %w", n, err)
			}
			el := time.Since(t0)
			via := "PATCH /admin/identities"
			if r.o.Seed != nil {
				via = "the direct seeder (identity service, no HTTP)"
			}
			out = append(out, Result{Scenario: "lookup-at-scale/seed", Note: fmt.Sprintf("%d → %d identities through %s, %d per batch", seeded, n, via, r.o.BatchSize),
				Ops: int64(n - seeded), Seconds: el.Seconds(), OpsPerSec: float64(n-seeded) / el.Seconds(),
				Concurrency: r.o.Load.Concurrency, Load1: LoadAverage(), Items: 1})
			r.logf("seeded %d identities in %s", n-seeded, el.Round(time.Millisecond))
			seeded = n
		}
		label := humanCount(n)
		lookup := func(ctx context.Context, _ int, _ int64) error {
			e := r.scaleEmail(rand.IntN(n))
			u := r.admin + "/admin/identities?credentials_identifier=" + url.QueryEscape(e)
			h := http.Header{"Accept": {"application/json"}}
			if r.o.APIKey != "" {
				h.Set("Authorization", "Bearer "+r.o.APIKey)
			}
			_, err := fetch(ctx, r.hc, http.MethodGet, u, h, nil, http.StatusOK, func(b []byte) error {
				if !bytes.Contains(b, []byte(e)) {
					return errors.New("the identity was not found: " + snippet(b))
				}
				return nil
			})
			return err
		}
		res, err := r.measure(ctx, "lookup-at-scale/lookup@"+label, "GET /admin/identities?credentials_identifier=, random seeded identifier", r.serverPID(), "server", 1, lookup)
		if err != nil {
			return out, err
		}
		out = append(out, withRatio(res, firstScale, "lookup"))
		if !canLogin {
			continue
		}
		if _, err := r.kratosLoginOnce(ctx, r.scaleEmail(0)); err != nil {
			if isMissing(err) {
				canLogin = false
				out = append(out, Result{Scenario: "lookup-at-scale/login@" + label, Skipped: "Kratos native login: " + err.Error()})
				continue
			}
			return out, err
		}
		res, err = r.measure(ctx, "lookup-at-scale/login@"+label, fmt.Sprintf("Kratos native login of %d seeded identities", scaleLogins), r.serverPID(), "server", 1,
			func(ctx context.Context, _ int, i int64) error {
				_, err := r.kratosLoginOnce(ctx, r.scaleEmail(int(i%scaleLogins)))
				return err
			})
		if err != nil {
			return out, err
		}
		out = append(out, withRatio(res, firstScale, "login"))
	}
	return out, nil
}

// withRatio appends to res's note its p99 relative to the first scale's.
func withRatio(res Result, first map[string]float64, kind string) Result {
	if p, ok := first[kind]; !ok {
		first[kind] = res.P99
	} else if p > 0 {
		res.Note += fmt.Sprintf("; p99 %.2f× the smallest scale's", res.P99/p)
	}
	return res
}
