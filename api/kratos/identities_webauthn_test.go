package kratos_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/identity"
)

// webauthnImport is an import body's credentials.<kind> for one credential
// of a (its COSE public key, Kratos' base64 byte fields).
func webauthnImportBody(a *authenticator, handle []byte, passwordless bool, name string) map[string]any {
	return map[string]any{"config": map[string]any{
		"user_handle": base64.StdEncoding.EncodeToString(handle),
		"credentials": []any{map[string]any{
			"id":               base64.StdEncoding.EncodeToString(a.cred.ID),
			"public_key":       base64.StdEncoding.EncodeToString(a.cred.Key.AttestationData()),
			"attestation_type": "none",
			"authenticator":    map[string]any{"aaguid": base64.StdEncoding.EncodeToString(make([]byte, 16)), "sign_count": 0},
			"display_name":     name,
			"added_at":         "2025-01-02T03:04:05Z",
			"is_passwordless":  passwordless,
			"flags":            map[string]any{"user_present": true, "user_verified": true},
			"transport":        []string{"internal"},
		}},
	}}
}

// TestAdminWebAuthnCredentials imports a passkey and a security key through
// the admin API, shows them with include_credential, and refuses what
// cannot be stored, on every backend.
func TestAdminWebAuthnCredentials(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env, _ string) {
		pk, sk := newAuthenticator(), newAuthenticator()
		handle := []byte("handle-0123456789")
		r := e.call(t, "POST", "/admin/identities", map[string]any{"schema_id": "default",
			"traits": map[string]any{"email": "kim@example.com"},
			"credentials": map[string]any{
				"passkey":  webauthnImportBody(pk, handle, true, "Kim's phone"),
				"webauthn": webauthnImportBody(sk, handle, false, "YubiKey"),
			}})
		e.mustStatus(t, r, http.StatusCreated)
		var created struct {
			ID          string                    `json:"id"`
			Credentials map[string]map[string]any `json:"credentials"`
		}
		r.decode(t, &created)
		for _, typ := range []string{"passkey", "webauthn"} {
			c, ok := created.Credentials[typ]
			if !ok {
				t.Fatalf("no %s credential in %s", typ, r.Body)
			}
			if _, has := c["config"]; has {
				t.Errorf("%s config shown without include_credential", typ)
			}
		}
		g := e.call(t, "GET", "/admin/identities/"+created.ID+"?include_credential=passkey&include_credential=webauthn", nil)
		e.mustStatus(t, g, http.StatusOK)
		e.golden(t, "get_identity_include_webauthn", maskKeys(t, g, pk, sk))

		// Listed, with the same entries.
		l := e.call(t, "GET", "/admin/identities?credentials_identifier=kim@example.com", nil)
		e.mustStatus(t, l, http.StatusOK)
		var list []map[string]any
		l.decode(t, &list)
		if len(list) != 1 || list[0]["credentials"].(map[string]any)["passkey"] == nil {
			t.Errorf("list: %s", l.Body)
		}

		cases := []struct {
			name  string
			creds map[string]any
			code  int
		}{
			{"credential id of another identity", map[string]any{"passkey": webauthnImportBody(pk, nil, true, "x")}, http.StatusConflict},
			{"no public key", map[string]any{"passkey": map[string]any{"config": map[string]any{"credentials": []any{
				map[string]any{"id": base64.StdEncoding.EncodeToString([]byte("abc"))}}}}}, http.StatusBadRequest},
			{"not base64", map[string]any{"webauthn": map[string]any{"config": map[string]any{"credentials": []any{
				map[string]any{"id": "!!", "public_key": "AQID"}}}}}, http.StatusBadRequest},
			{"unknown field", map[string]any{"webauthn": map[string]any{"config": map[string]any{"credentialz": []any{}}}}, http.StatusBadRequest},
			{"two handles", map[string]any{"passkey": webauthnImportBody(newAuthenticator(), []byte("a"), true, "x"),
				"webauthn": webauthnImportBody(newAuthenticator(), []byte("b"), false, "y")}, http.StatusBadRequest},
			{"totp still refused", map[string]any{"totp": map[string]any{"config": map[string]any{"totp_url": "otpauth://totp/x"}}}, http.StatusBadRequest},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.call(t, "POST", "/admin/identities", map[string]any{"schema_id": "default",
					"traits": map[string]any{"email": "other@example.com"}, "credentials": tc.creds})
				e.mustStatus(t, r, tc.code)
				if r.reason(t) == "" && tc.code == http.StatusBadRequest {
					t.Errorf("no reason: %s", r.Body)
				}
			})
		}
		if n := e.countIdentities(t); n != 1 {
			t.Errorf("%d identities after the refused imports, want 1", n)
		}

		// Batch: one imports, the other's credential is taken.
		b := e.call(t, "PATCH", "/admin/identities", map[string]any{"identities": []any{
			map[string]any{"create": map[string]any{"schema_id": "default", "traits": map[string]any{"email": "b1@example.com"},
				"credentials": map[string]any{"passkey": webauthnImportBody(newAuthenticator(), nil, true, "b1")}}},
			map[string]any{"create": map[string]any{"schema_id": "default", "traits": map[string]any{"email": "b2@example.com"},
				"credentials": map[string]any{"webauthn": webauthnImportBody(sk, nil, false, "b2")}}},
		}})
		e.mustStatus(t, b, http.StatusOK)
		var batch struct {
			Identities []struct {
				Action string `json:"action"`
			} `json:"identities"`
		}
		b.decode(t, &batch)
		if len(batch.Identities) != 2 || batch.Identities[0].Action != "create" || batch.Identities[1].Action != "error" {
			t.Errorf("batch: %s", b.Body)
		}

		// Deleting the identity deletes its keys.
		e.mustStatus(t, e.call(t, "DELETE", "/admin/identities/"+created.ID, nil), http.StatusNoContent)
		left, err := e.store.ListWebAuthnCredentials(context.Background(), created.ID)
		if err != nil || len(left) != 0 {
			t.Errorf("credentials after delete: %v %v", left, err)
		}
	})
}

