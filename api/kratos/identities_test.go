package kratos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/api/kratos/kratostest"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/store"
)

func aliceBody() map[string]any {
	return map[string]any{
		"schema_id":       "default",
		"traits":          map[string]any{"email": "Alice@Example.com", "name": "Alice"},
		"metadata_public": map[string]any{"plan": "pro"},
		"metadata_admin":  map[string]any{"crm": 42},
		"external_id":     "crm-42",
		"credentials":     map[string]any{"password": map[string]any{"config": map[string]any{"password": "correct horse battery"}}},
		"verifiable_addresses": []any{map[string]any{
			"value": "alice@example.com", "via": "email", "verified": true, "status": "completed"}},
	}
}

// TestIdentityLifecycle walks every identity endpoint the way an SDK user
// would: create, get, list, update, patch, batch create, sessions, delete.
func TestIdentityLifecycle(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env, _ string) {
		ctx := context.Background()

		// create
		r := e.call(t, "POST", "/admin/identities", aliceBody())
		e.mustStatus(t, r, http.StatusCreated)
		e.golden(t, "create_identity", r)
		var created kratos.IdentityJSON
		r.decode(t, &created)
		id := created.ID
		if created.State != core.IdentityActive || len(created.VerifiableAddresses) != 1 ||
			!created.VerifiableAddresses[0].Verified || created.VerifiableAddresses[0].Status != core.AddressCompleted {
			t.Fatalf("created identity: %s", r.Body)
		}
		if c, ok := created.Credentials["password"]; !ok || c.Config != nil || len(c.Identifiers) != 1 || c.Identifiers[0] != "alice@example.com" {
			t.Fatalf("password credential in create response: %s", r.Body)
		}

		// get, with and without credentials config
		r = e.call(t, "GET", "/admin/identities/"+id, nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "get_identity", r)
		if strings.Contains(string(r.Body), "hashed_password") {
			t.Fatalf("hash exposed without include_credential: %s", r.Body)
		}
		r = e.call(t, "GET", "/admin/identities/"+id+"?include_credential=password", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "get_identity_include_password", r)
		var withCreds kratos.IdentityJSON
		r.decode(t, &withCreds)
		var pc struct {
			HashedPassword string `json:"hashed_password"`
		}
		if err := json.Unmarshal(withCreds.Credentials["password"].Config, &pc); err != nil {
			t.Fatal(err)
		}
		if err := e.hasher.Verify(ctx, []byte("correct horse battery"), pc.HashedPassword); err != nil {
			t.Fatalf("stored hash does not verify the imported cleartext password: %v", err)
		}

		// list by identifier (normalised like stored identifiers)
		r = e.call(t, "GET", "/admin/identities?credentials_identifier=ALICE@example.com", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "list_identities", r)
		var list []kratos.IdentityJSON
		r.decode(t, &list)
		if len(list) != 1 || list[0].ID != id {
			t.Fatalf("list by identifier: %s", r.Body)
		}

		// by external id
		r = e.call(t, "GET", "/admin/identities/by/external/crm-42", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "get_identity_by_external_id", r)

		// update (PUT)
		r = e.call(t, "PUT", "/admin/identities/"+id, map[string]any{
			"schema_id": "default", "state": "inactive",
			"traits":          map[string]any{"email": "alice2@example.com", "username": "alice"},
			"metadata_public": map[string]any{"plan": "free"}, "external_id": "crm-42",
		})
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "update_identity", r)
		var updated kratos.IdentityJSON
		r.decode(t, &updated)
		if updated.State != core.IdentityInactive || updated.VerifiableAddresses[0].Value != "alice2@example.com" ||
			updated.VerifiableAddresses[0].Verified || string(updated.MetadataAdmin) != "null" {
			t.Fatalf("updated identity: %s", r.Body)
		}
		if _, err := e.store.FindIdentityByIdentifier(ctx, core.CredentialPassword, "alice"); err != nil {
			t.Fatalf("username identifier not indexed after update: %v", err)
		}
		if _, err := e.store.FindIdentityByIdentifier(ctx, core.CredentialPassword, "alice@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("old identifier still indexed: %v", err)
		}

		// patch (JSON Patch): traits, state and verification status
		r = e.call(t, "PATCH", "/admin/identities/"+id, []map[string]any{
			{"op": "add", "path": "/traits/name", "value": "Alice Liddell"},
			{"op": "replace", "path": "/state", "value": "active"},
			{"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true},
			{"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed"},
		})
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "patch_identity", r)
		var patched kratos.IdentityJSON
		r.decode(t, &patched)
		if patched.State != core.IdentityActive || !patched.VerifiableAddresses[0].Verified || patched.VerifiableAddresses[0].VerifiedAt == nil ||
			!strings.Contains(string(patched.Traits), "Alice Liddell") {
			t.Fatalf("patched identity: %s", r.Body)
		}

		// batch create: one good row, one duplicate, one invalid
		r = e.call(t, "PATCH", "/admin/identities", map[string]any{"identities": []any{
			map[string]any{"patch_id": "00000000-0000-4000-8000-000000000001", "create": map[string]any{
				"schema_id": "default", "traits": map[string]any{"email": "bob@example.com"}}},
			map[string]any{"patch_id": "00000000-0000-4000-8000-000000000002", "create": map[string]any{
				"schema_id": "default", "traits": map[string]any{"email": "ALICE2@example.com"}}},
			map[string]any{"create": map[string]any{"schema_id": "default", "traits": map[string]any{"email": "not-an-email"}}},
		}})
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "batch_patch_identities", r)
		var batch kratos.BatchPatchResponse
		r.decode(t, &batch)
		if len(batch.Identities) != 3 || batch.Identities[0].Action != "create" || batch.Identities[1].Action != "error" ||
			batch.Identities[1].Error.Code != http.StatusConflict || batch.Identities[2].Error.Code != http.StatusBadRequest ||
			batch.Identities[0].PatchID != "00000000-0000-4000-8000-000000000001" || batch.Identities[2].PatchID != "" {
			t.Fatalf("batch response: %s", r.Body)
		}
		if n := e.countIdentities(t); n != 2 {
			t.Fatalf("identities after batch = %d, want 2", n)
		}

		// sessions of the identity
		base := time.Now().Add(-time.Hour)
		s1 := e.addSession(t, id, base)
		e.addSession(t, id, base.Add(time.Minute))
		e.addSession(t, id, base.Add(2*time.Minute))
		r = e.call(t, "GET", "/admin/identities/"+id+"/sessions?page_size=2", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "list_identity_sessions", r)
		var ss []kratos.SessionJSON
		r.decode(t, &ss)
		if len(ss) != 2 || r.Header.Get("X-Total-Count") != "3" || ss[0].Identity == nil {
			t.Fatalf("identity sessions: %s %v", r.Body, r.Header)
		}

		r = e.call(t, "GET", "/admin/sessions/"+s1.ID+"?expand=identity&expand=devices", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "get_session", r)
		var one kratos.SessionJSON
		r.decode(t, &one)
		if !one.Active || one.Identity == nil || len(one.Devices) != 1 {
			t.Fatalf("session: %s", r.Body)
		}

		r = e.call(t, "GET", "/admin/sessions?page_size=2", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "list_sessions", r)

		r = e.call(t, "PATCH", "/admin/sessions/"+s1.ID+"/extend", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "extend_session", r)
		r.decode(t, &one)
		if !one.ExpiresAt.After(s1.ExpiresAt) {
			t.Fatalf("extend did not move expires_at: %s", r.Body)
		}

		r = e.call(t, "DELETE", "/admin/sessions/"+s1.ID, nil)
		e.mustStatus(t, r, http.StatusNoContent)
		if s, err := e.store.GetSession(ctx, s1.ID); err != nil || s.Active {
			t.Fatalf("disabled session: %+v %v", s, err)
		}
		r = e.call(t, "GET", "/admin/identities/"+id+"/sessions?active=true", nil)
		e.mustStatus(t, r, http.StatusOK)
		if r.Header.Get("X-Total-Count") != "2" {
			t.Fatalf("active sessions after disabling one: %v", r.Header)
		}

		r = e.call(t, "DELETE", "/admin/identities/"+id+"/sessions", nil)
		e.mustStatus(t, r, http.StatusNoContent)
		if n, _ := e.store.CountSessions(ctx, store.SessionQuery{IdentityID: id}); n != 0 {
			t.Fatalf("sessions left after delete: %d", n)
		}

		// schemas
		r = e.call(t, "GET", "/schemas", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "list_schemas", r)
		r = e.call(t, "GET", "/schemas/default", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "get_schema", r)
		r = e.call(t, "GET", strings.TrimPrefix(kratos.SchemaURL("", "default"), ""), nil)
		e.mustStatus(t, r, http.StatusOK)

		// delete
		r = e.call(t, "DELETE", "/admin/identities/"+id, nil)
		e.mustStatus(t, r, http.StatusNoContent)
		r = e.call(t, "GET", "/admin/identities/"+id, nil)
		e.mustStatus(t, r, http.StatusNotFound)
		e.golden(t, "get_identity_not_found", r)
		if _, err := e.store.GetIdentity(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("identity still stored: %v", err)
		}
	})
}

