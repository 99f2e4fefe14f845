package hanko

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
)

// profileStashMax bounds the stored state (the flow's stash) of a profile
// flow whatever the user's data: the user and the session list are
// rendered from the store, not kept in the flow.
const profileStashMax = 4 << 10

// TestProfileFlowStoresNoDerivedData: profile_init's payload (the user and
// every active session) is read from the store when the answer is
// rendered, not stored in the flow or in its history. With 1,500 sessions
// the stash stays under profileStashMax on the state's entry, on its
// rendering again after a refused input, in the passcode state that keeps
// profile_init in its history, and on the step back; each of these
// answers carries the same user and session list, that of the store.
// Before, each step stored the list twice (the current payload and the
// history item's), about 300 KB.
func TestProfileFlowStoresNoDerivedData(t *testing.T) {
	t.Parallel()
	const n = 1500
	e := newFEnv(t, nil)
	u := e.createUser(t, "olga@example.com", "olga's password")
	login := e.client(t)
	current := checkSession(t, e, login, passwordLogin(t, login, "olga@example.com", "olga's password"), AMRPassword).SessionID
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	for k := range n {
		hash := make([]byte, 32)
		_, _ = rand.Read(hash)
		s := &core.Session{ID: uuid.NewString(), IdentityID: u.ID, TokenHash: hash, Active: true, AAL: core.AAL1,
			Methods:  []core.AuthMethod{{Method: "password", AAL: core.AAL1, CompletedAt: now}},
			Devices:  []core.Device{{ID: uuid.NewString(), IPAddress: "198.51.100.7", UserAgent: fmt.Sprintf("Mozilla/5.0 (X11; Linux x86_64) test/%d", k)}},
			IssuedAt: now, AuthenticatedAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now.Add(-time.Duration(k) * time.Second),
			UpdatedAt: now}
		if err := e.store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	cl := e.client(t)
	cl.bearer = login.bearer
	mustState(t, cl.start("profile"), statePreflight, 200)
	entry := cl.act("register_client_capabilities", capabilities)
	mustState(t, entry, stateProfileInit, 200)
	href, err := url.Parse(entry.Actions["session_delete"].Href)
	if err != nil {
		t.Fatal(err)
	}
	_, flowID, _ := strings.Cut(href.Query().Get("action"), "@")
	stash := func(step string) {
		t.Helper()
		f, err := e.store.GetFlow(ctx, flowID)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes stored", step, len(f.Stash))
		if len(f.Stash) > profileStashMax {
			t.Errorf("%s: the flow's stash is %d bytes (at most %d): %.300s…", step, len(f.Stash), profileStashMax, f.Stash)
		}
	}
	var sessions []SessionJSON
	if err := json.Unmarshal(entry.Payload["sessions"], &sessions); err != nil || len(sessions) != n+1 {
		t.Fatalf("%d sessions listed (%v), want %d", len(sessions), err, n+1)
	}
	for _, s := range sessions {
		if s.Current != (s.ID == current) {
			t.Errorf("session %s current = %v", s.ID, s.Current)
		}
	}
	if got := allowedValues(t, entry, "session_delete", "session_id"); len(got) != n {
		t.Errorf("session_delete allows %d sessions, want %d", len(got), n)
	}
	i, err := e.store.GetIdentity(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantUser, _ := json.Marshal(e.h.profileJSON(i, nil))
	if !bytes.Equal(entry.Payload["user"], wantUser) {
		t.Errorf("payload user %s, want %s", entry.Payload["user"], wantUser)
	}
	stash("profile_init")
	same := func(step string, r *flowResp) {
		t.Helper()
		mustState(t, r, stateProfileInit, r.code)
		for _, k := range []string{"user", "sessions"} {
			if !bytes.Equal(r.Payload[k], entry.Payload[k]) {
				t.Errorf("%s: payload %s differs from profile_init's first answer", step, k)
			}
		}
		if got := allowedValues(t, r, "session_delete", "session_id"); len(got) != n {
			t.Errorf("%s: session_delete allows %d sessions, want %d", step, len(got), n)
		}
	}

	r := cl.act("session_delete", map[string]any{"session_id": "0b7c1a52-5c1e-4f44-9d0e-3c2d6f1d9a11"})
	if r.code != 400 || inputError(r, "session_delete", "session_id") != "value_invalid_error" {
		t.Fatalf("unknown session: %d %s", r.code, r.raw)
	}
	same("profile_init again after a refused input", r)
	stash("profile_init again after a refused input")

	mustState(t, cl.act("email_create", map[string]any{"email": "olga2@example.com"}), statePasscodeConfirmation, 200)
	stash("passcode_confirmation")
	r = cl.act("back", nil)
	same("back to profile_init", r)
	stash("back to profile_init")
}