// TestImportedPasskeySignsIn: a passkey imported through the identity
// service signs in on the Kratos face.
func TestImportedPasskeySignsIn(t *testing.T) {
	t.Parallel()
	onBackends(t, func(t *testing.T, e *ssEnv) {
		a := newAuthenticator()
		handle := []byte("imported-handle-1")
		a.auth.Options.UserHandle = handle
		_, err := e.ids.Create(context.Background(), identity.Draft{Traits: json.RawMessage(`{"email":"imp@example.com"}`),
			Credentials: &identity.CredentialsDraft{WebAuthn: []core.WebAuthnCredential{{
				ID: base64.RawURLEncoding.EncodeToString(a.cred.ID), PublicKey: a.cred.Key.AttestationData(),
				AttestationType: "none", AAGUID: make([]byte, 16), UserHandle: handle, DisplayName: "imported"}}}})
		if err != nil {
			t.Fatal(err)
		}
		c := e.spa(t)
		f := passkeyLoginFlow(t, c)
		r := c.do("POST", "/self-service/login?flow="+f["id"].(string), map[string]any{"csrf_token": csrfOf(t, f),
			"passkey_login": a.get(t, testRP, nodeValue(t, f, "passkey_challenge"))})
		must(t, r, 200)
		checkAMR(t, r.json(t)["session"].(map[string]any), "passkey")
	}, withPasskeys(t))
}

// maskKeys replaces the random credential ids and public keys of the
// authenticators in a response, so it can be compared with a golden file.
func maskKeys(t *testing.T, r result, auths ...*authenticator) result {
	t.Helper()
	body := string(r.Body)
	for n, a := range auths {
		tag := string(rune('a' + n))
		body = strings.ReplaceAll(body, base64.StdEncoding.EncodeToString(a.cred.ID), "<credential-id-"+tag+">")
		body = strings.ReplaceAll(body, base64.StdEncoding.EncodeToString(a.cred.Key.AttestationData()), "<public-key-"+tag+">")
	}
	r.Body = []byte(body)
	return r
}
