package core

import (
	"testing"
	"time"
)

// TestIdentityClone: changing a clone's addresses, their VerifiedAt,
// credentials and identifiers leaves the original as it was.
func TestIdentityClone(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	orig := func() *Identity {
		v := at
		return &Identity{ID: "a",
			Addresses:   []Address{{Via: ViaEmail, Value: "a@example.com", VerifiedAt: &v}},
			Credentials: map[CredentialType]Credential{CredentialPassword: {Type: CredentialPassword, Identifiers: []string{"a@example.com"}}}}
	}
	for _, tc := range []struct {
		name   string
		change func(c *Identity)
	}{
		{"address", func(c *Identity) { c.Addresses[0].Value = "b@example.com" }},
		{"verified at", func(c *Identity) { *c.Addresses[0].VerifiedAt = at.Add(time.Hour) }},
		{"credential", func(c *Identity) { delete(c.Credentials, CredentialPassword) }},
		{"identifier", func(c *Identity) { c.Credentials[CredentialPassword].Identifiers[0] = "b@example.com" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i := orig()
			tc.change(i.Clone())
			if i.Addresses[0].Value != "a@example.com" || !i.Addresses[0].VerifiedAt.Equal(at) {
				t.Fatalf("original address changed: %+v", i.Addresses[0])
			}
			cr, ok := i.Credential(CredentialPassword)
			if !ok || cr.Identifiers[0] != "a@example.com" {
				t.Fatalf("original credential changed: %+v", i.Credentials)
			}
		})
	}
}
