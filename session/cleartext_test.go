package session

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store/sqlite"
)

// TestTokensNeverStoredInClear scans every byte SQLite wrote (database,
// WAL and journal files) for the session token, the logout token and the
// signing key's private scalar.
func TestTokensNeverStoredInClear(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(dir, "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	createIdentity(t, st, alice)
	clk := newClock()
	m := newManager(t, st, clk)
	s, token, err := m.Issue(ctx, alice, core.AuthMethod{Method: "password"}, browser, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	logout, err := m.LogoutToken(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	k := newKeys(t, st, clk, ES256)
	signer := k.ring.Load().signer
	var d []byte
	{
		var raw any
		if err := signer.Get("d", &raw); err != nil {
			t.Fatal(err)
		}
		d = raw.([]byte)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var all []byte
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatal("nothing on disk")
	}
	h := HashToken(token)
	if !bytes.Contains(all, h[:]) {
		t.Fatal("the token hash is not on disk: the scan does not see the session row")
	}
	secrets := map[string][]byte{
		"session token":        []byte(token),
		"session token body":   []byte(token[len(SessionTokenPrefix):]),
		"logout token":         []byte(logout),
		"private key scalar d": d,
	}
	for name, secret := range secrets {
		if bytes.Contains(all, secret) {
			t.Errorf("%s found in clear on disk", name)
		}
	}
}
