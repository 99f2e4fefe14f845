package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/store"
)

// The Hanko face's records: audit logs, webhooks and the delivery queue.

func auditLog(typ, actor, email, ip string, created time.Time) *store.AuditLog {
	return &store.AuditLog{ID: newID(), Type: typ, RequestID: "req-" + newID()[:8], SourceIP: ip,
		UserAgent: "test/1.0", ActorUserID: actor, ActorEmail: email, CreatedAt: created, UpdatedAt: created}
}

func auditIDs(list []store.AuditLog) []string {
	var ids []string
	for _, l := range list {
		ids = append(ids, l.ID)
	}
	return ids
}

func testAuditLogs(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice, bob := newID(), newID()
	a1 := auditLog("password_login_succeeded", alice, "alice@example.com", "10.0.0.1", base)
	a2 := auditLog("password_login_failed", alice, "Alice@Example.com", "10.0.0.2", base.Add(time.Minute))
	a2.Error = "invalid credentials"
	b1 := auditLog("user_created", bob, "bob@example.org", "192.168.1.7", base.Add(2*time.Minute))
	anon := auditLog("password_login_failed", "", "", "10.0.0.1", base.Add(3*time.Minute))
	// Same created_at as anon: the id breaks the tie.
	tie := auditLog("user_logged_out", bob, "", "10.0.0.9", base.Add(3*time.Minute))
	for _, l := range []*store.AuditLog{a1, a2, b1, anon, tie} {
		wantErr(t, "CreateAuditLog", s.CreateAuditLog(ctx, l), nil)
	}
	wantErr(t, "CreateAuditLog duplicate", s.CreateAuditLog(ctx, a1), store.ErrConflict)
	if err := s.CreateAuditLog(ctx, &store.AuditLog{}); err == nil {
		t.Fatal("CreateAuditLog without id: no error")
	}

	newestFirst := func(ls ...*store.AuditLog) []string {
		c := slices.Clone(ls)
		slices.SortFunc(c, func(x, y *store.AuditLog) int {
			if n := y.CreatedAt.Compare(x.CreatedAt); n != 0 {
				return n
			}
			switch {
			case x.ID > y.ID:
				return -1
			case x.ID < y.ID:
				return 1
			}
			return 0
		})
		var ids []string
		for _, l := range c {
			ids = append(ids, l.ID)
		}
		return ids
	}
	all := newestFirst(a1, a2, b1, anon, tie)
	for _, tc := range []struct {
		name string
		q    store.AuditLogQuery
		want []string
	}{
		{"all", store.AuditLogQuery{}, all},
		{"one type", store.AuditLogQuery{Types: []string{"user_created"}}, []string{b1.ID}},
		{"two types", store.AuditLogQuery{Types: []string{"password_login_failed", "user_logged_out"}}, newestFirst(a2, anon, tie)},
		{"actor user", store.AuditLogQuery{ActorUserID: alice}, newestFirst(a1, a2)},
		{"actor email exact", store.AuditLogQuery{ActorEmail: "alice@example.com"}, []string{a1.ID}},
		{"source ip", store.AuditLogQuery{SourceIP: "10.0.0.1"}, newestFirst(a1, anon)},
		{"search email any case", store.AuditLogQuery{Search: "EXAMPLE.COM"}, newestFirst(a1, a2)},
		{"search ip", store.AuditLogQuery{Search: "192.168"}, []string{b1.ID}},
		{"search user id", store.AuditLogQuery{Search: bob[:13]}, newestFirst(b1, tie)},
		{"search wildcard is literal", store.AuditLogQuery{Search: "%"}, nil},
		{"search underscore is literal", store.AuditLogQuery{Search: "_"}, nil},
		{"from", store.AuditLogQuery{From: base.Add(2 * time.Minute)}, newestFirst(b1, anon, tie)},
		{"to", store.AuditLogQuery{To: base.Add(time.Minute)}, newestFirst(a1, a2)},
		{"from to", store.AuditLogQuery{From: base.Add(time.Minute), To: base.Add(2 * time.Minute)}, newestFirst(a2, b1)},
		{"combined", store.AuditLogQuery{ActorUserID: alice, Types: []string{"password_login_failed"}}, []string{a2.ID}},
		{"limit", store.AuditLogQuery{Limit: 2}, all[:2]},
		{"offset", store.AuditLogQuery{Offset: 3}, all[3:]},
		{"limit offset", store.AuditLogQuery{Limit: 2, Offset: 2}, all[2:4]},
		{"nothing", store.AuditLogQuery{ActorUserID: newID()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListAuditLogs(ctx, tc.q)
			wantErr(t, "ListAuditLogs", err, nil)
			if got := auditIDs(list); !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v\nwant %v", got, tc.want)
			}
			q := tc.q
			q.Limit, q.Offset = 0, 0
			n, err := s.CountAuditLogs(ctx, q)
			wantErr(t, "CountAuditLogs", err, nil)
			full, _ := s.ListAuditLogs(ctx, q)
			if n != len(full) {
				t.Fatalf("CountAuditLogs = %d, want %d", n, len(full))
			}
		})
	}

	list, err := s.ListAuditLogs(ctx, store.AuditLogQuery{Types: []string{"password_login_failed"}, ActorUserID: alice})
	wantErr(t, "ListAuditLogs", err, nil)
	want := *a2
	want.CreatedAt, want.UpdatedAt = utc(want.CreatedAt), utc(want.UpdatedAt)
	if len(list) != 1 || list[0] != want {
		t.Fatalf("entry = %+v\nwant %+v", list, want)
	}

	n, err := s.DeleteAuditLogsBefore(ctx, base.Add(2*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("DeleteAuditLogsBefore = %d, %v; want 2", n, err)
	}
	left, err := s.CountAuditLogs(ctx, store.AuditLogQuery{})
	if err != nil || left != 3 {
		t.Fatalf("CountAuditLogs after delete = %d, %v; want 3", left, err)
	}
}

