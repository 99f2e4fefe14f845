package kratos

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// FuzzWebAuthnImport feeds arbitrary admin import bodies (credentials.passkey
// and credentials.webauthn) through webauthnImport: a body is refused with
// an error or becomes records whose ids are base64url and whose handles are
// those the body gave.
func FuzzWebAuthnImport(f *testing.F) {
	for _, s := range []string{
		`{"config":{"credentials":[{"id":"AQID","public_key":"pQECAyYgASFY","authenticator":{"aaguid":"AAAAAAAAAAAAAAAAAAAAAA==","sign_count":3},"is_passwordless":true,"flags":{"user_verified":true},"transport":["usb"]}],"user_handle":"aGFuZGxl"}}`,
		`{"config":{"credentials":[{"id":[1,2,3],"public_key":[4,5]}]}}`,
		`{"config":{"credentials":[{"id":"-_-_","public_key":"AQ"}]}}`,
		`{"config":{"credentials":[{"id":[256]}]}}`,
		`{"config":{"credentials":[{"id":"!!"}]}}`,
		`{"config":{"credentialz":[]}}`,
		`{"config":null}`,
		`null`,
		`[]`,
		`{"config":{"credentials":[{"added_at":"not a time"}]}}`,
	} {
		f.Add("passkey", s)
		f.Add("webauthn", s)
	}
	f.Fuzz(func(t *testing.T, name, body string) {
		list, err := webauthnImport(name, json.RawMessage(body))
		if err != nil {
			return
		}
		for _, c := range list {
			if _, derr := base64.RawURLEncoding.DecodeString(c.ID); derr != nil {
				t.Fatalf("id %q is not base64url", c.ID)
			}
			if c.MFAOnly && name != "webauthn" {
				t.Fatalf("a %s credential became a security key", name)
			}
			if len(c.AAGUID) == 0 {
				t.Fatalf("no AAGUID")
			}
		}
	})
}
