package session

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchkey/latchkey/core"
)

func TestJWTClaimsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	k := newKeys(t, newStore(t), clk, ES256)
	now := clk.Now()
	in := Claims{
		Subject:   alice,
		SessionID: "5b0f0c1e-2a3b-4c5d-8e9f-0a1b2c3d4e5f",
		Issuer:    "https://auth.example.com",
		Audience:  []string{"example.com"},
		ID:        "jti-1",
		ExpiresAt: now.Add(12 * time.Hour),
		Extra: map[string]any{
			"email":    map[string]any{"address": "alice@example.com", "is_primary": true, "is_verified": true},
			"username": "alice",
			"amr":      []string{"pwd", "otp"},
		},
	}
	tok, err := k.SignJWT(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	// The header names the key and the algorithm.
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if alg, _ := h.Algorithm(); alg != jwa.ES256() {
		t.Fatalf("alg %v", alg)
	}
	list, _ := k.List(ctx)
	if kid, _ := h.KeyID(); kid != list[0].ID {
		t.Fatalf("kid %q, want %q", kid, list[0].ID)
	}

	out, err := k.VerifyJWT(ctx, tok, VerifyOptions{Audience: "example.com", Issuer: "https://auth.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"sub", out.Subject == alice},
		{"session_id", out.SessionID == in.SessionID},
		{"iss", out.Issuer == in.Issuer},
		{"aud", len(out.Audience) == 1 && out.Audience[0] == "example.com"},
		{"jti", out.ID == "jti-1"},
		{"iat defaults to now", out.IssuedAt.Equal(now)},
		{"exp", out.ExpiresAt.Equal(in.ExpiresAt)},
		{"username", out.Extra["username"] == "alice"},
		{"email object", out.Extra["email"].(map[string]any)["address"] == "alice@example.com"},
		{"amr", len(out.Extra["amr"].([]any)) == 2},
		{"registered claims not in Extra", out.Extra["sub"] == nil && out.Extra["session_id"] == nil},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: claims %+v", c.name, out)
		}
	}
}

