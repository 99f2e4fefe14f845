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

// seedResult is the untimed result of seeding identities [from, to).
func (r *Runner) seedResult(name string, from, to int, el time.Duration) Result {
	via := "PATCH /admin/identities"
	if r.o.Seed != nil {
		via = "the direct seeder (identity service, no HTTP)"
	}
	r.logf("seeded %d identities in %s", to-from, el.Round(time.Millisecond))
	return Result{Scenario: name, Note: fmt.Sprintf("%d → %d identities through %s, %d per batch", from, to, via, r.o.BatchSize),
		Ops: int64(to - from), Seconds: el.Seconds(), OpsPerSec: float64(to-from) / el.Seconds(),
		Concurrency: r.o.Load.Concurrency, Load1: LoadAverage(), Items: 1}
}

// prefill seeds Options.Identities identities before the first scenario
// (the first scaleLogins with a bcrypt-hashed password), so that every
// scenario runs against an identity and identifier table of that size.
func (r *Runner) prefill(ctx context.Context) (Result, error) {
	if err := r.requireAdmin(); err != nil && r.o.Seed == nil {
		return Result{}, err
	}
	hash, err := r.benchHash()
	if err != nil {
		return Result{}, err
	}
	n := r.o.Identities
	t0 := time.Now()
	err = r.seed(ctx, 0, n, hash)
	if r.o.Progress != nil {
		fmt.Fprint(r.o.Progress, "\r\033[K")
	}
	if err != nil {
		return Result{}, fmt.Errorf("seed %d identities: %w", n, err)
	}
	r.mu.Lock()
	r.seeded = n
	r.mu.Unlock()
	return r.seedResult("identities/seed", 0, n, time.Since(t0)), nil
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
	r.mu.Lock()
	seeded := r.seeded
	r.mu.Unlock()
	var (
		out        []Result
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
			out = append(out, r.seedResult("lookup-at-scale/seed", seeded, n, time.Since(t0)))
			seeded = n
			r.mu.Lock()
			r.seeded = n
			r.mu.Unlock()
		}
		if n < seeded {
			out = append(out, Result{Scenario: "lookup-at-scale@" + humanCount(n), Skipped: fmt.Sprintf("the run already seeded %d identities (--identities)", seeded)})
			continue
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