func webhook(callback string, events ...string) *store.Webhook {
	return &store.Webhook{ID: newID(), Callback: callback, Events: events, Enabled: true,
		CreatedAt: base, UpdatedAt: base}
}

func normWebhook(w store.Webhook) store.Webhook {
	w.CreatedAt, w.UpdatedAt = utc(w.CreatedAt), utc(w.UpdatedAt)
	if !w.ExpiresAt.IsZero() {
		w.ExpiresAt = utc(w.ExpiresAt)
	}
	if w.Events == nil {
		w.Events = []string{}
	}
	return w
}

func sameWebhook(t *testing.T, what string, got *store.Webhook, want store.Webhook) {
	t.Helper()
	g, _ := json.Marshal(normWebhook(*got))
	e, _ := json.Marshal(normWebhook(want))
	if string(g) != string(e) {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, e)
	}
}

func testWebhooks(t *testing.T, s store.Store) {
	ctx := context.Background()
	w1 := webhook("https://hooks.example.com/a", "user", "email.send")
	w1.ExpiresAt = base.Add(30 * 24 * time.Hour)
	w2 := webhook("https://hooks.example.com/b", "user.login")
	w2.CreatedAt = base.Add(time.Second)
	w3 := webhook("https://hooks.example.com/c")
	w3.CreatedAt, w3.Enabled = base.Add(2*time.Second), false
	for _, w := range []*store.Webhook{w2, w1, w3} {
		wantErr(t, "CreateWebhook", s.CreateWebhook(ctx, w), nil)
	}
	wantErr(t, "CreateWebhook duplicate", s.CreateWebhook(ctx, w1), store.ErrConflict)

	got, err := s.GetWebhook(ctx, w1.ID)
	wantErr(t, "GetWebhook", err, nil)
	sameWebhook(t, "GetWebhook", got, *w1)
	_, err = s.GetWebhook(ctx, newID())
	wantErr(t, "GetWebhook missing", err, store.ErrNotFound)

	list, err := s.ListWebhooks(ctx)
	wantErr(t, "ListWebhooks", err, nil)
	if len(list) != 3 || list[0].ID != w1.ID || list[1].ID != w2.ID || list[2].ID != w3.ID {
		t.Fatalf("ListWebhooks order = %v", list)
	}
	sameWebhook(t, "ListWebhooks disabled", &list[2], *w3)

	u := *w1
	u.Callback, u.Events, u.Enabled, u.Failures = "https://hooks.example.com/a2", []string{"user.create"}, false, 4
	u.ExpiresAt, u.UpdatedAt = time.Time{}, base.Add(time.Hour)
	wantErr(t, "UpdateWebhook", s.UpdateWebhook(ctx, &u), nil)
	got, err = s.GetWebhook(ctx, w1.ID)
	wantErr(t, "GetWebhook after update", err, nil)
	sameWebhook(t, "GetWebhook after update", got, u)
	// Storing the same values again is not "not found" (MySQL counts
	// changed rows unless told otherwise).
	wantErr(t, "UpdateWebhook unchanged", s.UpdateWebhook(ctx, &u), nil)
	missing := webhook("https://x.example.com")
	wantErr(t, "UpdateWebhook missing", s.UpdateWebhook(ctx, missing), store.ErrNotFound)

	// Inside Update, a read-modify-write of failures.
	err = s.Update(ctx, func(tx store.Tx) error {
		w, err := tx.GetWebhook(ctx, w2.ID)
		if err != nil {
			return err
		}
		w.Failures++
		return tx.UpdateWebhook(ctx, w)
	})
	wantErr(t, "Update failures", err, nil)
	if got, _ := s.GetWebhook(ctx, w2.ID); got.Failures != 1 {
		t.Fatalf("failures after Update = %d, want 1", got.Failures)
	}

	// Deleting a webhook deletes its deliveries, and only its.
	d1 := delivery(w2.ID, "user.login", base)
	d2 := delivery("", "user.login", base)
	for _, d := range []*store.WebhookDelivery{d1, d2} {
		wantErr(t, "CreateWebhookDelivery", s.CreateWebhookDelivery(ctx, d), nil)
	}
	wantErr(t, "DeleteWebhook", s.DeleteWebhook(ctx, w2.ID), nil)
	wantErr(t, "DeleteWebhook again", s.DeleteWebhook(ctx, w2.ID), store.ErrNotFound)
	_, err = s.GetWebhook(ctx, w2.ID)
	wantErr(t, "GetWebhook deleted", err, store.ErrNotFound)
	ds, err := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryQuery{})
	wantErr(t, "ListWebhookDeliveries", err, nil)
	if len(ds) != 1 || ds[0].ID != d2.ID {
		t.Fatalf("deliveries after DeleteWebhook = %v, want only %s", ds, d2.ID)
	}
}