// TestDeleteCredentials covers DELETE /admin/identities/{id}/credentials/{type}.
func TestDeleteCredentials(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env, _ string) {
		id := e.createIdentity(t, map[string]any{
			"schema_id": "default", "traits": map[string]any{"email": "oidc@example.com"},
			"credentials": map[string]any{
				"password": map[string]any{"config": map[string]any{"hashed_password": kratostest.ImportedHashes[0].Hash}},
				"oidc": map[string]any{"config": map[string]any{"providers": []any{
					map[string]any{"provider": "google", "subject": "123"},
					map[string]any{"provider": "github", "subject": "abc"}}}},
			},
		})
		r := e.call(t, "GET", "/admin/identities/"+id+"?include_credential=oidc", nil)
		e.mustStatus(t, r, http.StatusOK)
		e.golden(t, "get_identity_include_oidc", r)

		r = e.call(t, "DELETE", "/admin/identities/"+id+"/credentials/oidc?identifier=google:123", nil)
		e.mustStatus(t, r, http.StatusNoContent)
		if _, err := e.store.FindIdentityByIdentifier(context.Background(), core.CredentialOIDC, "google:123"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("removed oidc link still indexed: %v", err)
		}
		if _, err := e.store.FindIdentityByIdentifier(context.Background(), core.CredentialOIDC, "github:abc"); err != nil {
			t.Fatalf("other oidc link lost: %v", err)
		}
		r = e.call(t, "DELETE", "/admin/identities/"+id+"/credentials/password", nil)
		e.mustStatus(t, r, http.StatusNoContent)
		i, err := e.store.GetIdentity(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := i.Credential(core.CredentialPassword); !ok || string(c.Config) != "{}" {
			t.Fatalf("password credential after delete: %+v", c)
		}
	})
}

