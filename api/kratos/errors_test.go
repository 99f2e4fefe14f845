package kratos_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/core"
)

// TestClientErrors sends every kind of bad request and checks that each is
// a 4xx in Kratos' envelope with a reason that names the problem, and that
// nothing was written.
func TestClientErrors(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env, _ string) {
		id := e.createIdentity(t, aliceBody())
		e.createIdentity(t, map[string]any{"schema_id": "default", "traits": map[string]any{"email": "carol@example.com"}})
		sess := e.addSession(t, id, e.now())
		before, err := e.store.GetIdentity(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}

		valid := func(email string) map[string]any {
			return map[string]any{"schema_id": "default", "traits": map[string]any{"email": email}}
		}
		batch := func(n int, cleartext bool) map[string]any {
			rows := make([]any, n)
			for k := range rows {
				c := valid(fmt.Sprintf("b%d@example.com", k))
				if cleartext {
					c["credentials"] = map[string]any{"password": map[string]any{"config": map[string]any{"password": "secret-password"}}}
				}
				rows[k] = map[string]any{"create": c}
			}
			return map[string]any{"identities": rows}
		}
		patch := func(path string) []map[string]any {
			return []map[string]any{{"op": "replace", "path": path, "value": "x"}}
		}
		big := strings.Repeat("x", 2<<20)

		cases := []struct {
			name, method, path string
			body               any
			status             int
			reason             string
		}{
			{"malformed identity id", "GET", "/admin/identities/not-a-uuid", nil, 404, "not a valid UUID"},
			{"unknown identity", "GET", "/admin/identities/6b5a5c38-1f3e-4b43-9d35-5b5e9fbd0d11", nil, 404, "does not exist"},
			{"unknown external id", "GET", "/admin/identities/by/external/nope", nil, 404, "external id"},
			{"invalid traits name the pointer", "POST", "/admin/identities", valid("not-an-email"), 400, "#/traits/email"},
			{"missing required trait", "POST", "/admin/identities", map[string]any{"schema_id": "default", "traits": map[string]any{}}, 400, "#/traits/email"},
			{"traits not an object", "POST", "/admin/identities", map[string]any{"schema_id": "default", "traits": "x"}, 400, "traits"},
			{"unknown schema", "POST", "/admin/identities", map[string]any{"schema_id": "nope", "traits": map[string]any{"email": "x@example.com"}}, 400, `"nope" does not exist`},
			{"missing schema id", "POST", "/admin/identities", map[string]any{"traits": map[string]any{"email": "x@example.com"}}, 400, "schema_id"},
			{"unknown field", "POST", "/admin/identities", map[string]any{"schema_id": "default", "traits": map[string]any{"email": "x@example.com"}, "nope": 1}, 400, "unknown field"},
			{"bad state", "POST", "/admin/identities", map[string]any{"schema_id": "default", "state": "frozen", "traits": map[string]any{"email": "x@example.com"}}, 400, "frozen"},
			{"bad hash format", "POST", "/admin/identities", map[string]any{"schema_id": "default", "traits": map[string]any{"email": "x@example.com"},
				"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"hashed_password": "$nope$abc"}}}}, 400, "hashed password"},
			{"oidc without subject", "POST", "/admin/identities", map[string]any{"schema_id": "default", "traits": map[string]any{"email": "x@example.com"},
				"credentials": map[string]any{"oidc": map[string]any{"config": map[string]any{"providers": []any{map[string]any{"provider": "google", "subject": ""}}}}}}, 400, "provider and subject"},
			{"unsupported credential import", "POST", "/admin/identities", map[string]any{"schema_id": "default", "traits": map[string]any{"email": "x@example.com"},
				"credentials": map[string]any{"totp": map[string]any{"config": map[string]any{"totp_url": "otpauth://x"}}}}, 400, "totp"},
			{"bad organization id", "POST", "/admin/identities", map[string]any{"schema_id": "default", "organization_id": "x", "traits": map[string]any{"email": "x@example.com"}}, 400, "organization_id"},
			{"duplicate identifier", "POST", "/admin/identities", valid("ALICE@example.com"), 409, "conflicts"},
			{"duplicate external id", "POST", "/admin/identities", map[string]any{"schema_id": "default", "external_id": "crm-42", "traits": map[string]any{"email": "x@example.com"}}, 409, "conflicts"},
			{"body too large", "POST", "/admin/identities", `{"schema_id":"default","traits":{"email":"` + big + `"}}`, 400, "larger than the limit"},
			{"not json", "POST", "/admin/identities", "schema_id=default", 400, "not valid JSON"},
			{"empty body", "POST", "/admin/identities", "", 400, "empty"},
			{"put invalid traits", "PUT", "/admin/identities/" + id, map[string]any{"schema_id": "default", "state": "active", "traits": map[string]any{"email": 5}}, 400, "#/traits/email"},
			{"put duplicate", "PUT", "/admin/identities/" + id, map[string]any{"schema_id": "default", "state": "active", "traits": map[string]any{"email": "carol@example.com"}}, 409, "conflicts"},
			{"put unknown", "PUT", "/admin/identities/6b5a5c38-1f3e-4b43-9d35-5b5e9fbd0d11", valid("x@example.com"), 404, "does not exist"},
			{"patch id", "PATCH", "/admin/identities/" + id, patch("/id"), 400, "cannot be changed"},
			{"patch credentials", "PATCH", "/admin/identities/" + id, patch("/credentials/password/config/hashed_password"), 400, "cannot be changed"},
			{"patch created_at", "PATCH", "/admin/identities/" + id, patch("/created_at"), 400, "cannot be changed"},
			{"patch schema_url", "PATCH", "/admin/identities/" + id, patch("/schema_url"), 400, "cannot be changed"},
			{"patch address id", "PATCH", "/admin/identities/" + id, patch("/verifiable_addresses/0/id"), 400, "cannot be changed"},
			{"patch move from id", "PATCH", "/admin/identities/" + id, []map[string]any{{"op": "move", "from": "/id", "path": "/external_id"}}, 400, "cannot be changed"},
			{"patch whole document", "PATCH", "/admin/identities/" + id, []map[string]any{{"op": "replace", "path": "", "value": map[string]any{}}}, 400, "cannot be changed"},
			{"patch invalid traits", "PATCH", "/admin/identities/" + id, patch("/traits/email"), 400, "#/traits/email"},
			{"patch failed test op", "PATCH", "/admin/identities/" + id, []map[string]any{{"op": "test", "path": "/state", "value": "inactive"}}, 400, "could not be applied"},
			{"patch bad state", "PATCH", "/admin/identities/" + id, patch("/state"), 400, "state"},
			{"patch unknown field", "PATCH", "/admin/identities/" + id, []map[string]any{{"op": "add", "path": "/nope", "value": 1}}, 400, "nope"},
			{"patch not an array", "PATCH", "/admin/identities/" + id, map[string]any{"op": "replace"}, 400, "JSON Patch"},
			{"patch bad op", "PATCH", "/admin/identities/" + id, []map[string]any{{"op": "frobnicate", "path": "/state"}}, 400, "frobnicate"},
			{"delete unknown credential type", "DELETE", "/admin/identities/" + id + "/credentials/magic", nil, 400, `"magic" is not a credential type`},
			{"delete oidc without identifier", "DELETE", "/admin/identities/" + id + "/credentials/oidc", nil, 400, "identifier"},
			{"delete missing credential", "DELETE", "/admin/identities/" + id + "/credentials/totp", nil, 404, "no totp credential"},
			{"delete code credential", "DELETE", "/admin/identities/" + id + "/credentials/code", nil, 400, "traits"},
			{"delete unknown identity", "DELETE", "/admin/identities/6b5a5c38-1f3e-4b43-9d35-5b5e9fbd0d11", nil, 404, "does not exist"},
			{"list bad page token", "GET", "/admin/identities?page_token=abc", nil, 400, "page_token"},
			{"list bad page size", "GET", "/admin/identities?page_size=-1", nil, 400, "page_size"},
			{"list legacy too deep", "GET", "/admin/identities?page=5&per_page=500", nil, 400, "at most 1000"},
			{"list bad ids", "GET", "/admin/identities?ids=nope", nil, 400, "ids"},
			{"list bad include", "GET", "/admin/identities?include_credential=magic", nil, 400, "include_credential"},
			{"list bad consistency", "GET", "/admin/identities?consistency=maybe", nil, 400, "consistency"},
			{"list bad organization", "GET", "/admin/identities?organization_id=x", nil, 400, "organization_id"},
			{"batch too many", "PATCH", "/admin/identities", batch(kratos.BatchMaxPatches+1, false), 400, "at most 1000"},
			{"batch too many cleartext", "PATCH", "/admin/identities", batch(kratos.BatchMaxCleartextPasswords+1, true), 400, "cleartext"},
			{"batch bad patch id", "PATCH", "/admin/identities", map[string]any{"identities": []any{map[string]any{"patch_id": "x", "create": valid("x@example.com")}}}, 400, "patch_id"},
			{"batch unknown field", "PATCH", "/admin/identities", map[string]any{"identities": []any{map[string]any{"delete": "x"}}}, 400, "unknown field"},
			{"sessions bad token", "GET", "/admin/sessions?page_token=!!!", nil, 400, "page_token"},
			{"sessions bad token content", "GET", "/admin/sessions?page_token=aWQ9eA", nil, 400, "page_token"},
			{"sessions bad active", "GET", "/admin/sessions?active=maybe", nil, 400, "active"},
			{"sessions bad expand", "GET", "/admin/sessions?expand=everything", nil, 400, "expand"},
			{"session malformed id", "GET", "/admin/sessions/nope", nil, 400, "not a valid UUID"},
			{"session unknown", "GET", "/admin/sessions/6b5a5c38-1f3e-4b43-9d35-5b5e9fbd0d11", nil, 404, "does not exist"},
			{"extend unknown", "PATCH", "/admin/sessions/6b5a5c38-1f3e-4b43-9d35-5b5e9fbd0d11/extend", nil, 404, "does not exist"},
			{"disable malformed", "DELETE", "/admin/sessions/nope", nil, 400, "not a valid UUID"},
			{"identity sessions bad token", "GET", "/admin/identities/" + id + "/sessions?page_token=***", nil, 400, "page_token"},
			{"identity sessions unknown identity", "GET", "/admin/identities/6b5a5c38-1f3e-4b43-9d35-5b5e9fbd0d11/sessions", nil, 404, "does not exist"},
			{"delete sessions unknown identity", "DELETE", "/admin/identities/6b5a5c38-1f3e-4b43-9d35-5b5e9fbd0d11/sessions", nil, 404, "does not exist"},
			{"unknown schema id", "GET", "/schemas/nope", nil, 404, "schema"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.call(t, tc.method, tc.path, tc.body)
				if r.Code != tc.status {
					t.Fatalf("status = %d, want %d; body %s", r.Code, tc.status, r.Body)
				}
				if reason := r.reason(t); !strings.Contains(reason, tc.reason) {
					t.Errorf("reason %q does not contain %q", reason, tc.reason)
				}
				if n := e.countIdentities(t); n != 2 {
					t.Fatalf("identities = %d after a refused request, want 2", n)
				}
				after, err := e.store.GetIdentity(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(after.Traits, before.Traits) || after.State != before.State || !after.UpdatedAt.Equal(before.UpdatedAt) ||
					len(after.Credentials) != len(before.Credentials) {
					t.Fatalf("a refused request changed the identity: %+v", after)
				}
				s, err := e.store.GetSession(context.Background(), sess.ID)
				if err != nil || !s.Active || !s.ExpiresAt.Equal(sess.ExpiresAt) {
					t.Fatalf("a refused request changed the session: %+v %v", s, err)
				}
			})
		}
	})
}

