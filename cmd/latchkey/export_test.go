package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExportImportRoundTrip moves identities Latchkey → file → a fresh
// Latchkey on every backend: identities, addresses, metadata and password
// hashes arrive, and the users log in with their old passwords.
func TestExportImportRoundTrip(t *testing.T) {
	sources := testDSNs(t)
	targets := testDSNs(t)
	for name := range sources {
		t.Run(name, func(t *testing.T) {
			t.Chdir(t.TempDir()) // --dev on a server database keeps its secrets in the working directory
			devEnv(t)
			t.Setenv("LATCHKEY_DSN", sources[name])
			publicA, adminA, _ := startServe(t, serveOptions{dev: true, migrate: true})
			t.Setenv("LATCHKEY_DSN", targets[name])
			publicB, adminB, _ := startServe(t, serveOptions{dev: true, migrate: true})

			users := map[string]string{"ada@example.com": "ada's old password 1", "bob@example.com": "bob's old password 2"}
			for email, pw := range users {
				if code, v := kratosStep(t, publicA, "registration", fmt.Sprintf(`{"method":"password","traits":{"email":%q},"password":%q}`, email, pw)); code != 200 {
					t.Fatalf("registration on A: %d %v", code, v)
				}
			}
			// One identity made by the admin API with metadata and an
			// external id, and no credential.
			code, v := postJSON(t, adminA+"/admin/identities", `{"schema_id":"default","traits":{"email":"carol@example.com","name":"Carol"},
				"metadata_public":{"plan":"gold"},"metadata_admin":{"crm":42},"external_id":"ext-carol","state":"inactive"}`)
			if code != http.StatusCreated {
				t.Fatalf("create on A: %d %v", code, v)
			}
			carolID, _ := v["id"].(string)

			file := filepath.Join(t.TempDir(), "identities.ndjson")
			if _, errOut, err := runIdentities(t, "", "export", "--endpoint", adminA, "--include-credentials", "--page-size", "2", "-o", file); err != nil {
				t.Fatalf("export: %v %s", err, errOut)
			} else if !strings.Contains(errOut, "Exported 3 identities") {
				t.Fatalf("export summary: %s", errOut)
			}
			raw, _ := os.ReadFile(file)
			if n := strings.Count(string(raw), "\n"); n != 3 || !strings.Contains(string(raw), `"hashed_password"`) ||
				!strings.Contains(string(raw), `"id":"`+carolID+`"`) {
				t.Fatalf("export file has %d lines:\n%s", n, raw)
			}
			// The JSON array form holds the same records.
			arr, _, err := runIdentities(t, "", "export", "--endpoint", adminA, "--format", "json")
			var records []map[string]any
			if err != nil || json.Unmarshal([]byte(arr), &records) != nil || len(records) != 3 || records[0]["credentials"] != nil {
				t.Fatalf("export --format json (without credentials): %v %s", err, arr)
			}

			out, errOut, err := runIdentities(t, "", "import", file, "--endpoint", adminB, "--json")
			if err != nil {
				t.Fatalf("import into B: %v %s %s", err, out, errOut)
			}
			for email, pw := range users {
				code, v := kratosStep(t, publicB, "login", fmt.Sprintf(`{"method":"password","identifier":%q,"password":%q}`, email, pw))
				if code != 200 || v["session_token"] == nil {
					t.Fatalf("%s logs in on B with the old password: %d %v", email, code, v)
				}
				code, _ = kratosStep(t, publicB, "login", fmt.Sprintf(`{"method":"password","identifier":%q,"password":"a wrong password"}`, email))
				if code != 400 {
					t.Fatalf("%s with a wrong password on B: %d", email, code)
				}
			}
			_, list := getJSONArray(t, adminB+"/admin/identities?credentials_identifier=carol@example.com")
			if len(list) != 1 {
				t.Fatalf("carol on B: %v", list)
			}
			c := list[0]
			traits, _ := c["traits"].(map[string]any)
			mp, _ := c["metadata_public"].(map[string]any)
			ma, _ := c["metadata_admin"].(map[string]any)
			addrs, _ := c["verifiable_addresses"].([]any)
			if traits["name"] != "Carol" || mp["plan"] != "gold" || ma["crm"] != float64(42) || c["external_id"] != "ext-carol" ||
				c["state"] != "inactive" || len(addrs) != 1 || c["id"] != carolID {
				t.Fatalf("carol on B = %v (id on A %s)", c, carolID)
			}
			// Every identity keeps its id; a second import of the same
			// file fails record by record with 409 naming the id.
			_, onA := getJSONArray(t, adminA+"/admin/identities")
			_, onB := getJSONArray(t, adminB+"/admin/identities")
			if len(onA) != 3 || len(onB) != 3 {
				t.Fatalf("A has %d identities, B %d", len(onA), len(onB))
			}
			for n := range onA {
				if onA[n]["id"] != onB[n]["id"] {
					t.Fatalf("identity %d: id %v on A, %v on B", n, onA[n]["id"], onB[n]["id"])
				}
			}
			out, _, err = runIdentities(t, "", "import", file, "--endpoint", adminB, "--json")
			var sum importSummary
			if err == nil || json.Unmarshal([]byte(out), &sum) != nil || sum.Failed != 3 || sum.Failures[0].Status != http.StatusConflict ||
				!strings.Contains(sum.Failures[0].Reason, "already exists") {
				t.Fatalf("second import: %v %s", err, out)
			}
		})
	}
}