// TestImportHashedPasswords imports one identity per supported hash format
// through the batch endpoint and checks that the stored hash verifies the
// password. The self-service login test ranges over the same table.
func TestImportHashedPasswords(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env, _ string) {
		rows := make([]any, len(kratostest.ImportedHashes))
		for n, h := range kratostest.ImportedHashes {
			rows[n] = map[string]any{"create": map[string]any{"schema_id": "default",
				"traits":      map[string]any{"email": h.Name + "@hashes.example.com"},
				"credentials": map[string]any{"password": map[string]any{"config": map[string]any{"hashed_password": h.Hash}}}}}
		}
		r := e.call(t, "PATCH", "/admin/identities", map[string]any{"identities": rows})
		e.mustStatus(t, r, http.StatusOK)
		var batch kratos.BatchPatchResponse
		r.decode(t, &batch)
		for n, h := range kratostest.ImportedHashes {
			t.Run(h.Name, func(t *testing.T) {
				res := batch.Identities[n]
				if res.Action != "create" {
					t.Fatalf("import of %s failed: %+v", h.Name, res.Error)
				}
				r := e.call(t, "GET", "/admin/identities/"+res.Identity+"?include_credential=password", nil)
				e.mustStatus(t, r, http.StatusOK)
				var i kratos.IdentityJSON
				r.decode(t, &i)
				var cfg struct {
					HashedPassword string `json:"hashed_password"`
				}
				if err := json.Unmarshal(i.Credentials["password"].Config, &cfg); err != nil {
					t.Fatal(err)
				}
				if cfg.HashedPassword != h.Hash {
					t.Fatalf("stored hash %q, want the imported %q", cfg.HashedPassword, h.Hash)
				}
				if err := e.hasher.Verify(context.Background(), []byte(h.Password), cfg.HashedPassword); err != nil {
					t.Fatalf("password does not verify: %v", err)
				}
				if err := e.hasher.Verify(context.Background(), []byte(h.Password+"x"), cfg.HashedPassword); !errors.Is(err, password.ErrMismatch) {
					t.Fatalf("wrong password: %v, want ErrMismatch", err)
				}
			})
		}
	})
}

