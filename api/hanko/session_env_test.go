package hanko

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/hanko/hankotest"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

const testAPIKey = "test-admin-api-key-0123456789"

// pEnv is the Hanko public and admin API over a fresh SQLite store.
type pEnv struct {
	store    store.Store
	ids      *identity.Service
	sessions *session.Manager
	keys     *session.Keys
	h        *Handler
	public   http.Handler
	admin    http.Handler
	pubV     *hankotest.Validator
	adminV   *hankotest.Validator
}

// newPEnv builds the environment; mod may change the hanko config first.
func newPEnv(t *testing.T, mod func(c *config.Hanko)) *pEnv {
	t.Helper()
	return newPEnvOn(t, storetest.SQLite(t), mod)
}

// newPEnvOn is newPEnv on the store st.
func newPEnvOn(t *testing.T, st store.Store, mod func(c *config.Hanko)) *pEnv {
	t.Helper()
	d := NewTestingDeps(t, st)
	c, _, err := config.Load(config.LoadOptions{Dev: true, Env: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	hc := c.Hanko
	if mod != nil {
		mod(&hc)
	}
	h, err := New(Options{Store: st, Identities: d.Identities, Sessions: d.Sessions, Keys: d.Keys, Hasher: d.Hasher, Config: hc,
		JWT: config.SessionJWT{Issuer: "http://127.0.0.1:4433/", Audience: []string{"127.0.0.1"}}, AdminAPIKey: testAPIKey,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), TOTP: d.TOTP})
	if err != nil {
		t.Fatal(err)
	}
	pub, adm := http.NewServeMux(), http.NewServeMux()
	h.MountPublic(pub)
	h.MountAdmin(adm)
	return &pEnv{store: st, ids: d.Identities, sessions: d.Sessions, keys: d.Keys, h: h,
		public: api.Chain(pub, api.WithRequestID()), admin: api.Chain(adm, api.WithRequestID()),
		pubV: hankotest.New(t, hankotest.Public), adminV: hankotest.New(t, hankotest.Admin).WithPrefix(hc.AdminPrefix)}
}

// res is a recorded response.
type res struct {
	Code   int
	Header http.Header
	Body   []byte
}

func (r res) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// do sends a request to h; hdr are "Name: value" pairs. When v is not nil
// the response is validated against it.
func do(t *testing.T, h http.Handler, v *hankotest.Validator, method, path string, body any, hdr ...string) res {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, kv := range hdr {
		k, val, _ := strings.Cut(kv, ": ")
		req.Header.Add(k, val)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	out := res{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if v != nil {
		v.Validate(t, req, out.Code, out.Header, out.Body)
	}
	return out
}

func (e *pEnv) pub(t *testing.T, method, path string, body any, hdr ...string) res {
	t.Helper()
	return do(t, e.public, e.pubV, method, path, body, hdr...)
}

func (e *pEnv) adm(t *testing.T, method, path string, body any, hdr ...string) res {
	t.Helper()
	return do(t, e.admin, e.adminV, method, path, body, append([]string{"Authorization: Bearer " + testAPIKey}, hdr...)...)
}

// user creates an identity with e-mail address and password pw (none when
// empty).
func (e *pEnv) user(t *testing.T, email, pw string) *core.Identity {
	t.Helper()
	d := identity.Draft{Traits: json.RawMessage(`{"email":"` + email + `"}`)}
	if pw != "" {
		d.Credentials = &identity.CredentialsDraft{Password: &identity.PasswordDraft{Password: pw}}
	}
	i, err := e.ids.Create(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// login issues a session for i as a flow would and returns the recorder's
// response (cookie or header) and the issued session.
func (e *pEnv) login(t *testing.T, i *core.Identity, amr ...string) (*httptest.ResponseRecorder, *Issued) {
	t.Helper()
	if len(amr) == 0 {
		amr = []string{AMRPassword}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/login", nil)
	req.Header.Set("User-Agent", "test-agent")
	is, err := e.h.issueSession(context.Background(), e.h.store, req, i, amr, RetentionPersistent)
	if err != nil {
		t.Fatal(err)
	}
	e.h.writeSession(rec, is.Token, is.Session.ExpiresAt, is.Retention)
	return rec, is
}

var _ = time.Second
