package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

func flow() *core.Flow {
	return &core.Flow{
		ID: newID(), Kind: core.FlowLogin, Face: "kratos", Type: "browser", State: "choose_method",
		Stash: json.RawMessage(`{"return_to":"/welcome"}`), CSRFToken: "csrf-" + newID(),
		ExpiresAt: base.Add(time.Hour), CreatedAt: base, UpdatedAt: base,
	}
}

func testFlows(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := flow()
	f.Version = 7 // ignored: a new flow is version 1
	wantErr(t, "CreateFlow", s.CreateFlow(ctx, f), nil)
	if f.Version != 1 {
		t.Fatalf("Version after create = %d, want 1", f.Version)
	}
	wantErr(t, "CreateFlow again", s.CreateFlow(ctx, f), store.ErrConflict)
	got, err := s.GetFlow(ctx, f.ID)
	wantErr(t, "GetFlow", err, nil)
	want := *f
	want.ExpiresAt, want.CreatedAt, want.UpdatedAt = utc(f.ExpiresAt), utc(f.CreatedAt), utc(f.UpdatedAt)
	if g, w := fmt.Sprint(*got), fmt.Sprint(want); g != w {
		t.Fatalf("flow:\n got %s\nwant %s", g, w)
	}

	stale := *f
	f.State = "second_factor"
	f.IdentityID = newID()
	f.Stash = json.RawMessage(`{"return_to":"/welcome","step":2}`)
	wantErr(t, "UpdateFlow", s.UpdateFlow(ctx, f), nil)
	if f.Version != 2 {
		t.Fatalf("Version after update = %d, want 2", f.Version)
	}
	wantErr(t, "UpdateFlow stale", s.UpdateFlow(ctx, &stale), store.ErrConflict)
	if stale.Version != 1 {
		t.Fatalf("stale Version changed to %d", stale.Version)
	}
	got, err = s.GetFlow(ctx, f.ID)
	wantErr(t, "GetFlow", err, nil)
	if got.Version != 2 || got.State != "second_factor" || got.IdentityID != f.IdentityID || string(got.Stash) != string(f.Stash) {
		t.Fatalf("flow after update: %+v", got)
	}
	missing := flow()
	missing.Version = 1
	wantErr(t, "UpdateFlow missing", s.UpdateFlow(ctx, missing), store.ErrNotFound)
	_, err = s.GetFlow(ctx, missing.ID)
	wantErr(t, "GetFlow missing", err, store.ErrNotFound)

	// Expiry: flows expiring strictly before the time go.
	old1, old2, edge := flow(), flow(), flow()
	old1.ExpiresAt, old2.ExpiresAt, edge.ExpiresAt = base.Add(-time.Hour), base.Add(-time.Second), base
	for _, x := range []*core.Flow{old1, old2, edge} {
		wantErr(t, "CreateFlow", s.CreateFlow(ctx, x), nil)
	}
	n, err := s.DeleteExpiredFlows(ctx, base)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredFlows = %d, %v; want 2", n, err)
	}
	for _, x := range []*core.Flow{edge, f} {
		if _, err := s.GetFlow(ctx, x.ID); err != nil {
			t.Fatalf("unexpired flow deleted: %v", err)
		}
	}
	wantErr(t, "DeleteFlow", s.DeleteFlow(ctx, f.ID), nil)
	wantErr(t, "DeleteFlow again", s.DeleteFlow(ctx, f.ID), store.ErrNotFound)
}

func testFlowRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := flow()
	wantErr(t, "CreateFlow", s.CreateFlow(ctx, f), nil)
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := *f
			g.State = fmt.Sprintf("state-%d", k)
			errs[k] = s.UpdateFlow(ctx, &g)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("UpdateFlow: %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent updates won, want exactly 1", won)
	}
	got, err := s.GetFlow(ctx, f.ID)
	if err != nil || got.Version != 2 {
		t.Fatalf("GetFlow: version %v, %v; want 2", got, err)
	}
}

func testUpdateRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	i := identity(email())
	f := flow()
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdentity(ctx, i); err != nil {
			return err
		}
		if err := tx.CreateFlow(ctx, f); err != nil {
			return err
		}
		if _, err := tx.GetIdentity(ctx, i.ID); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	_, err = s.GetIdentity(ctx, i.ID)
	wantErr(t, "identity after rollback", err, store.ErrNotFound)
	_, err = s.GetFlow(ctx, f.ID)
	wantErr(t, "flow after rollback", err, store.ErrNotFound)

	// A conflict inside the transaction rolls back what came before it.
	taken := identity(email())
	mustCreate(t, s, taken)
	m := message("a@example.com", base)
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateMessage(ctx, m); err != nil {
			return err
		}
		return tx.CreateIdentity(ctx, taken)
	})
	wantErr(t, "Update with conflict", err, store.ErrConflict)
	_, err = s.GetMessage(ctx, m.ID)
	wantErr(t, "message after rollback", err, store.ErrNotFound)

	// And a successful one commits everything.
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdentity(ctx, i); err != nil {
			return err
		}
		return tx.CreateSession(ctx, session(i.ID, base))
	})
	wantErr(t, "Update", err, nil)
	if n, err := s.CountSessions(ctx, store.SessionQuery{IdentityID: i.ID}); err != nil || n != 1 {
		t.Fatalf("CountSessions = %d, %v; want 1", n, err)
	}
}

func message(to string, created time.Time) *core.Message {
	return &core.Message{
		ID: newID(), Channel: core.ChannelEmail, Recipient: to, Subject: "Your code",
		Body: "Your code is 123456", HTMLBody: "<p>Your code is 123456</p>", TemplateType: "login_code_valid",
		TemplateData: json.RawMessage(`{"code":"123456"}`), NextAttempt: created,
		CreatedAt: created, UpdatedAt: created,
	}
}

func testMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	var all []*core.Message
	for k := range 5 {
		m := message(fmt.Sprintf("r%d@example.com", k%2), base.Add(time.Duration(k/2)*time.Second))
		wantErr(t, "CreateMessage", s.CreateMessage(ctx, m), nil)
		if m.Status != core.MessageQueued {
			t.Fatalf("status = %q, want queued", m.Status)
		}
		all = append(all, m)
	}
	wantErr(t, "CreateMessage again", s.CreateMessage(ctx, all[0]), store.ErrConflict)
	got, err := s.GetMessage(ctx, all[0].ID)
	wantErr(t, "GetMessage", err, nil)
	if got.Body != all[0].Body || got.Status != core.MessageQueued || !got.CreatedAt.Equal(utc(all[0].CreatedAt)) || got.Dispatches != nil {
		t.Fatalf("message: %+v", got)
	}
	_, err = s.GetMessage(ctx, newID())
	wantErr(t, "GetMessage missing", err, store.ErrNotFound)

	for k, st := range []string{"failed", "success"} {
		d := &core.Dispatch{ID: newID(), MessageID: all[0].ID, Status: st, CreatedAt: base.Add(time.Duration(k) * time.Second)}
		if st == "failed" {
			d.Error = "connection refused"
		}
		wantErr(t, "AddDispatch", s.AddDispatch(ctx, d), nil)
	}
	wantErr(t, "AddDispatch to missing message",
		s.AddDispatch(ctx, &core.Dispatch{ID: newID(), MessageID: newID(), Status: "success"}), store.ErrNotFound)
	all[0].Status, all[0].SendCount, all[0].UpdatedAt = core.MessageSent, 2, base.Add(time.Minute)
	wantErr(t, "UpdateMessage", s.UpdateMessage(ctx, all[0]), nil)
	wantErr(t, "UpdateMessage missing", s.UpdateMessage(ctx, message("x", base)), store.ErrNotFound)
	got, err = s.GetMessage(ctx, all[0].ID)
	wantErr(t, "GetMessage", err, nil)
	if got.Status != core.MessageSent || got.SendCount != 2 || len(got.Dispatches) != 2 ||
		got.Dispatches[0].Status != "failed" || got.Dispatches[0].Error != "connection refused" {
		t.Fatalf("message after update: %+v", got)
	}

	ordered := slices.Clone(all)
	slices.SortFunc(ordered, func(a, b *core.Message) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		if a.ID > b.ID {
			return -1
		}
		return 1
	})
	var want []string
	for _, m := range ordered {
		want = append(want, m.ID)
	}
	tests := []struct {
		name string
		q    store.MessageQuery
		want func() []string
	}{
		{"all", store.MessageQuery{}, func() []string { return want }},
		{"limit", store.MessageQuery{Limit: 2}, func() []string { return want[:2] }},
		{"cursor", store.MessageQuery{BeforeCreatedAt: ordered[1].CreatedAt, BeforeID: ordered[1].ID, Limit: 2}, func() []string { return want[2:4] }},
		{"status", store.MessageQuery{Status: core.MessageSent}, func() []string { return []string{all[0].ID} }},
		{"recipient", store.MessageQuery{Recipient: "r1@example.com"}, func() []string {
			var out []string
			for _, m := range ordered {
				if m.Recipient == "r1@example.com" {
					out = append(out, m.ID)
				}
			}
			return out
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListMessages(ctx, tc.q)
			wantErr(t, "ListMessages", err, nil)
			var got []string
			for _, m := range list {
				got = append(got, m.ID)
			}
			if w := tc.want(); !slices.Equal(got, w) {
				t.Fatalf("ids = %v\nwant %v", got, w)
			}
		})
	}
}

