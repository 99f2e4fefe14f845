package schema

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/latchkey/latchkey/core"
)

func TestExtract(t *testing.T) {
	t.Parallel()
	r := mustRegistry(t,
		Source{ID: "nested", URL: testdataURL(t, "nested.schema.json")},
		Source{ID: "branches", URL: testdataURL(t, "branches.schema.json")},
		Source{ID: "recursive", URL: testdataURL(t, "recursive.schema.json")},
	)
	email := func(v string) Address { return Address{Via: core.ViaEmail, Value: v} }
	sms := func(v string) Address { return Address{Via: core.ViaSMS, Value: v} }

	tests := []struct {
		name   string
		schema string
		traits string
		want   *Extracted
	}{
		{
			name:   "default schema, e-mail only",
			schema: DefaultID,
			traits: `{"email":"Jane.Doe@Example.COM"}`,
			want: &Extracted{
				Identifiers: map[core.CredentialType][]string{
					core.CredentialPassword: {"jane.doe@example.com"},
					core.CredentialCode:     {"jane.doe@example.com"},
					core.CredentialWebAuthn: {"jane.doe@example.com"},
				},
				CodeIdentifiers:     []Address{email("jane.doe@example.com")},
				VerifiableAddresses: []Address{email("jane.doe@example.com")},
				RecoveryAddresses:   []Address{email("jane.doe@example.com")},
				PrimaryEmail:        "jane.doe@example.com",
				PasskeyDisplayName:  "Jane.Doe@Example.COM",
				TOTPAccountName:     "Jane.Doe@Example.COM",
			},
		},
		{
			name:   "default schema with username",
			schema: DefaultID,
			traits: `{"email":"a@example.com","username":"Jane_Doe","name":"Jane"}`,
			want: &Extracted{
				Identifiers: map[core.CredentialType][]string{
					core.CredentialPassword: {"a@example.com", "jane_doe"},
					core.CredentialCode:     {"a@example.com"},
					core.CredentialWebAuthn: {"a@example.com"},
				},
				CodeIdentifiers:     []Address{email("a@example.com")},
				VerifiableAddresses: []Address{email("a@example.com")},
				RecoveryAddresses:   []Address{email("a@example.com")},
				PrimaryEmail:        "a@example.com",
				PasskeyDisplayName:  "a@example.com",
				TOTPAccountName:     "a@example.com",
			},
		},
		{
			name:   "array of e-mails, nested identifier, phone via sms",
			schema: "nested",
			traits: `{
				"emails": ["Z@example.com", "b@Example.com", "c@example.com"],
				"phone": " +49 (170) 123-4567 ",
				"profile": {"handle": "Al_Bundy"},
				"display": "Al's phone"
			}`,
			want: &Extracted{
				Identifiers: map[core.CredentialType][]string{
					core.CredentialPassword: {"z@example.com", "b@example.com", "c@example.com", "al_bundy"},
					core.CredentialWebAuthn: {"al_bundy"},
					core.CredentialCode:     {"+491701234567", "b@example.com", "c@example.com", "z@example.com"},
				},
				CodeIdentifiers: []Address{
					sms("+491701234567"), email("b@example.com"), email("c@example.com"), email("z@example.com"),
				},
				VerifiableAddresses: []Address{
					email("z@example.com"), email("b@example.com"), email("c@example.com"), sms("+491701234567"),
				},
				RecoveryAddresses:  []Address{email("z@example.com"), email("b@example.com"), email("c@example.com")},
				PasskeyDisplayName: "Al's phone",
				TOTPAccountName:    "Al_Bundy",
			},
		},
		{
			name:   "passkey display name falls back to the webauthn identifier",
			schema: "nested",
			traits: `{"emails":["a@example.com"],"profile":{"handle":"Kim"}}`,
			want: &Extracted{
				Identifiers: map[core.CredentialType][]string{
					core.CredentialPassword: {"a@example.com", "kim"},
					core.CredentialWebAuthn: {"kim"},
					core.CredentialCode:     {"a@example.com"},
				},
				CodeIdentifiers:     []Address{email("a@example.com")},
				VerifiableAddresses: []Address{email("a@example.com")},
				RecoveryAddresses:   []Address{email("a@example.com")},
				PasskeyDisplayName:  "kim",
				TOTPAccountName:     "Kim",
			},
		},
		{
			name:   "same address twice in different case is one address",
			schema: "nested",
			traits: `{"emails":["a@example.com","A@EXAMPLE.com"]}`,
			want: &Extracted{
				Identifiers: map[core.CredentialType][]string{
					core.CredentialPassword: {"a@example.com"},
					core.CredentialCode:     {"a@example.com"},
				},
				CodeIdentifiers:     []Address{email("a@example.com")},
				VerifiableAddresses: []Address{email("a@example.com")},
				RecoveryAddresses:   []Address{email("a@example.com")},
			},
		},
		{
			name:   "oneOf branch that matches an e-mail",
			schema: "branches",
			traits: `{"contact":"Me@Example.com"}`,
			want: &Extracted{
				Identifiers:         map[core.CredentialType][]string{core.CredentialCode: {"me@example.com"}},
				CodeIdentifiers:     []Address{email("me@example.com")},
				VerifiableAddresses: []Address{email("me@example.com")},
			},
		},
		{
			name:   "oneOf branch that matches a phone number; prefixItems, items and additionalProperties",
			schema: "branches",
			traits: `{"contact":"+15550100123","backup":["R@example.com","User1","user1"],"tags":{"k":"Key-1"}}`,
			want: &Extracted{
				Identifiers: map[core.CredentialType][]string{
					core.CredentialCode:     {"+15550100123"},
					core.CredentialPassword: {"user1"},
					core.CredentialWebAuthn: {"key-1"},
				},
				CodeIdentifiers:     []Address{sms("+15550100123")},
				VerifiableAddresses: []Address{sms("+15550100123")},
				RecoveryAddresses:   []Address{email("r@example.com")},
				PasskeyDisplayName:  "key-1",
			},
		},
		{
			name:   "recursive $ref",
			schema: "recursive",
			traits: `{"name":"Root","child":{"name":"Kid","child":{"name":"grandkid"}}}`,
			want: &Extracted{
				Identifiers: map[core.CredentialType][]string{
					core.CredentialPassword: {"grandkid", "kid", "root"}, // lexical pointer order
				},
			},
		},
		{
			name:   "empty and non-string values carry nothing",
			schema: "recursive",
			traits: `{"name":"  ","child":{"name":""}}`,
			want:   &Extracted{Identifiers: map[core.CredentialType][]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustSchema(t, r, tt.schema)
			got, err := s.Extract(json.RawMessage(tt.traits))
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Extract:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestExtractRejectsInvalidTraits(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, mustRegistry(t), DefaultID)
	ex, err := s.Extract(json.RawMessage(`{"email":"nope"}`))
	var ve *ValidationError
	if ex != nil || !errors.As(err, &ve) {
		t.Fatalf("Extract = %v, %v; want nil and a *ValidationError", ex, err)
	}
}

func TestExtractIsDeterministic(t *testing.T) {
	t.Parallel()
	s := mustSchema(t, mustRegistry(t, Source{ID: "nested", URL: testdataURL(t, "nested.schema.json")}), "nested")
	traits := json.RawMessage(`{"emails":["c@x.io","a@x.io","b@x.io"],"phone":"+4930123456","profile":{"handle":"h1"},"display":"d"}`)
	first, err := s.Extract(traits)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		got, err := s.Extract(traits)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d differs:\n%+v\n%+v", i, got, first)
		}
	}
}

func TestLessPointer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"/emails/2", "/emails/10", true},
		{"/emails/10", "/emails/2", false},
		{"/a", "/b", true},
		{"/a", "/a/b", true},
		{"/a/b", "/a", false},
		{"/x", "/x", false},
	}
	for _, tt := range tests {
		if got := lessPointer(tt.a, tt.b); got != tt.want {
			t.Errorf("lessPointer(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
