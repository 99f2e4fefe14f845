package hanko

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store/storetest"
)

// BenchmarkPasskeyCrypto is the cryptography one passkey login must do on
// the server, apart from everything else, so that the login's "CPU beyond
// the cryptography" (issue 16) is a figure measured on the same machine:
//
//   - primitives: SHA-256 of the client data, SHA-256 of authenticator
//     data ‖ client data hash and one P-256 ECDSA verification (WebAuthn
//     §7.2 steps 19–20), SHA-256 of the JWT signing input and one P-256
//     ECDSA signature (the session JWT, ES256);
//   - as-server: the same through the libraries the server calls: the COSE
//     key parsed and verified by go-webauthn's webauthncose, and the
//     session JWT signed by session.Keys.SignJWT (jwx) with a Hanko
//     session's claims.
func BenchmarkPasskeyCrypto(b *testing.B) {
	a := newAuthenticator()
	cose := a.cred.Key.AttestationData()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	clientData := make([]byte, 240) // bench's client data JSON is ~230 bytes
	authData := make([]byte, 37)
	digest := func() []byte {
		ch := sha256.Sum256(clientData)
		h := sha256.New()
		h.Write(authData)
		h.Write(ch[:])
		return h.Sum(nil)
	}
	sig, err := ecdsa.SignASN1(rand.Reader, priv, digest())
	if err != nil {
		b.Fatal(err)
	}
	input := make([]byte, 420) // header.payload of a Hanko session JWT
	b.Run("primitives", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !ecdsa.VerifyASN1(&priv.PublicKey, digest(), sig) {
				b.Fatal("verify")
			}
			h := sha256.Sum256(input)
			if _, err := ecdsa.SignASN1(rand.Reader, priv, h[:]); err != nil {
				b.Fatal(err)
			}
		}
	})

	st := storetest.SQLite(b)
	d := NewTestingDeps(b, st)
	keys := d.Keys
	// a's own key signs what the COSE key verifies.
	ch := sha256.Sum256(clientData)
	signedDigest := sha256.Sum256(append(append([]byte{}, authData...), ch[:]...))
	signed, err := a.cred.Key.Sign(signedDigest[:]) // virtualwebauthn signs a digest
	if err != nil {
		b.Fatal(err)
	}
	claims := session.Claims{Subject: "6f0c4b8e-5a55-4d5b-9a0c-6a3b3f1c2d4e", SessionID: "0e5b1c62-1f6a-4d0f-8a54-1e7c1b2a3d4f",
		Audience: []string{"localhost"}, ExpiresAt: time.Now().Add(12 * time.Hour),
		Extra: map[string]any{"email": map[string]any{"address": "bench@example.com", "is_primary": true, "is_verified": true},
			"amr": []string{"passkey"}}}
	ctx := context.Background()
	b.Run("as-server", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			key, err := webauthncose.ParsePublicKey(cose)
			if err != nil {
				b.Fatal(err)
			}
			ch := sha256.Sum256(clientData)
			ok, err := webauthncose.VerifySignature(key, append(append([]byte{}, authData...), ch[:]...), signed)
			if err != nil || !ok {
				b.Fatal("verify", err)
			}
			if _, err := keys.SignJWT(ctx, claims); err != nil {
				b.Fatal(err)
			}
		}
	})
}
