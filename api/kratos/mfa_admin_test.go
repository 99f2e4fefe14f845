package kratos_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
)

func TestAdminSecondFactors(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env, _ string) {
		used := "2026-12-01T10:00:00Z"
		url := "otpauth://totp/Example:ann@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example"
		id := e.createIdentity(t, map[string]any{"schema_id": "default", "traits": map[string]any{"email": "ann@example.com"},
			"credentials": map[string]any{
				"totp":          map[string]any{"config": map[string]any{"totp_url": url}},
				"lookup_secret": map[string]any{"config": map[string]any{"codes": []any{map[string]any{"code": "aaaa1111"}, map[string]any{"code": "bbbb2222", "used_at": used}}}},
			}})

		// Without include_credential the configs stay hidden.
		var plain struct {
			Credentials map[string]struct {
				Identifiers []string       `json:"identifiers"`
				Config      map[string]any `json:"config"`
			} `json:"credentials"`
		}
		r := e.call(t, "GET", "/admin/identities/"+id, nil)
		e.mustStatus(t, r, http.StatusOK)
		r.decode(t, &plain)
		if c := plain.Credentials["totp"]; c.Config != nil || len(c.Identifiers) != 1 || c.Identifiers[0] != id {
			t.Fatalf("totp without include: %+v", c)
		}
		r = e.call(t, "GET", "/admin/identities/"+id+"?include_credential=totp&include_credential=lookup_secret", nil)
		e.mustStatus(t, r, http.StatusOK)
		var full struct {
			Credentials struct {
				TOTP struct {
					Config struct {
						URL string `json:"totp_url"`
					} `json:"config"`
				} `json:"totp"`
				Lookup struct {
					Config struct {
						Codes []struct {
							Code   string     `json:"code"`
							UsedAt *time.Time `json:"used_at"`
						} `json:"recovery_codes"`
					} `json:"config"`
				} `json:"lookup_secret"`
			} `json:"credentials"`
		}
		r.decode(t, &full)
		if !strings.Contains(full.Credentials.TOTP.Config.URL, "secret=JBSWY3DPEHPK3PXP") {
			t.Fatalf("totp_url: %s", r.Body)
		}
		codes := full.Credentials.Lookup.Config.Codes
		if len(codes) != 2 || codes[0].Code != "aaaa1111" || codes[0].UsedAt != nil || codes[1].UsedAt == nil {
			t.Fatalf("recovery_codes: %s", r.Body)
		}
		// Stored sealed: the database never holds the secret or a code.
		i, err := e.store.GetIdentity(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range []core.CredentialType{core.CredentialTOTP, core.CredentialLookupSecret} {
			c, _ := i.Credential(ct)
			if s := string(c.Config); strings.Contains(s, "JBSWY3DPEHPK3PXP") || strings.Contains(s, "aaaa1111") {
				t.Fatalf("%s stored in the clear: %s", ct, s)
			}
		}

		// Bad imports are 400s naming the field, and write nothing.
		before := e.countIdentities(t)
		for _, bad := range []map[string]any{
			{"totp": map[string]any{"config": map[string]any{"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=8"}}},
			{"totp": map[string]any{"config": map[string]any{}}},
			{"lookup_secret": map[string]any{"config": map[string]any{"codes": []any{}}}},
			{"lookup_secret": map[string]any{"config": map[string]any{"codes": []any{map[string]any{"code": " "}}}}},
		} {
			r := e.call(t, "POST", "/admin/identities", map[string]any{"schema_id": "default",
				"traits": map[string]any{"email": "bad@example.com"}, "credentials": bad})
			e.mustStatus(t, r, http.StatusBadRequest)
		}
		if e.countIdentities(t) != before {
			t.Fatal("a refused import wrote an identity")
		}

		// Removing the totp credential ends every session's claim to it.
		s := e.addSession(t, id, time.Now())
		s.Methods = append(s.Methods, core.AuthMethod{Method: "totp", AAL: core.AAL2, CompletedAt: s.CreatedAt})
		s.AAL = core.AAL2
		if err := e.store.UpdateSession(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		e.mustStatus(t, e.call(t, "DELETE", "/admin/identities/"+id+"/credentials/totp", nil), http.StatusNoContent)
		e.mustStatus(t, e.call(t, "DELETE", "/admin/identities/"+id+"/credentials/totp", nil), http.StatusNotFound)
		got, err := e.store.GetSession(context.Background(), s.ID)
		if err != nil || got.AAL != core.AAL1 || len(got.Methods) != 1 {
			t.Fatalf("session after removing totp: %+v (%v)", got, err)
		}
		e.mustStatus(t, e.call(t, "DELETE", "/admin/identities/"+id+"/credentials/lookup_secret", nil), http.StatusNoContent)
		r = e.call(t, "GET", "/admin/identities/"+id, nil)
		if strings.Contains(string(r.Body), `"totp"`) || strings.Contains(string(r.Body), `"lookup_secret"`) {
			t.Fatalf("credentials left: %s", r.Body)
		}
	})
}
