package session

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestVerifyJWTCanonicalOnly: a token has exactly one accepted encoding.
// The same ECDSA signature in high-S form (s' = n - s, which ECDSA also
// verifies), whitespace around or inside the token, padding, and base64
// with non-zero unused bits are refused, with the verified-JWT cache on
// and off.
func TestVerifyJWTCanonicalOnly(t *testing.T) {
	t.Parallel()
	for _, cacheSize := range []int{0, 100} {
		ctx := context.Background()
		clk := newClock()
		o := KeysOptions{Algorithm: ES256, Now: clk.Now, VerifyCacheSize: cacheSize}
		if cacheSize == 0 {
			o.VerifyCacheSize = -1
		}
		k := newKeysWith(t, clk, o)
		valid, err := k.SignJWT(ctx, Claims{Subject: alice, ExpiresAt: clk.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.VerifyJWT(ctx, valid, VerifyOptions{}); err != nil {
			t.Fatalf("the canonical token: %v", err)
		}
		// About half of raw ECDSA signatures are high-S: SignJWT must
		// normalise every one of them.
		for i := 0; i < 32; i++ {
			tok, err := k.SignJWT(ctx, Claims{Subject: alice, ID: strings.Repeat("x", i), ExpiresAt: clk.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := k.VerifyJWT(ctx, tok, VerifyOptions{}); err != nil {
				t.Fatalf("a token SignJWT made is refused: %v", err)
			}
		}
		parts := strings.Split(valid, ".")
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature %d bytes: %v", len(sig), err)
		}
		n := elliptic.P256().Params().N
		r, s := sig[:32], new(big.Int).SetBytes(sig[32:])
		flipped := new(big.Int).Sub(n, s)
		// SignJWT must itself produce low-S signatures, or the token would
		// be refused below.
		half := new(big.Int).Rsh(n, 1)
		if s.Cmp(half) > 0 {
			t.Fatalf("SignJWT made a high-S signature")
		}
		high := make([]byte, 64)
		copy(high, r)
		flipped.FillBytes(high[32:])
		highS := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(high)

		// A last character whose unused low bits are set decodes to the
		// same bytes in lenient decoders.
		last := parts[2][len(parts[2])-1]
		alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		idx := strings.IndexByte(alphabet, last)
		sloppy := parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + string(alphabet[idx|0x03])
		for name, bad := range map[string]string{
			"high-S":             highS,
			"leading space":      " " + valid,
			"trailing space":     valid + " ",
			"trailing newline":   valid + "\n",
			"space inside":       parts[0] + ". " + parts[1] + "." + parts[2],
			"tab padded":         "\t" + valid + "\t",
			"base64 padding":     valid + "==",
			"unused bits set":    sloppy,
			"standard base64 +/": strings.NewReplacer("-", "+", "_", "/").Replace(valid),
		} {
			if bad == valid {
				continue // the replacement found nothing to change
			}
			if _, err := k.VerifyJWT(ctx, bad, VerifyOptions{}); err == nil {
				t.Errorf("cache %d: %s accepted", cacheSize, name)
			}
		}
	}
}

func FuzzCanonicalJWT(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.AAAA")
	f.Add(" a.b.c")
	f.Add("a.b.c==")
	f.Fuzz(func(t *testing.T, tok string) {
		if canonicalJWT(tok) != nil {
			return
		}
		// An accepted token is its own only spelling: every segment
		// re-encodes to itself.
		for _, p := range strings.Split(tok, ".") {
			b, err := base64.RawURLEncoding.DecodeString(p)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != p {
				t.Fatalf("accepted %q with a non-canonical segment %q", tok, p)
			}
		}
	})
}