var linkRE = regexp.MustCompile(`<([^>]*)>; rel="([a-z]+)"`)

func links(h http.Header) map[string]string {
	out := map[string]string{}
	v := h.Get("Link")
	if v == "" {
		v = strings.Join(h["link"], ",")
	}
	for _, m := range linkRE.FindAllStringSubmatch(v, -1) {
		out[m[2]] = m[1]
	}
	return out
}

// TestPagination follows Link headers through identities (keyset and
// legacy) and sessions (keyset and migration).
func TestPagination(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env, _ string) {
		rows := make([]any, 5)
		for n := range rows {
			rows[n] = map[string]any{"create": map[string]any{"schema_id": "default",
				"traits": map[string]any{"email": fmt.Sprintf("page%d@example.com", n)}}}
		}
		r := e.call(t, "PATCH", "/admin/identities", map[string]any{"identities": rows})
		e.mustStatus(t, r, http.StatusOK)

		var all []string
		next := "/admin/identities?page_size=2"
		for pages := 0; next != ""; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			r := e.call(t, "GET", next, nil)
			e.mustStatus(t, r, http.StatusOK)
			var list []kratos.IdentityJSON
			r.decode(t, &list)
			for _, i := range list {
				all = append(all, i.ID)
			}
			l := links(r.Header)
			if l["first"] != "/admin/identities?page_size=2&page_token="+kratos.NilUUID {
				t.Fatalf("first link = %q", l["first"])
			}
			next = l["next"]
		}
		if len(all) != 5 || !sort.StringsAreSorted(all) {
			t.Fatalf("keyset pages gave %v", all)
		}

		// un-prefixed path through AdminPrefix, legacy pagination
		r = e.call(t, "GET", "/identities?page=2&per_page=2", nil)
		e.mustStatus(t, r, http.StatusOK)
		var last []kratos.IdentityJSON
		r.decode(t, &last)
		if len(last) != 1 || last[0].ID != all[4] || r.Header.Get("X-Total-Count") != "5" {
			t.Fatalf("legacy page 2: %s %v", r.Body, r.Header)
		}
		if l := links(r.Header); !strings.HasPrefix(l["first"], "/admin/identities?") || l["next"] != "" {
			t.Fatalf("legacy links %v", l)
		}

		// sessions keyset over ties in created_at
		at := time.Now().Add(-time.Hour)
		want := map[string]bool{}
		for n := 0; n < 5; n++ {
			s := e.addSession(t, all[n%2], at.Add(time.Duration(n/2)*time.Minute))
			want[s.ID] = true
		}
		got := map[string]bool{}
		next = "/admin/sessions?page_size=2"
		var prev time.Time
		for pages := 0; next != ""; pages++ {
			if pages > 5 {
				t.Fatal("session pagination does not end")
			}
			r := e.call(t, "GET", next, nil)
			e.mustStatus(t, r, http.StatusOK)
			var list []kratos.SessionJSON
			r.decode(t, &list)
			for _, s := range list {
				if got[s.ID] {
					t.Fatalf("session %s listed twice", s.ID)
				}
				got[s.ID] = true
				if !prev.IsZero() && s.IssuedAt.After(prev) {
					t.Fatalf("sessions not newest first")
				}
				prev = *s.IssuedAt
			}
			next = links(r.Header)["next"]
		}
		if len(got) != len(want) {
			t.Fatalf("session pages gave %d sessions, want %d", len(got), len(want))
		}

		// migration pagination of one identity's sessions
		seen := 0
		next = "/admin/identities/" + all[0] + "/sessions?page_size=1"
		for pages := 0; next != ""; pages++ {
			if pages > 5 {
				t.Fatal("identity session pagination does not end")
			}
			r := e.call(t, "GET", next, nil)
			e.mustStatus(t, r, http.StatusOK)
			var list []kratos.SessionJSON
			r.decode(t, &list)
			seen += len(list)
			if r.Header.Get("X-Total-Count") != "3" {
				t.Fatalf("X-Total-Count = %q", r.Header.Get("X-Total-Count"))
			}
			next = links(r.Header)["next"]
			if next != "" {
				u, _ := url.Parse(next)
				if u.Query().Get("page_token") == "" || u.Query().Get("per_page") != "1" {
					t.Fatalf("next link %q", next)
				}
			}
		}
		if seen != 3 {
			t.Fatalf("identity sessions seen = %d, want 3", seen)
		}
	})
}

