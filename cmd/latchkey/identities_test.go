package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store/storetest"
)

// adminServer runs the Kratos admin API over SQLite, behind an API key.
func adminServer(t *testing.T, key string) string {
	t.Helper()
	st := storetest.SQLite(t)
	reg, err := schema.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(password.Params{Algorithm: password.AlgorithmBcrypt, BcryptCost: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.New(identity.Options{Store: st, Schemas: reg, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	k, err := kratos.New(kratos.Options{Identities: ids, Sessions: st, PublicBaseURL: "http://127.0.0.1:4433/",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	k.MountAdmin(mux)
	srv := httptest.NewServer(api.Chain(kratos.AdminPrefix(mux), api.WithAPIKey(key, k.Errors().Unauthorized())))
	t.Cleanup(srv.Close)
	return srv.URL
}

func runIdentities(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := newIdentitiesCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func record(email string, extra string) string {
	return fmt.Sprintf(`{"schema_id":"default","traits":{"email":%q}%s}`, email, extra)
}

func TestIdentitiesCommands(t *testing.T) {
	t.Parallel()
	const key = "test-admin-key"
	url := adminServer(t, key)
	dir := t.TempDir()
	cleartext := `,"credentials":{"password":{"config":{"password":"correct horse battery"}}}`
	hashed := `,"credentials":{"password":{"config":{"hashed_password":"$2y$05$a1tZMhm9UOE086F9Gkh9yuQep/JzwGgzrs2bDYSY14OQ2ig6yQePe"}}}`
	ndjson := strings.Join([]string{
		record("a@example.com", cleartext), record("b@example.com", hashed), record("c@example.com", ""),
		record("A@example.com", ""), // duplicate of a@example.com
		record("not-an-email", ""),
	}, "\n") + "\n"
	array := "[" + record("d@example.com", "") + ",\n" + record("e@example.com", cleartext) + "]"
	if err := os.WriteFile(filepath.Join(dir, "users.ndjson"), []byte(ndjson), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.json"), []byte(array), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"--endpoint", url, "--api-key", key}

	// import two files and stdin in batches of two; failures are reported
	// per record and the import goes on
	out, errOut, err := runIdentities(t, record("f@example.com", ""), append([]string{"import",
		filepath.Join(dir, "users.ndjson"), filepath.Join(dir, "users.json"), "-", "--batch-size", "2", "--json"}, common...)...)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("import error = %v, want exit status 2 (stderr %s)", err, errOut)
	}
	var sum importSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if sum.Total != 8 || sum.Created != 6 || sum.Failed != 2 || len(sum.Failures) != 2 ||
		sum.Failures[0].Source != filepath.Join(dir, "users.ndjson")+":4" || sum.Failures[0].Status != 409 ||
		!strings.Contains(sum.Failures[1].Reason, "#/traits/email") {
		t.Fatalf("summary %+v", sum)
	}

	// list
	out, _, err = runIdentities(t, "", append([]string{"list", "--json", "--page-size", "4"}, common...)...)
	if err != nil {
		t.Fatal(err)
	}
	var list []kratos.IdentityJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 6 {
		t.Fatalf("list: %v %s", err, out)
	}
	out, _, err = runIdentities(t, "", append([]string{"list", "--identifier", "B@example.com"}, common...)...)
	if err != nil || !strings.Contains(out, "b@example.com") || strings.Count(out, "\n") != 2 {
		t.Fatalf("list table: %v\n%s", err, out)
	}

	// get with the password hash (of a@example.com, who has one; list
	// order is by random id)
	var id string
	for _, i := range list {
		if strings.Contains(string(i.Traits), `"a@example.com"`) {
			id = i.ID
		}
	}
	if id == "" {
		t.Fatalf("a@example.com not in the list: %s", out)
	}
	out, _, err = runIdentities(t, "", append([]string{"get", id, "--include-credential", "password"}, common...)...)
	if err != nil || !strings.Contains(out, `"hashed_password"`) {
		t.Fatalf("get: %v\n%s", err, out)
	}

	// delete: one good id, one unknown
	out, errOut, err = runIdentities(t, "", append([]string{"delete", id, "6b5a5c38-1f3e-4b43-9d35-5b5e9fbd0d11"}, common...)...)
	if err == nil || !strings.Contains(out, "Deleted "+id) || !strings.Contains(errOut, "404") {
		t.Fatalf("delete: %v\n%s\n%s", err, out, errOut)
	}
	if _, _, err := runIdentities(t, "", append([]string{"get", id}, common...)...); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("get after delete: %v", err)
	}

	// a wrong key is refused, not treated as per-record failures
	_, _, err = runIdentities(t, record("g@example.com", ""), "import", "-", "--endpoint", url, "--api-key", "wrong")
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("import with a wrong key: %v", err)
	}
	// malformed input is reported with its position
	_, _, err = runIdentities(t, `{"schema_id":`, append([]string{"import", "-"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "stdin: record 1") {
		t.Fatalf("malformed input: %v", err)
	}
	if _, _, err := runIdentities(t, "", "list", "--endpoint", "ftp://x"); err == nil {
		t.Fatal("bad endpoint accepted")
	}
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := &progressBar{w: &b, total: 10}
	p.set(5)
	if !strings.Contains(b.String(), "5/10") || !strings.Contains(b.String(), "50%") || !strings.Contains(b.String(), "ETA") {
		t.Fatalf("bar %q", b.String())
	}
	b.Reset()
	p = &progressBar{w: &b, total: -1}
	p.set(7)
	if !strings.Contains(b.String(), "7 identities") {
		t.Fatalf("bar without total %q", b.String())
	}
}