func TestSignJWTInvalid(t *testing.T) {
	t.Parallel()
	clk := newClock()
	k := newKeys(t, newStore(t), clk, ES256)
	now := clk.Now()
	tests := []struct {
		name string
		c    Claims
	}{
		{"no expiry", Claims{Subject: alice}},
		{"expiry before issue", Claims{IssuedAt: now, ExpiresAt: now.Add(-time.Second)}},
		{"extra redefines sub", Claims{ExpiresAt: now.Add(time.Hour), Extra: map[string]any{"sub": "mallory"}}},
		{"extra redefines session_id", Claims{ExpiresAt: now.Add(time.Hour), Extra: map[string]any{"session_id": "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := k.SignJWT(context.Background(), tt.c)
			if core.ErrorCode(err) != core.CodeInvalid {
				t.Fatalf("SignJWT err = %v, want invalid", err)
			}
		})
	}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyJWTRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	k := newKeys(t, newStore(t), clk, ES256)
	now := clk.Now()
	list, _ := k.List(ctx)
	kid := list[0].ID
	valid, err := k.SignJWT(ctx, Claims{Subject: alice, Issuer: "iss", Audience: []string{"aud"}, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	payload := map[string]any{"sub": alice, "iss": "iss", "aud": []string{"aud"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}

	// HMAC confusion: sign HS256 with the public JWK as the secret.
	jwksBytes, _ := k.JWKS(ctx)
	hsTok := func() string {
		tok := jwt.New()
		_ = tok.Set(jwt.SubjectKey, alice)
		_ = tok.Set(jwt.ExpirationKey, now.Add(time.Hour))
		hdr := jws.NewHeaders()
		_ = hdr.Set(jws.KeyIDKey, kid)
		b, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), jwksBytes, jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}()
	// A foreign ES256 key that claims our kid.
	foreign := func() string {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		key, _ := jwk.Import(priv)
		_ = key.Set(jwk.KeyIDKey, kid)
		tok := jwt.New()
		_ = tok.Set(jwt.SubjectKey, alice)
		_ = tok.Set(jwt.ExpirationKey, now.Add(time.Hour))
		b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), key))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}()
	// The same key, but no kid in the header.
	noKid := b64(map[string]any{"alg": "ES256", "typ": "JWT"}) + "." + parts[1] + "." + parts[2]
	tamperedPayload := func() string {
		p := map[string]any{}
		for key, v := range payload {
			p[key] = v
		}
		p["sub"] = bob
		return parts[0] + "." + b64(p) + "." + parts[2]
	}()
	signWith := func(c Claims) string {
		tok, err := k.SignJWT(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	tests := []struct {
		name    string
		token   string
		opts    VerifyOptions
		expired bool
	}{
		{"empty", "", VerifyOptions{}, false},
		{"garbage", "not.a.jwt", VerifyOptions{}, false},
		{"oversized", strings.Repeat("a", maxJWTLen+1), VerifyOptions{}, false},
		{"tampered payload", tamperedPayload, VerifyOptions{}, false},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), VerifyOptions{}, false},
		{"alg none", b64(map[string]any{"alg": "none", "kid": kid, "typ": "JWT"}) + "." + b64(payload) + ".", VerifyOptions{}, false},
		{"alg none with signature", b64(map[string]any{"alg": "none", "kid": kid, "typ": "JWT"}) + "." + parts[1] + "." + parts[2], VerifyOptions{}, false},
		{"HS256 with the public key as secret", hsTok, VerifyOptions{}, false},
		{"header alg swapped to RS256", b64(map[string]any{"alg": "RS256", "kid": kid, "typ": "JWT"}) + "." + parts[1] + "." + parts[2], VerifyOptions{}, false},
		{"foreign key with our kid", foreign, VerifyOptions{}, false},
		{"no kid", noKid, VerifyOptions{}, false},
		{"unknown kid", b64(map[string]any{"alg": "ES256", "kid": "nope", "typ": "JWT"}) + "." + parts[1] + "." + parts[2], VerifyOptions{}, false},
		{"wrong audience", valid, VerifyOptions{Audience: "other"}, false},
		{"wrong issuer", valid, VerifyOptions{Issuer: "other"}, false},
		{"expired", signWith(Claims{IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Minute)}), VerifyOptions{}, true},
		{"not yet valid", signWith(Claims{NotBefore: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}), VerifyOptions{}, false},
		{"issued in the future", signWith(Claims{IssuedAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}), VerifyOptions{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := k.VerifyJWT(ctx, tt.token, tt.opts)
			if c != nil {
				t.Fatalf("VerifyJWT accepted the token: %+v", c)
			}
			wantCode(t, err, core.CodeUnauthorized, ErrInvalidJWT)
			if got := errors.Is(err, ErrExpired); got != tt.expired {
				t.Fatalf("errors.Is(err, ErrExpired) = %v, want %v (err %v)", got, tt.expired, err)
			}
		})
	}

	// Within the skew a just-expired token still passes; past it, not.
	skewTok := signWith(Claims{IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-DefaultSkew / 2)})
	if _, err := k.VerifyJWT(ctx, skewTok, VerifyOptions{}); err != nil {
		t.Fatalf("token expired within the skew: %v", err)
	}
	if _, err := k.VerifyJWT(ctx, valid, VerifyOptions{Audience: "aud", Issuer: "iss"}); err != nil {
		t.Fatalf("valid token: %v", err)
	}
}

func TestRS256JWT(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	k := newKeys(t, newStore(t), clk, RS256)
	tok, err := k.SignJWT(ctx, Claims{Subject: alice, ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := jws.Parse([]byte(tok))
	if alg, _ := msg.Signatures()[0].ProtectedHeaders().Algorithm(); alg != jwa.RS256() {
		t.Fatalf("alg %v", alg)
	}
	if c, err := k.VerifyJWT(ctx, tok, VerifyOptions{}); err != nil || c.Subject != alice {
		t.Fatalf("VerifyJWT = %+v, %v", c, err)
	}
}

func FuzzVerifyJWT(f *testing.F) {
	ctx := context.Background()
	clk := newClock()
	k := newKeys(f, newStore(f), clk, ES256)
	valid, err := k.SignJWT(ctx, Claims{Subject: alice, SessionID: "s", ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	f.Add(valid)
	f.Add("")
	f.Add("a.b.c")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(b64(map[string]any{"alg": "none"}) + "." + parts[1] + ".")
	f.Add(b64(map[string]any{"alg": "HS256", "kid": "x"}) + "." + parts[1] + "." + parts[2])
	f.Fuzz(func(t *testing.T, token string) {
		c, err := k.VerifyJWT(ctx, token, VerifyOptions{})
		if err != nil {
			if core.ErrorCode(err) != core.CodeUnauthorized || !errors.Is(err, ErrInvalidJWT) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// Whatever verifies must carry exactly the signed claims: JWS
		// signatures cover header and payload, so any accepted variant has
		// the same content.
		if c.Subject != alice || c.SessionID != "s" {
			t.Fatalf("forged token %q verified with claims %+v", token, c)
		}
	})
}