// traceParent is a W3C traceparent a queued job keeps.
const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func testClaimMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := base.Add(time.Hour)
	lease := 5 * time.Minute
	due := message("due@example.com", base)
	due.TraceParent = traceParent // kept from the queueing request for the worker
	later := message("later@example.com", base)
	later.NextAttempt = now.Add(time.Second)
	sent := message("sent@example.com", base)
	sent.Status = core.MessageSent
	stuck := message("stuck@example.com", base) // a dead worker's claim
	stuck.Status, stuck.UpdatedAt = core.MessageProcessing, now.Add(-lease)
	busy := message("busy@example.com", base) // a live worker's claim
	busy.Status, busy.UpdatedAt = core.MessageProcessing, now.Add(-lease+time.Second)
	for _, m := range []*core.Message{due, later, sent, stuck, busy} {
		wantErr(t, "CreateMessage", s.CreateMessage(ctx, m), nil)
	}
	list, err := s.ClaimMessages(ctx, now, lease, 10)
	wantErr(t, "ClaimMessages", err, nil)
	var got []string
	for _, m := range list {
		got = append(got, m.ID)
		if m.Status != core.MessageProcessing || !m.UpdatedAt.Equal(utc(now)) {
			t.Fatalf("claimed message %s: status %s, updated %v", m.Recipient, m.Status, m.UpdatedAt)
		}
		if want := map[bool]string{true: traceParent}[m.ID == due.ID]; m.TraceParent != want {
			t.Fatalf("claimed message %s: trace parent %q, want %q", m.Recipient, m.TraceParent, want)
		}
	}
	want := []string{due.ID, stuck.ID}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claimed %v, want %v", got, want)
	}
	list, err = s.ClaimMessages(ctx, now, lease, 10)
	if err != nil || len(list) != 0 {
		t.Fatalf("second claim = %d messages, %v; want none", len(list), err)
	}
	list, err = s.ClaimMessages(ctx, now.Add(lease), lease, 1)
	if err != nil || len(list) != 1 {
		t.Fatalf("claim after the lease = %d messages, %v; want 1 (limit)", len(list), err)
	}
	if list, err := s.ClaimMessages(ctx, now, lease, 0); err != nil || list != nil {
		t.Fatalf("claim with limit 0 = %v, %v", list, err)
	}
}

func testClaimRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const total, claimers = 200, 8
	for range total {
		wantErr(t, "CreateMessage", s.CreateMessage(ctx, message("race@example.com", base)), nil)
	}
	claimedOnce(t, "message", total, claimers, func() ([]string, error) {
		list, err := s.ClaimMessages(ctx, base.Add(time.Minute), time.Hour, 7)
		return idsOf(list, func(m core.Message) string { return m.ID }), err
	})
}

// claimedOnce runs claimers goroutines calling claim until it returns
// nothing and fails t unless every one of total items was claimed exactly
// once (the SKIP LOCKED guarantee of the queues).
func claimedOnce(t *testing.T, what string, total, claimers int, claim func() ([]string, error)) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range claimers {
		wg.Go(func() {
			for {
				ids, err := claim()
				if err != nil {
					t.Errorf("claim %ss: %v", what, err)
					return
				}
				if len(ids) == 0 {
					return
				}
				mu.Lock()
				for _, id := range ids {
					seen[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("%d distinct %ss claimed, want %d", len(seen), what, total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s %s claimed %d times", what, id, n)
		}
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ids []string
	for k := range 3 {
		key := &core.SigningKey{
			ID: fmt.Sprintf("kid-%d-%s", k, newID()), Algorithm: "ES256",
			PrivateKeyEncrypted: append([]byte{0, 0xff}, token()...), PublicJWK: []byte(`{"kty":"EC"}`),
			CreatedAt: base.Add(time.Duration(k) * time.Hour),
		}
		wantErr(t, "CreateKey", s.CreateKey(ctx, key), nil)
		wantErr(t, "CreateKey again", s.CreateKey(ctx, key), store.ErrConflict)
		ids = append([]string{key.ID}, ids...)
	}
	list, err := s.ListKeys(ctx)
	wantErr(t, "ListKeys", err, nil)
	var got []string
	for _, k := range list {
		got = append(got, k.ID)
		if len(k.PrivateKeyEncrypted) != 34 || k.PrivateKeyEncrypted[1] != 0xff || string(k.PublicJWK) != `{"kty":"EC"}` {
			t.Fatalf("key %s content changed", k.ID)
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("ListKeys = %v, want newest first %v", got, ids)
	}
	wantErr(t, "DeleteKey", s.DeleteKey(ctx, ids[1]), nil)
	wantErr(t, "DeleteKey again", s.DeleteKey(ctx, ids[1]), store.ErrNotFound)
	if list, _ := s.ListKeys(ctx); len(list) != 2 {
		t.Fatalf("%d keys after delete, want 2", len(list))
	}
}

func testCounters(t *testing.T, s store.Store) {
	ctx := context.Background()
	const w = time.Minute
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		key       string
		at        time.Time
		wantCount int64
		wantReset time.Time
	}{
		{"first hit", "login:ip:192.0.2.1", start.Add(10 * time.Second), 1, start.Add(w)},
		{"same window", "login:ip:192.0.2.1", start.Add(59 * time.Second), 2, start.Add(w)},
		{"same window, other zone", "login:ip:192.0.2.1", start.Add(30 * time.Second).In(base.Location()), 3, start.Add(w)},
		{"other key", "login:id:zoë@example.com", start.Add(30 * time.Second), 1, start.Add(w)},
		{"window start belongs to the new window", "login:ip:192.0.2.1", start.Add(w), 1, start.Add(2 * w)},
		{"next window", "login:ip:192.0.2.1", start.Add(w + time.Second), 2, start.Add(2 * w)},
	}
	for _, tc := range tests {
		n, reset, err := s.Hit(ctx, tc.key, w, tc.at)
		wantErr(t, tc.name, err, nil)
		if n != tc.wantCount || !reset.Equal(tc.wantReset) || reset.Location() != time.UTC {
			t.Fatalf("%s: Hit = %d, %v; want %d, %v", tc.name, n, reset, tc.wantCount, tc.wantReset)
		}
	}
	n, err := s.DeleteExpiredCounters(ctx, start.Add(w+time.Second))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredCounters = %d, %v; want 2 (the two first windows)", n, err)
	}
	if n, _, _ := s.Hit(ctx, "login:ip:192.0.2.1", w, start.Add(w+2*time.Second)); n != 3 {
		t.Fatalf("unexpired window lost: count %d, want 3", n)
	}
	wantErr(t, "ResetCounter", s.ResetCounter(ctx, "login:ip:192.0.2.1"), nil)
	if n, _, _ := s.Hit(ctx, "login:ip:192.0.2.1", w, start.Add(w+3*time.Second)); n != 1 {
		t.Fatalf("count after reset = %d, want 1", n)
	}
	if _, _, err := s.Hit(ctx, "k", 0, start); err == nil {
		t.Fatal("Hit with a zero window: no error")
	}

	// CountHits reads without counting; Unhit takes one back, never below
	// zero, and only in the window it is given.
	const key = "attempt:identity:0b9f"
	at := start.Add(5 * w).Add(7 * time.Second)
	count := func(name string, when time.Time, want int64) {
		t.Helper()
		n, reset, err := s.CountHits(ctx, key, w, when)
		wantErr(t, name, err, nil)
		if n != want || !reset.Equal(start.Add(6*w)) {
			t.Fatalf("%s: CountHits = %d, %v; want %d, %v", name, n, reset, want, start.Add(6*w))
		}
	}
	count("count of an unknown key", at, 0)
	wantErr(t, "Unhit of an unknown key", s.Unhit(ctx, key, w, at), nil)
	count("Unhit created nothing", at, 0)
	for range 3 {
		if _, _, err := s.Hit(ctx, key, w, at); err != nil {
			t.Fatal(err)
		}
	}
	count("count after three hits", at.Add(time.Second), 3)
	count("count reads without counting", at.Add(2*time.Second), 3)
	wantErr(t, "Unhit", s.Unhit(ctx, key, w, at.Add(3*time.Second)), nil)
	count("count after Unhit", at.Add(4*time.Second), 2)
	wantErr(t, "Unhit in the next window", s.Unhit(ctx, key, w, at.Add(w)), nil)
	count("the earlier window is untouched by Unhit in the next", at.Add(5*time.Second), 2)
	for range 3 {
		wantErr(t, "Unhit down to zero", s.Unhit(ctx, key, w, at), nil)
	}
	count("Unhit stops at zero", at, 0)
	if n, _, _ := s.Hit(ctx, key, w, at); n != 1 {
		t.Fatalf("Hit after Unhit to zero = %d, want 1", n)
	}
	if _, _, err := s.CountHits(ctx, key, 0, at); err == nil {
		t.Fatal("CountHits with a zero window: no error")
	}
	if err := s.Unhit(ctx, key, 0, at); err == nil {
		t.Fatal("Unhit with a zero window: no error")
	}
	testCounterBatches(t, s, start.Add(10*time.Hour))
}

// testCounterBatches: HitAll counts each counter in the window of its own
// length and returns the counts in the order given; UnhitAll takes one back
// from each, never below zero, only in the current windows; RecentHits
// reads a counter's current and previous windows.
func testCounterBatches(t *testing.T, s store.Store, start time.Time) {
	ctx := context.Background()
	const w = time.Minute
	// Not in key order: the answer follows the order given.
	batch := []store.CounterWindow{{Key: "batch:c", Window: w}, {Key: "batch:a", Window: time.Hour}, {Key: "batch:b", Window: w}}
	at := start.Add(30 * time.Second)
	hitAll := func(name string, hits []store.CounterWindow, when time.Time, want ...int64) {
		t.Helper()
		got, err := s.HitAll(ctx, hits, when)
		wantErr(t, name, err, nil)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: HitAll = %v, want %v", name, got, want)
		}
	}
	count := func(name, key string, window time.Duration, when time.Time, want int64) {
		t.Helper()
		if n, _, err := s.CountHits(ctx, key, window, when); err != nil || n != want {
			t.Fatalf("%s: CountHits(%s) = %d, %v; want %d", name, key, n, err, want)
		}
	}
	hitAll("first HitAll", batch, at, 1, 1, 1)
	if n, _, _ := s.Hit(ctx, "batch:a", time.Hour, at); n != 2 {
		t.Fatalf("Hit after HitAll = %d, want 2", n)
	}
	hitAll("second HitAll", batch, at.Add(time.Second), 2, 3, 2)
	// A minute on, the minute counters are in a new window, the hour's is not.
	hitAll("HitAll in the next minute", batch, at.Add(w), 1, 4, 1)
	hitAll("HitAll of one", batch[2:], at.Add(w), 2)
	count("the earlier minute is kept", "batch:c", w, at, 2)
	if got, err := s.HitAll(ctx, nil, at); err != nil || len(got) != 0 {
		t.Fatalf("HitAll of none = %v, %v", got, err)
	}
	if _, err := s.HitAll(ctx, []store.CounterWindow{{Key: "batch:z", Window: 0}}, at); err == nil {
		t.Fatal("HitAll with a zero window: no error")
	}
	count("a failed HitAll counts nothing", "batch:z", time.Minute, at, 0)

	wantErr(t, "UnhitAll", s.UnhitAll(ctx, batch, at.Add(w)), nil)
	count("UnhitAll of c", "batch:c", w, at.Add(w), 0)
	count("UnhitAll of a", "batch:a", time.Hour, at.Add(w), 3)
	count("UnhitAll of b", "batch:b", w, at.Add(w), 1)
	count("UnhitAll leaves the earlier minute", "batch:c", w, at, 2)
	for range 4 {
		wantErr(t, "UnhitAll down to zero", s.UnhitAll(ctx, batch, at.Add(w)), nil)
	}
	count("UnhitAll stops at zero", "batch:a", time.Hour, at, 0)
	count("UnhitAll stops at zero", "batch:b", w, at.Add(w), 0)
	wantErr(t, "UnhitAll of none", s.UnhitAll(ctx, nil, at), nil)
	wantErr(t, "UnhitAll of unknown counters", s.UnhitAll(ctx, []store.CounterWindow{{Key: "batch:y", Window: w}}, at), nil)
	count("UnhitAll created nothing", "batch:y", w, at, 0)
	if err := s.UnhitAll(ctx, []store.CounterWindow{{Key: "batch:c", Window: 0}}, at); err == nil {
		t.Fatal("UnhitAll with a zero window: no error")
	}

	recent := func(name, key string, when time.Time, wantCur, wantPrev int64) {
		t.Helper()
		cur, prev, err := s.RecentHits(ctx, key, w, when)
		if err != nil || cur != wantCur || prev != wantPrev {
			t.Fatalf("%s: RecentHits(%s) = %d, %d, %v; want %d, %d", name, key, cur, prev, err, wantCur, wantPrev)
		}
	}
	recent("unknown counter", "batch:x", at, 0, 0)
	// batch:c holds 2 in the minute of at and 0 in the one after.
	recent("current window only", "batch:c", at, 2, 0)
	recent("previous window only", "batch:c", at.Add(w), 0, 2)
	recent("both windows too old", "batch:c", at.Add(2*w), 0, 0)
	if _, _, err := s.Hit(ctx, "batch:c", w, at.Add(w)); err != nil {
		t.Fatal(err)
	}
	recent("both windows", "batch:c", at.Add(w), 1, 2)
	if _, _, err := s.RecentHits(ctx, "batch:c", 0, at); err == nil {
		t.Fatal("RecentHits with a zero window: no error")
	}

	// HitAllSeeing is HitAll and RecentHits of another counter, on the
	// store and in a transaction.
	seen := store.CounterWindow{Key: "batch:c", Window: w}
	seeing := func(name string, c store.Counters, hits []store.CounterWindow, seen store.CounterWindow, when time.Time, wantCur, wantPrev int64, want ...int64) {
		t.Helper()
		got, cur, prev, err := c.HitAllSeeing(ctx, hits, seen, when)
		if err != nil || !slices.Equal(got, want) || cur != wantCur || prev != wantPrev {
			t.Fatalf("%s: HitAllSeeing = %v, %d, %d, %v; want %v, %d, %d", name, got, cur, prev, err, want, wantCur, wantPrev)
		}
	}
	pair := []store.CounterWindow{{Key: "batch:s2", Window: w}, {Key: "batch:s1", Window: w}}
	seeing("both windows seen", s, pair, seen, at.Add(w), 1, 2, 1, 1)
	seeing("previous window seen", s, pair[1:], seen, at.Add(2*w), 0, 1, 1)
	seeing("unknown counter seen", s, pair, store.CounterWindow{Key: "batch:x", Window: w}, at.Add(2*w), 0, 0, 1, 2)
	wantErr(t, "HitAllSeeing in a transaction", s.Update(ctx, func(tx store.Tx) error {
		seeing("in a transaction", tx, pair, seen, at.Add(w), 1, 2, 2, 2)
		return nil
	}), nil)
	count("HitAllSeeing counted", "batch:s1", w, at.Add(w), 2)
	count("HitAllSeeing did not count the counter seen", "batch:c", w, at.Add(w), 1)
	for _, bad := range []struct {
		name string
		hits []store.CounterWindow
		seen store.CounterWindow
	}{
		{"no counter to hit", nil, seen},
		{"the counter seen hit too", []store.CounterWindow{seen}, seen},
		{"a zero window seen", pair, store.CounterWindow{Key: "batch:c", Window: 0}},
		{"a zero window hit", []store.CounterWindow{{Key: "batch:z", Window: 0}}, seen},
	} {
		if _, _, _, err := s.HitAllSeeing(ctx, bad.hits, bad.seen, at); err == nil {
			t.Fatalf("HitAllSeeing with %s: no error", bad.name)
		}
	}
	count("a failed HitAllSeeing counts nothing", "batch:z", w, at, 0)
}

func testCounterRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 32
	counts := make([]int64, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := s.Hit(ctx, "race", time.Hour, base)
			if err != nil {
				t.Errorf("Hit: %v", err)
			}
			counts[k] = c
		}()
	}
	wg.Wait()
	slices.Sort(counts)
	for k, c := range counts {
		if c != int64(k+1) {
			t.Fatalf("counts = %v, want 1..%d each once", counts, n)
		}
	}

	// Batches sharing counters, given in opposite orders, neither lose a
	// count nor fail (rows are locked in one order).
	fwd := []store.CounterWindow{{Key: "race:a", Window: time.Hour}, {Key: "race:b", Window: time.Hour}, {Key: "race:c", Window: time.Minute}}
	rev := []store.CounterWindow{fwd[2], fwd[1], fwd[0]}
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hits := fwd
			if k%2 == 1 {
				hits = rev
			}
			if _, err := s.HitAll(ctx, hits, base); err != nil {
				t.Errorf("HitAll: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := s.HitAll(ctx, fwd, base)
	if err != nil || !slices.Equal(got, []int64{n + 1, n + 1, n + 1}) {
		t.Fatalf("HitAll after %d concurrent batches = %v, %v; want %d each", n, got, err, n+1)
	}
}

// testConcurrentWriters hammers the store with writers of every kind: none
// may fail (SQLite's "database is locked" is the failure this guards
// against).
func testConcurrentWriters(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 64
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := identity(email())
			if err := s.CreateIdentity(ctx, i); err != nil {
				t.Errorf("writer %d: CreateIdentity: %v", k, err)
				return
			}
			sess := session(i.ID, base)
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Errorf("writer %d: CreateSession: %v", k, err)
			}
			if _, err := s.GetSessionByTokenHash(ctx, sess.TokenHash); err != nil {
				t.Errorf("writer %d: GetSessionByTokenHash: %v", k, err)
			}
			if _, _, err := s.Hit(ctx, "writers", time.Hour, base); err != nil {
				t.Errorf("writer %d: Hit: %v", k, err)
			}
			err := s.Update(ctx, func(tx store.Tx) error {
				f := flow()
				if err := tx.CreateFlow(ctx, f); err != nil {
					return err
				}
				f.State = "done"
				return tx.UpdateFlow(ctx, f)
			})
			if err != nil {
				t.Errorf("writer %d: Update: %v", k, err)
			}
		}()
	}
	wg.Wait()
	if c, err := s.CountIdentities(ctx, store.IdentityQuery{}); err != nil || c != n {
		t.Fatalf("CountIdentities = %d, %v; want %d", c, err, n)
	}
}

