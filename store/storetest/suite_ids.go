package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/store"
)

// badIDs are ids a client may send that are not ids at all: non-ASCII,
// invalid UTF-8, NUL bytes, SQL, over-long, almost-UUIDs. Every backend must
// treat them as ids that no row has — never as a query error (MariaDB once
// failed comparing them with its ascii_bin id columns).
var badIDs = []string{
	"é",
	"\xff\xfe\xfd",
	"a\x00b",
	"' OR '1'='1",
	"",
	strings.Repeat("0", 300),
	"0000000-0000-0000-0000-00000000000é",
	"00000000-0000-0000-0000-00000000000\xff",
	"00000000_0000_0000_0000_000000000000",
	"😀😀😀😀😀😀😀😀-😀😀😀😀-😀😀😀😀-😀😀😀😀-😀😀😀😀😀😀😀😀😀😀😀😀",
}

// testMalformedIDs checks every lookup, change and filter by id with badIDs.
func testMalformedIDs(t *testing.T, s store.Store) {
	ctx := context.Background()
	i := identity(email())
	mustCreate(t, s, i)
	sess := session(i.ID, base)
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	for _, id := range badIDs {
		notFound := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s(%q) = %v, want ErrNotFound", what, id, err)
			}
		}
		none := func(what string, n int, err error) {
			t.Helper()
			if err != nil || n != 0 {
				t.Errorf("%s(%q) = %d, %v, want 0, nil", what, id, n, err)
			}
		}
		_, err := s.GetIdentity(ctx, id)
		notFound("GetIdentity", err)
		notFound("DeleteIdentity", s.DeleteIdentity(ctx, id))
		if id == "" {
			continue // the empty id means "no filter" in queries; the lookups above refused it
		}
		bad := *i
		bad.ID = id
		notFound("UpdateIdentity", s.UpdateIdentity(ctx, &bad))
		list, err := s.ListIdentities(ctx, store.IdentityQuery{IDs: []string{id}})
		none("ListIdentities IDs", len(list), err)
		n, err := s.CountIdentities(ctx, store.IdentityQuery{IDs: []string{id}})
		none("CountIdentities IDs", n, err)
		list, err = s.ListIdentities(ctx, store.IdentityQuery{OrganizationID: id})
		none("ListIdentities OrganizationID", len(list), err)

		_, err = s.GetSession(ctx, id)
		notFound("GetSession", err)
		notFound("DeleteSession", s.DeleteSession(ctx, id))
		bs := *sess
		bs.ID = id
		notFound("UpdateSession", s.UpdateSession(ctx, &bs))
		n, err = s.RevokeSessions(ctx, id, id)
		none("RevokeSessions", n, err)
		n, err = s.DeleteIdentitySessions(ctx, id)
		none("DeleteIdentitySessions", n, err)
		ss, err := s.ListSessions(ctx, store.SessionQuery{IdentityID: id})
		none("ListSessions IdentityID", len(ss), err)
		n, err = s.CountSessions(ctx, store.SessionQuery{IdentityID: id})
		none("CountSessions IdentityID", n, err)

		_, err = s.GetFlow(ctx, id)
		notFound("GetFlow", err)
		notFound("DeleteFlow", s.DeleteFlow(ctx, id))
		f := flow()
		f.ID = id
		f.Version = 1
		if err := s.UpdateFlow(ctx, f); !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
			t.Errorf("UpdateFlow(%q) = %v, want ErrNotFound", id, err)
		}

		_, err = s.GetMessage(ctx, id)
		notFound("GetMessage", err)
		m := message("x@example.com", base)
		m.ID = id
		notFound("UpdateMessage", s.UpdateMessage(ctx, m))

		_, err = s.GetWebhook(ctx, id)
		notFound("GetWebhook", err)
		notFound("DeleteWebhook", s.DeleteWebhook(ctx, id))
		w := webhook("https://hook.example.com/", "user")
		w.ID = id
		notFound("UpdateWebhook", s.UpdateWebhook(ctx, w))
		ds, err := s.ListWebhookDeliveries(ctx, store.WebhookDeliveryQuery{WebhookID: id})
		none("ListWebhookDeliveries WebhookID", len(ds), err)
		als, err := s.ListAuditLogs(ctx, store.AuditLogQuery{ActorUserID: id})
		none("ListAuditLogs ActorUserID", len(als), err)
	}
	// The real rows are untouched.
	if _, err := s.GetIdentity(ctx, i.ID); err != nil {
		t.Fatalf("GetIdentity after the malformed ids: %v", err)
	}
	if got, err := s.GetSession(ctx, sess.ID); err != nil || !got.Active {
		t.Fatalf("GetSession after the malformed ids: %+v, %v", got, err)
	}
}