// TestAPIKey checks the admin API key middleware with Kratos' envelope.
func TestAPIKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteOnly)
	h := api.WithAPIKey("s3cret-admin-key", e.handler.Errors().Unauthorized())(e.h)
	for _, tc := range []struct {
		name, auth, path string
		want             int
	}{
		{"missing", "", "/admin/identities", 401},
		{"wrong", "Bearer nope", "/admin/identities", 401},
		{"wrong scheme", "Basic s3cret-admin-key", "/admin/identities", 401},
		{"right", "Bearer s3cret-admin-key", "/admin/identities", 200},
		{"right, lower-case scheme, un-prefixed path", "bearer s3cret-admin-key", "/identities", 200},
		{"health stays open", "", "/health/alive", 404}, // not mounted here: reaches the mux
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == 401 {
				vreq := httptest.NewRequest("GET", "/admin/identities", nil)
				e.v.Validate(t, vreq, rec.Code, rec.Header(), rec.Body.Bytes())
				if !strings.Contains(rec.Body.String(), `"code":401`) {
					t.Fatalf("body %s", rec.Body)
				}
			}
		})
	}
}

// TestInternalErrorsHideCause checks that a non-domain error becomes a 500
// envelope without the cause.
func TestInternalErrorsHideCause(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		reason string
	}{
		{"plain error", fmt.Errorf("pq: password authentication failed for user secret"), 500, ""},
		{"internal core error", &core.Error{Code: core.CodeInternal, Message: "db exploded", Cause: fmt.Errorf("secret")}, 500, ""},
		{"invalid", core.Errorf(core.CodeInvalid, "bad thing"), 400, "bad thing"},
		{"expired", core.Errorf(core.CodeExpired, "too late"), 410, "too late"},
		{"rate limited", core.Errorf(core.CodeRateLimited, "slow down"), 429, "slow down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := kratos.NewGenericError(tc.err, "rid")
			if g.Code != tc.status || g.Reason != tc.reason || g.Message == "" || g.Request != "rid" {
				t.Fatalf("%+v", g)
			}
			if strings.Contains(fmt.Sprint(g), "secret") {
				t.Fatalf("cause leaked: %+v", g)
			}
		})
	}
}

// TestPublicRedirects checks that admin paths on the public listener
// redirect to the admin listener with 307.
func TestPublicRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqliteOnly)
	h, err := kratos.New(kratos.Options{Identities: e.ids, Sessions: e.store, PublicBaseURL: publicBase,
		AdminBaseURL: "http://127.0.0.1:4434/"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.MountPublic(mux)
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/admin/identities?page_size=2", "http://127.0.0.1:4434/admin/identities?page_size=2"},
		{"GET", "/identities/abc", "http://127.0.0.1:4434/admin/identities/abc"},
		{"DELETE", "/admin/identities/abc/sessions", "http://127.0.0.1:4434/admin/identities/abc/sessions"},
		{"GET", "/admin/sessions", "http://127.0.0.1:4434/admin/sessions"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != http.StatusTemporaryRedirect || rec.Header().Get("Location") != tc.want {
			t.Errorf("%s %s: %d %q", tc.method, tc.path, rec.Code, rec.Header().Get("Location"))
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/schemas", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("GET /schemas on public: %d", rec.Code)
	}
}