// testClaimBesideOpenClaim: while one transaction holds its claim of 7 of
// 150 due messages, a second claim of 7 gets 7 others (on SQLite once the
// first transaction ends; on MySQL it may wait for it too, as the first
// runs in Update's REPEATABLE READ and locks a gap the second's UPDATE
// writes into). On MySQL the claim used to lock every row its scan read
// before the sort and LIMIT, all 150, and left the second claim none.
func testClaimBesideOpenClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	for range 150 {
		wantErr(t, "CreateMessage", s.CreateMessage(ctx, message("beside@example.com", base)), nil)
	}
	claimBeside(t, "message", s, func(ctx context.Context, q store.Tx, limit int) ([]string, error) {
		list, err := q.ClaimMessages(ctx, base.Add(time.Minute), time.Hour, limit)
		return idsOf(list, func(m core.Message) string { return m.ID }), err
	})
}

func testClaimDeliveriesBesideOpenClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	for range 150 {
		wantErr(t, "CreateWebhookDelivery", s.CreateWebhookDelivery(ctx, delivery("", "user", base)), nil)
	}
	claimBeside(t, "delivery", s, func(ctx context.Context, q store.Tx, limit int) ([]string, error) {
		list, err := q.ClaimWebhookDeliveries(ctx, base.Add(time.Minute), time.Hour, limit)
		return idsOf(list, func(d store.WebhookDelivery) string { return d.ID }), err
	})
}

