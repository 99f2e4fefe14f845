package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// testMaintenance covers the clean-up sweeps: each deletes only what is
// past its cut-off, at most limit rows per call, and dependent rows go
// with their parents.
func testMaintenance(t *testing.T, st store.Store) {
	ctx := context.Background()
	s, ok := st.(interface {
		store.Store
		store.Maintenance
	})
	if !ok {
		t.Fatalf("%T does not implement store.Maintenance", st)
	}
	cut := base.Add(10 * 24 * time.Hour)

	// Flows: three expired, one not.
	for i := range 3 {
		f := flow()
		f.ExpiresAt = cut.Add(-time.Duration(i+1) * time.Minute)
		wantErr(t, "CreateFlow", s.CreateFlow(ctx, f), nil)
	}
	live := flow()
	live.ExpiresAt = cut.Add(time.Minute)
	wantErr(t, "CreateFlow", s.CreateFlow(ctx, live), nil)
	sweep(t, "flows", 3, func(limit int) (int, error) { return s.DeleteFlowsExpiredBefore(ctx, cut, limit) })
	if _, err := s.GetFlow(ctx, live.ID); err != nil {
		t.Fatalf("unexpired flow deleted: %v", err)
	}

	// Sessions: three expired (one still marked active), one not.
	i := identity(email())
	mustCreate(t, s, i)
	var keep *core.Session
	for n := range 4 {
		ss := session(i.ID, base)
		ss.ExpiresAt = cut.Add(time.Duration(n-3) * time.Hour) // -3h, -2h, -1h, now
		ss.Active = n%2 == 0
		wantErr(t, "CreateSession", s.CreateSession(ctx, ss), nil)
		keep = ss
	}
	sweep(t, "sessions", 3, func(limit int) (int, error) { return s.DeleteSessionsExpiredBefore(ctx, cut, limit) })
	if _, err := s.GetSession(ctx, keep.ID); err != nil {
		t.Fatalf("unexpired session deleted: %v", err)
	}

	// Courier messages: sent and abandoned before the cut-off go (with
	// their dispatches); queued ones and recent sent ones stay.
	var old []string
	for _, st := range []core.MessageStatus{core.MessageSent, core.MessageAbandoned, core.MessageSent} {
		m := message("a@example.com", base)
		m.Status = st
		wantErr(t, "CreateMessage", s.CreateMessage(ctx, m), nil)
		wantErr(t, "AddDispatch", s.AddDispatch(ctx, &core.Dispatch{ID: newID(), MessageID: m.ID, Status: "failed", Error: "x", CreatedAt: base}), nil)
		old = append(old, m.ID)
	}
	queued := message("b@example.com", base)
	wantErr(t, "CreateMessage", s.CreateMessage(ctx, queued), nil)
	recent := message("c@example.com", cut.Add(time.Hour))
	recent.Status = core.MessageSent
	wantErr(t, "CreateMessage", s.CreateMessage(ctx, recent), nil)
	depth, err := s.QueueDepth(ctx)
	wantErr(t, "QueueDepth", err, nil)
	if depth.Messages != 1 {
		t.Fatalf("QueueDepth().Messages = %d, want 1", depth.Messages)
	}
	sweep(t, "messages", 3, func(limit int) (int, error) { return s.DeleteMessagesFinishedBefore(ctx, cut, limit) })
	for _, id := range old {
		_, err := s.GetMessage(ctx, id)
		wantErr(t, "GetMessage of a swept message", err, store.ErrNotFound)
	}
	for _, id := range []string{queued.ID, recent.ID} {
		if _, err := s.GetMessage(ctx, id); err != nil {
			t.Fatalf("message %s deleted: %v", id, err)
		}
	}

	// Web-hook deliveries.
	for _, st := range []store.DeliveryStatus{store.DeliverySent, store.DeliveryAbandoned, store.DeliverySent} {
		d := delivery("", "user.create", base)
		d.Status = st
		wantErr(t, "CreateWebhookDelivery", s.CreateWebhookDelivery(ctx, d), nil)
	}
	waiting := delivery("", "user.update", base)
	wantErr(t, "CreateWebhookDelivery", s.CreateWebhookDelivery(ctx, waiting), nil)
	depth, err = s.QueueDepth(ctx)
	wantErr(t, "QueueDepth", err, nil)
	if depth.Deliveries != 1 {
		t.Fatalf("QueueDepth().Deliveries = %d, want 1", depth.Deliveries)
	}
	sweep(t, "deliveries", 3, func(limit int) (int, error) { return s.DeleteDeliveriesFinishedBefore(ctx, cut, limit) })
	left, err := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryQuery{})
	wantErr(t, "ListWebhookDeliveries", err, nil)
	if len(left) != 1 || left[0].ID != waiting.ID {
		t.Fatalf("deliveries left = %v, want only the queued one", left)
	}

	// Audit logs.
	for range 3 {
		wantErr(t, "CreateAuditLog", s.CreateAuditLog(ctx, auditLog("user_created", "", "", "192.0.2.1", base)), nil)
	}
	wantErr(t, "CreateAuditLog", s.CreateAuditLog(ctx, auditLog("user_created", "", "", "192.0.2.1", cut.Add(time.Second))), nil)
	sweep(t, "audit logs", 3, func(limit int) (int, error) { return s.DeleteAuditLogsCreatedBefore(ctx, cut, limit) })
	if n, err := s.CountAuditLogs(ctx, store.AuditLogQuery{}); err != nil || n != 1 {
		t.Fatalf("CountAuditLogs after the sweep = %d, %v; want 1", n, err)
	}

	// Trusted devices: three expired (of two identities), one not. The
	// cap of CreateTrustedDevice is high enough to keep them all, and each
	// is created before every expiry so none is removed on creation.
	other := identity(email())
	mustCreate(t, s, other)
	var liveDev *store.TrustedDevice
	for n := range 4 {
		owner := i.ID
		if n == 1 {
			owner = other.ID
		}
		d := &store.TrustedDevice{ID: newID(), IdentityID: owner, TokenHash: []byte("hash-" + newID()),
			ExpiresAt: cut.Add(time.Duration(n-3) * time.Hour), CreatedAt: base} // -3h, -2h, -1h, now
		wantErr(t, "CreateTrustedDevice", s.CreateTrustedDevice(ctx, d, 10), nil)
		liveDev = d
	}
	sweep(t, "trusted devices", 3, func(limit int) (int, error) { return s.DeleteTrustedDevicesExpiredBefore(ctx, cut, limit) })
	if _, err := s.GetTrustedDevice(ctx, liveDev.ID); err != nil {
		t.Fatalf("unexpired trusted device deleted: %v", err)
	}
	if _, err := s.DeleteTrustedDevicesExpiredBefore(ctx, cut, 0); err == nil {
		t.Fatal("DeleteTrustedDevicesExpiredBefore with limit 0: no error")
	}

	if _, err := s.DeleteFlowsExpiredBefore(ctx, cut, 0); err == nil {
		t.Fatal("DeleteFlowsExpiredBefore with limit 0: no error")
	}
}

// sweep deletes in batches of two and checks the batches: 2, then the
// rest, then none.
func sweep(t *testing.T, what string, want int, del func(limit int) (int, error)) {
	t.Helper()
	total := 0
	for round := 0; ; round++ {
		n, err := del(2)
		if err != nil {
			t.Fatalf("delete %s: %v", what, err)
		}
		if n > 2 {
			t.Fatalf("delete %s: one batch of limit 2 deleted %d", what, n)
		}
		total += n
		if n < 2 || round > want {
			break
		}
	}
	if total != want {
		t.Fatalf("delete %s: %d deleted, want %d", what, total, want)
	}
}