func delivery(webhookID, event string, created time.Time) *store.WebhookDelivery {
	return &store.WebhookDelivery{ID: newID(), WebhookID: webhookID, Callback: "https://hooks.example.com/x",
		Event: event, Data: json.RawMessage(`{"user_id":"u1"}`), NextAttempt: created,
		CreatedAt: created, UpdatedAt: created}
}

func testWebhookDeliveries(t *testing.T, s store.Store) {
	ctx := context.Background()
	w := webhook("https://hooks.example.com/d", "user")
	wantErr(t, "CreateWebhook", s.CreateWebhook(ctx, w), nil)
	wantErr(t, "CreateWebhookDelivery unknown webhook",
		s.CreateWebhookDelivery(ctx, delivery(newID(), "user.create", base)), store.ErrNotFound)
	if err := s.CreateWebhookDelivery(ctx, &store.WebhookDelivery{}); err == nil {
		t.Fatal("CreateWebhookDelivery without id: no error")
	}

	d := delivery(w.ID, "user.create", base)
	d.Status = ""
	wantErr(t, "CreateWebhookDelivery", s.CreateWebhookDelivery(ctx, d), nil)
	if d.Status != store.DeliveryQueued {
		t.Fatalf("status = %q, want queued", d.Status)
	}
	wantErr(t, "CreateWebhookDelivery duplicate", s.CreateWebhookDelivery(ctx, d), store.ErrConflict)
	cfg := delivery("", "email.send", base.Add(time.Second))
	cfg.Data = nil
	wantErr(t, "CreateWebhookDelivery config hook", s.CreateWebhookDelivery(ctx, cfg), nil)

	list, err := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryQuery{})
	wantErr(t, "ListWebhookDeliveries", err, nil)
	if len(list) != 2 || list[0].ID != d.ID || list[1].ID != cfg.ID {
		t.Fatalf("ListWebhookDeliveries = %v", list)
	}
	g := list[0]
	if g.WebhookID != w.ID || g.Event != "user.create" || string(g.Data) != `{"user_id":"u1"}` ||
		g.Status != store.DeliveryQueued || !g.NextAttempt.Equal(utc(base)) || !g.CreatedAt.Equal(utc(base)) {
		t.Fatalf("delivery = %+v", g)
	}
	if list[1].WebhookID != "" || list[1].Data != nil {
		t.Fatalf("config delivery = %+v, want no webhook id and no data", list[1])
	}

	g.Status, g.Attempts, g.LastError = store.DeliveryQueued, 2, "status 500"
	g.NextAttempt, g.UpdatedAt = base.Add(time.Minute), base.Add(time.Second)
	wantErr(t, "UpdateWebhookDelivery", s.UpdateWebhookDelivery(ctx, &g), nil)
	wantErr(t, "UpdateWebhookDelivery unchanged", s.UpdateWebhookDelivery(ctx, &g), nil)
	wantErr(t, "UpdateWebhookDelivery missing", s.UpdateWebhookDelivery(ctx, delivery("", "user", base)), store.ErrNotFound)

	for _, tc := range []struct {
		name string
		q    store.WebhookDeliveryQuery
		want []string
	}{
		{"webhook", store.WebhookDeliveryQuery{WebhookID: w.ID}, []string{d.ID}},
		{"event", store.WebhookDeliveryQuery{Event: "email.send"}, []string{cfg.ID}},
		{"status", store.WebhookDeliveryQuery{Status: store.DeliveryQueued}, []string{d.ID, cfg.ID}},
		{"sent", store.WebhookDeliveryQuery{Status: store.DeliverySent}, nil},
		{"limit", store.WebhookDeliveryQuery{Limit: 1}, []string{d.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListWebhookDeliveries(ctx, tc.q)
			wantErr(t, "ListWebhookDeliveries", err, nil)
			var got []string
			for _, d := range list {
				got = append(got, d.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}
	got, _ := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryQuery{WebhookID: w.ID})
	if got[0].Attempts != 2 || got[0].LastError != "status 500" || !got[0].NextAttempt.Equal(utc(base.Add(time.Minute))) {
		t.Fatalf("after update = %+v", got[0])
	}

	// Claiming, as for courier messages.
	now := base.Add(time.Hour)
	lease := 5 * time.Minute
	later := delivery("", "user", base)
	later.NextAttempt = now.Add(time.Second)
	sent := delivery("", "user", base)
	sent.Status = store.DeliverySent
	abandoned := delivery("", "user", base)
	abandoned.Status = store.DeliveryAbandoned
	stuck := delivery("", "user", base)
	stuck.Status, stuck.UpdatedAt = store.DeliveryProcessing, now.Add(-lease)
	stuck.TraceParent = traceParent
	busy := delivery("", "user", base)
	busy.Status, busy.UpdatedAt = store.DeliveryProcessing, now.Add(-lease+time.Second)
	for _, x := range []*store.WebhookDelivery{later, sent, abandoned, stuck, busy} {
		wantErr(t, "CreateWebhookDelivery", s.CreateWebhookDelivery(ctx, x), nil)
	}
	claimed, err := s.ClaimWebhookDeliveries(ctx, now, lease, 10)
	wantErr(t, "ClaimWebhookDeliveries", err, nil)
	var ids []string
	for _, c := range claimed {
		ids = append(ids, c.ID)
		if c.Status != store.DeliveryProcessing || !c.UpdatedAt.Equal(utc(now)) {
			t.Fatalf("claimed %s: status %s, updated %v", c.ID, c.Status, c.UpdatedAt)
		}
		if want := map[bool]string{true: traceParent}[c.ID == stuck.ID]; c.TraceParent != want {
			t.Fatalf("claimed %s: trace parent %q, want %q", c.ID, c.TraceParent, want)
		}
	}
	want := []string{d.ID, cfg.ID, stuck.ID}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("claimed %v, want %v", ids, want)
	}
	if again, err := s.ClaimWebhookDeliveries(ctx, now, lease, 10); err != nil || len(again) != 0 {
		t.Fatalf("second claim = %d, %v; want none", len(again), err)
	}
	if one, err := s.ClaimWebhookDeliveries(ctx, now.Add(lease), lease, 1); err != nil || len(one) != 1 {
		t.Fatalf("claim after the lease = %d, %v; want 1 (limit)", len(one), err)
	}
	if none, err := s.ClaimWebhookDeliveries(ctx, now, lease, 0); err != nil || none != nil {
		t.Fatalf("claim with limit 0 = %v, %v", none, err)
	}

	// Cleaning up removes only finished deliveries last updated before t.
	oldSent := delivery("", "user", base)
	oldSent.Status, oldSent.UpdatedAt = store.DeliverySent, base.Add(-time.Hour)
	wantErr(t, "CreateWebhookDelivery", s.CreateWebhookDelivery(ctx, oldSent), nil)
	n, err := s.DeleteWebhookDeliveriesBefore(ctx, base.Add(time.Minute))
	if err != nil || n != 3 { // oldSent, sent, abandoned
		t.Fatalf("DeleteWebhookDeliveriesBefore = %d, %v; want 3", n, err)
	}
	rest, _ := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryQuery{})
	for _, r := range rest {
		if r.Status == store.DeliverySent || r.Status == store.DeliveryAbandoned {
			t.Fatalf("finished delivery %s left", r.ID)
		}
	}
	if len(rest) != 5 {
		t.Fatalf("%d deliveries left, want 5", len(rest))
	}
}

