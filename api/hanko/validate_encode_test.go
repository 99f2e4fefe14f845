package hanko

import (
	"encoding/json"
	"testing"
	"time"
)

// TestValidateFixedEncoding: /sessions/validate's answer for claims
// without custom ones, encoded in place (validateFixed), is byte for byte
// what validateResponse with ClaimsJSON.MarshalJSON encodes, for claims
// that leave out each optional field in turn and with characters
// encoding/json escapes.
func TestValidateFixedEncoding(t *testing.T) {
	t.Parallel()
	iat := time.Date(2026, 12, 7, 18, 0, 0, 123, time.UTC)
	full := ClaimsJSON{Subject: "5b0f0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f", IssuedAt: &iat,
		Expiration: iat.Add(time.Hour), Audience: []string{"a<b>&c", "x"}, Issuer: "https://auth.example.com/\u2028",
		Email:    &EmailClaim{Address: "alice@example.com", IsPrimary: true, IsVerified: true},
		Username: "al\"ice", SessionID: "6c1f0d2e-3b4c-4d5e-8f90-1a2b3c4d5e6f", AMR: []string{"pwd", "otp"}}
	cases := []ClaimsJSON{full, {}, {Subject: "s", Expiration: iat}}
	for _, drop := range []func(*ClaimsJSON){
		func(c *ClaimsJSON) { c.IssuedAt = nil }, func(c *ClaimsJSON) { c.Audience = nil },
		func(c *ClaimsJSON) { c.Audience = []string{} }, func(c *ClaimsJSON) { c.Issuer = "" },
		func(c *ClaimsJSON) { c.Email = nil }, func(c *ClaimsJSON) { c.Username = "" },
		func(c *ClaimsJSON) { c.AMR = nil }, func(c *ClaimsJSON) { c.SessionID = "" },
	} {
		c := full
		drop(&c)
		cases = append(cases, c)
	}
	for n, c := range cases {
		exp := c.Expiration
		want, err := json.Marshal(validateResponse{IsValid: true, Claims: &c, ExpirationTime: &exp, UserID: c.Subject})
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(validateFixed{IsValid: true, Claims: (*claimsFields)(&c), ExpirationTime: &exp, UserID: c.Subject})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("case %d:\n got %s\nwant %s", n, got, want)
		}
	}
}
