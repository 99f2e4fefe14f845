package flow

import (
	"encoding/json"
	"testing"
)

// TestStashDef checks that the definition name read from an envelope's
// first bytes is the one decoding the envelope gives, for envelopes as
// encode writes them and for the stashes it falls back to decoding.
func TestStashDef(t *testing.T) {
	encoded := func(env *envelope) []byte {
		raw, err := env.encode()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, tc := range []struct {
		name  string
		stash []byte
		def   string
		ok    bool
	}{
		{"encoded", encoded(&envelope{Def: "kratos.login", Data: map[string]json.RawMessage{"k": json.RawMessage(`"v"`)}}), "kratos.login", true},
		{"escaped name", encoded(&envelope{Def: `a&b"c`, Data: map[string]json.RawMessage{}}), `a&b"c`, true},
		{"no name", encoded(&envelope{Data: map[string]json.RawMessage{}}), "", true},
		{"name not first", []byte(`{"data":{},"def":"hanko.login"}`), "hanko.login", true},
		{"empty", nil, "", true},
		{"not JSON", []byte(`{"data":`), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			def, ok := stashDef(tc.stash)
			if def != tc.def || ok != tc.ok {
				t.Fatalf("stashDef(%s) = %q, %v; want %q, %v", tc.stash, def, ok, tc.def, tc.ok)
			}
		})
	}
}