// testAuditLogInTx checks that an entry written through a transaction
// commits and rolls back with it.
func testAuditLogInTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	kept := auditLog("user_created", newID(), "", "", base)
	dropped := auditLog("user_created", newID(), "", "", base)
	wantErr(t, "Update", s.Update(ctx, func(tx store.Tx) error { return tx.CreateAuditLog(ctx, kept) }), nil)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateAuditLog(ctx, dropped); err != nil {
			return err
		}
		if err := tx.CreateWebhookDelivery(ctx, delivery("", "user.create", base)); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Update rolled back", err, boom)
	list, _ := s.ListAuditLogs(ctx, store.AuditLogQuery{})
	if got := auditIDs(list); !slices.Equal(got, []string{kept.ID}) {
		t.Fatalf("audit logs = %v, want only %s", got, kept.ID)
	}
	if ds, _ := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryQuery{}); len(ds) != 0 {
		t.Fatalf("%d deliveries after rollback, want 0", len(ds))
	}
}

func testClaimDeliveriesRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const total, claimers = 150, 6
	for range total {
		wantErr(t, "CreateWebhookDelivery", s.CreateWebhookDelivery(ctx, delivery("", "user", base)), nil)
	}
	claimedOnce(t, "delivery", total, claimers, func() ([]string, error) {
		list, err := s.ClaimWebhookDeliveries(ctx, base.Add(time.Minute), time.Hour, 7)
		return idsOf(list, func(d store.WebhookDelivery) string { return d.ID }), err
	})
}