// TestCreateKeepsGivenID: POST and PATCH /admin/identities create an
// identity under the id the body gives (a Latchkey extension: a migration
// keeps the ids apps reference), refuse one that is not a UUID or is the nil
// UUID with 400 naming the field, and one already in use with 409 naming
// the id, in Kratos' error format.
func TestCreateKeepsGivenID(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *env, _ string) {
		const kept = "4a0a3a1e-2b0c-4e0f-9c0d-1d2e3f405162"
		body := func(id, email string) map[string]any {
			b := map[string]any{"schema_id": "default", "traits": map[string]any{"email": email}}
			if id != "" {
				b["id"] = id
			}
			return b
		}
		r := e.call(t, "POST", "/admin/identities", body(strings.ToUpper(kept), "kept@example.com"))
		e.mustStatus(t, r, http.StatusCreated)
		var created kratos.IdentityJSON
		r.decode(t, &created)
		if created.ID != kept {
			t.Fatalf("created under %q, want %q", created.ID, kept)
		}
		e.mustStatus(t, e.call(t, "GET", "/admin/identities/"+kept, nil), http.StatusOK)

		for _, tt := range []struct {
			name, id string
			want     int
			reason   string
		}{
			{"not a UUID", "user-42", http.StatusBadRequest, `The identity id "user-42" is not a valid UUID.`},
			{"nil UUID", "00000000-0000-0000-0000-000000000000", http.StatusBadRequest, "nil UUID"},
			{"in use", kept, http.StatusConflict, `An identity with the id "` + kept + `" already exists.`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := e.call(t, "POST", "/admin/identities", body(tt.id, "other@example.com"))
				e.mustStatus(t, r, tt.want)
				var ge struct {
					Error kratos.GenericError `json:"error"`
				}
				r.decode(t, &ge)
				if ge.Error.Code != tt.want || !strings.Contains(ge.Error.Reason+ge.Error.Message, tt.reason) {
					t.Fatalf("error = %+v, want %d with %q", ge.Error, tt.want, tt.reason)
				}
			})
		}
		// Nothing was written by the refused creates.
		if r := e.call(t, "GET", "/admin/identities?credentials_identifier=other@example.com", nil); string(r.Body) != "[]" {
			t.Fatalf("a refused create left an identity: %s", r.Body)
		}

		// The batch endpoint: one row keeps its id, one taken id fails
		// alone with 409, one without id gets a new one.
		const second = "7b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"
		r = e.call(t, "PATCH", "/admin/identities", map[string]any{"identities": []any{
			map[string]any{"create": body(second, "second@example.com")},
			map[string]any{"create": body(kept, "third@example.com")},
			map[string]any{"create": body("", "fourth@example.com")},
		}})
		e.mustStatus(t, r, http.StatusOK)
		var batch kratos.BatchPatchResponse
		r.decode(t, &batch)
		got := batch.Identities
		if got[0].Action != "create" || got[0].Identity != second {
			t.Errorf("row 0 = %+v, want created as %s", got[0], second)
		}
		if got[1].Action != "error" || got[1].Error == nil || got[1].Error.Code != http.StatusConflict ||
			!strings.Contains(got[1].Error.Reason+got[1].Error.Message, kept) {
			t.Errorf("row 1 = %+v, want a 409 naming %s", got[1], kept)
		}
		if got[2].Action != "create" || got[2].Identity == "" || got[2].Identity == kept || got[2].Identity == second {
			t.Errorf("row 2 = %+v, want a new id", got[2])
		}
	})
}