func getJSONArray(t *testing.T, url string) (int, []map[string]any) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var v []map[string]any
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, v
}

// TestImportDropIDs: --drop-ids sends records without their top-level id
// (Ory Kratos refuses the field), leaving nested ids and other records alone.
func TestImportDropIDs(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"top-level id", `{"id":"4a0a3a1e-2b0c-4e0f-9c0d-1d2e3f405162","schema_id":"default"}`, `{"schema_id":"default"}`},
		{"no id", `{"schema_id":"default"}`, `{"schema_id":"default"}`},
		{"nested id kept", `{"id":"x","verifiable_addresses":[{"id":"y"}]}`, `{"verifiable_addresses":[{"id":"y"}]}`},
		{"not an object", `[1]`, `[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withoutID(json.RawMessage(tt.in))); got != tt.want {
				t.Errorf("withoutID(%s) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestImportIntoKratosHintsDropIDs: a server that refuses the records' id
// the way Ory Kratos' strict decoder does (400, json: unknown field "id")
// gets a failure that says to import with --drop-ids, and with --drop-ids
// the records go without it.
func TestImportIntoKratosHintsDropIDs(t *testing.T) {
	kratosLike := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Identities []map[string]json.RawMessage `json:"identities"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		for _, p := range body.Identities {
			if strings.Contains(string(p["create"]), `"id"`) {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":{"code":400,"status":"Bad Request","reason":"json: unknown field \"id\"","message":"The request was malformed or contained invalid parameters"}}`)
				return
			}
		}
		out := make([]map[string]string, len(body.Identities))
		for n := range out {
			out[n] = map[string]string{"action": "create", "identity": "4a0a3a1e-2b0c-4e0f-9c0d-1d2e3f40516" + fmt.Sprint(n)}
		}
		json.NewEncoder(w).Encode(map[string]any{"identities": out})
	})
	file := filepath.Join(t.TempDir(), "export.ndjson")
	if err := os.WriteFile(file, []byte(`{"id":"4a0a3a1e-2b0c-4e0f-9c0d-1d2e3f405162","schema_id":"default","traits":{"email":"ada@example.com"}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runIdentities(t, "", "import", file, "--endpoint", kratosLike, "--json")
	var sum importSummary
	if err == nil || json.Unmarshal([]byte(out), &sum) != nil || sum.Failed != 1 || !strings.Contains(sum.Failures[0].Reason, "--drop-ids") {
		t.Fatalf("import into a Kratos-like server: %v %s", err, out)
	}
	out, _, err = runIdentities(t, "", "import", file, "--endpoint", kratosLike, "--json", "--drop-ids")
	if err != nil || json.Unmarshal([]byte(out), &sum) != nil || sum.Created != 1 {
		t.Fatalf("import --drop-ids: %v %s", err, out)
	}
}
