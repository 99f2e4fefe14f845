package kratos_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/api/kratos/kratostest"
	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

const publicBase = "http://127.0.0.1:4433/"

// env is one Kratos admin API over a fresh store.
type env struct {
	store   store.Store
	ids     *identity.Service
	hasher  *password.Hasher
	handler *kratos.Handler
	h       http.Handler
	v       *kratostest.Validator
	backend string
}

func newEnv(t *testing.T, open func(testing.TB) store.Store) *env {
	t.Helper()
	st := open(t)
	reg, err := schema.New(nil)
	if err != nil {
		t.Fatalf("schema registry: %v", err)
	}
	hasher, err := password.NewHasher(password.Params{Algorithm: password.AlgorithmArgon2,
		Argon2: password.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, nil)
	if err != nil {
		t.Fatalf("hasher: %v", err)
	}
	ids, err := identity.New(identity.Options{Store: st, Schemas: reg, Hasher: hasher})
	if err != nil {
		t.Fatalf("identity service: %v", err)
	}
	sealer, err := cipher.New("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	h, err := kratos.New(kratos.Options{Identities: ids, Sessions: st, PublicBaseURL: publicBase, WebAuthn: st,
		Decrypter: sealer, Encrypter: sealer, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("kratos handler: %v", err)
	}
	mux := http.NewServeMux()
	h.MountAdmin(mux)
	pub := http.NewServeMux()
	h.MountPublic(pub)
	mux.Handle("GET /schemas", pub)
	mux.Handle("GET /schemas/{id}", pub)
	return &env{store: st, ids: ids, hasher: hasher, handler: h,
		h: api.Chain(kratos.AdminPrefix(mux), api.WithRequestID()), v: kratostest.New(t)}
}

// result is a recorded response.
type result struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// reason returns error.reason of an error envelope.
func (r result) reason(t *testing.T) string {
	t.Helper()
	var e kratos.ErrorEnvelope
	r.decode(t, &e)
	if e.Error.Code != r.Code || e.Error.Message == "" || e.Error.Status != http.StatusText(r.Code) {
		t.Errorf("error envelope %s does not match status %d", r.Body, r.Code)
	}
	return e.Error.Reason
}

// call sends a request through the admin listener's handler and validates
// the response against kratos-api.json.
func (e *env) call(t *testing.T, method, path string, body any, hdr ...string) result {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Request-ID", "test-request")
	for n := 0; n+1 < len(hdr); n += 2 {
		req.Header.Set(hdr[n], hdr[n+1])
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	vreq := req.Clone(context.Background())
	if !strings.HasPrefix(vreq.URL.Path, "/admin/") && !strings.HasPrefix(vreq.URL.Path, "/schemas") {
		vreq.URL.Path = "/admin" + vreq.URL.Path
	}
	if strings.HasPrefix(vreq.URL.Path, "/admin/schemas") {
		vreq.URL.Path = strings.TrimPrefix(vreq.URL.Path, "/admin")
	}
	body2 := rec.Body.Bytes()
	e.v.Validate(t, vreq, rec.Code, rec.Header(), body2)
	return result{Code: rec.Code, Header: rec.Header(), Body: body2}
}

func (e *env) mustStatus(t *testing.T, r result, want int) {
	t.Helper()
	if r.Code != want {
		t.Fatalf("status = %d, want %d; body: %s", r.Code, want, r.Body)
	}
}

// createIdentity creates an identity through the API and returns its id.
func (e *env) createIdentity(t *testing.T, body map[string]any) string {
	t.Helper()
	r := e.call(t, "POST", "/admin/identities", body)
	e.mustStatus(t, r, http.StatusCreated)
	var out kratos.IdentityJSON
	r.decode(t, &out)
	return out.ID
}

// addSession stores a session for identityID created at createdAt.
func (e *env) addSession(t *testing.T, identityID string, createdAt time.Time) *core.Session {
	t.Helper()
	var tok [32]byte
	_, _ = rand.Read(tok[:])
	h := sha256.Sum256(tok[:])
	createdAt = createdAt.UTC().Truncate(time.Second)
	s := &core.Session{ID: uuid.NewString(), IdentityID: identityID, TokenHash: h[:], Active: true, AAL: core.AAL1,
		Methods:  []core.AuthMethod{{Method: "password", AAL: core.AAL1, CompletedAt: createdAt}},
		Devices:  []core.Device{{ID: uuid.NewString(), IPAddress: "192.0.2.1", UserAgent: "latchkey-test/1.0"}},
		IssuedAt: createdAt, AuthenticatedAt: createdAt, ExpiresAt: createdAt.Add(24 * time.Hour),
		CreatedAt: createdAt, UpdatedAt: createdAt}
	if err := e.store.CreateSession(context.Background(), s); err != nil {
		t.Fatalf("create session: %v", err)
	}
	return s
}

func (e *env) countIdentities(t *testing.T) int {
	t.Helper()
	n, err := e.store.CountIdentities(context.Background(), store.IdentityQuery{})
	if err != nil {
		t.Fatalf("count identities: %v", err)
	}
	return n
}

var (
	uuidRE  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE  = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
	argonRE = regexp.MustCompile(`\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+`)
	tokenRE = regexp.MustCompile(`page_token=[A-Za-z0-9%_-]{20,}`)
)

// normalize replaces ids (numbered by first appearance), timestamps, fresh
// hashes and session page tokens so golden files are stable.
func normalize(b []byte) []byte {
	seen := map[string]string{}
	s := uuidRE.ReplaceAllStringFunc(string(b), func(u string) string {
		if u == kratos.NilUUID {
			return u
		}
		if _, ok := seen[u]; !ok {
			seen[u] = "<id-" + string(rune('a'+len(seen)%26)) + ">"
		}
		return seen[u]
	})
	s = timeRE.ReplaceAllString(s, "<time>")
	s = argonRE.ReplaceAllString(s, "<argon2id-hash>")
	return []byte(s)
}

// golden compares a response (body and selected headers) with
// testdata/<name>.golden.json, rewriting it with -update.
func (e *env) golden(t *testing.T, name string, r result) {
	t.Helper()
	if *update && e.backend != "sqlite" {
		return // the SQLite run writes; every backend must match it
	}
	var body any
	if len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("golden %s: body is not JSON: %v", name, err)
		}
	}
	headers := map[string]string{}
	for _, k := range []string{"Link", "X-Total-Count", "Content-Type", "Cache-Control"} {
		if v := r.Header.Get(k); v != "" {
			headers[k] = tokenRE.ReplaceAllString(v, "page_token=<token>")
		}
	}
	doc := map[string]any{"status": r.Code, "headers": headers, "body": body}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	got := normalize(buf.Bytes())
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update)", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("golden %s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// sqliteOnly opens a SQLite store (for tests that do not depend on the
// backend).
func sqliteOnly(t testing.TB) store.Store { return storetest.SQLite(t) }

func (e *env) now() time.Time { return time.Now() }

// forEachBackend runs f on every configured store backend, in parallel.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env, name string)) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open)
			e.backend = name
			f(t, e, name)
		})
	}
}