// idsOf returns the id of each item of list, in order.
func idsOf[T any](list []T, id func(T) string) []string {
	ids := make([]string, len(list))
	for k, v := range list {
		ids[k] = id(v)
	}
	return ids
}

// claimBeside claims 7 due items in a transaction and, while
// it is open, 7 more from s, which must be 7 others.
func claimBeside(t *testing.T, what string, s store.Store, claim func(ctx context.Context, q store.Tx, limit int) ([]string, error)) {
	t.Helper()
	ctx := context.Background()
	type result struct {
		ids []string
		err error
	}
	done := make(chan result, 1)
	var held []string
	err := s.Update(ctx, func(tx store.Tx) error {
		var err error
		if held, err = claim(ctx, tx, 7); err != nil {
			return err
		}
		go func() {
			ids, err := claim(ctx, s, 7)
			done <- result{ids, err}
		}()
		select {
		case r := <-done:
			done <- r
		case <-time.After(2 * time.Second): // SQLite: one writer at a time
		}
		return nil
	})
	wantErr(t, "claim in a transaction", err, nil)
	r := <-done
	wantErr(t, "claim beside it", r.err, nil)
	if len(held) != 7 || len(r.ids) != 7 || slices.ContainsFunc(r.ids, func(id string) bool { return slices.Contains(held, id) }) {
		t.Fatalf("claimed %v while %v was held, want 7 other %ss", r.ids, held, what)
	}
}
