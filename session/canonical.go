package session

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// A JWT has exactly one encoding Latchkey accepts (RFC 7515 §7.1 compact
// serialisation, RFC 7518 §3.4 ECDSA): three segments of unpadded
// base64url with no unused bits set, nothing around or between them, and
// an ECDSA signature whose s is in the lower half of the curve order. ECDSA
// also verifies (r, n-s), and lenient base64 decoders read several
// spellings of one byte string; refusing all but one spelling keeps a token
// from having twins that a revocation list, a replay check or a cache keyed
// by the token text would treat as different tokens.

var rawURL = base64.RawURLEncoding.Strict()

// ecCurves are the curves of the ECDSA JWS algorithms.
var ecCurves = map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}

// canonicalJWT returns an error unless token is a compact JWS in the one
// accepted encoding.
func canonicalJWT(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not three dot-separated segments")
	}
	var raw [3][]byte
	for i, p := range parts {
		if p == "" {
			return fmt.Errorf("segment %d is empty", i+1)
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("segment %d holds %q, which is not unpadded base64url", i+1, c)
			}
		}
		b, err := rawURL.DecodeString(p)
		if err != nil {
			return fmt.Errorf("segment %d: %w", i+1, err)
		}
		raw[i] = b
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw[0], &h); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if curve, ok := ecCurves[h.Alg]; ok {
		size := (curve.Params().BitSize + 7) / 8
		sig := raw[2]
		if len(sig) != 2*size {
			return fmt.Errorf("%s signature of %d bytes, want %d", h.Alg, len(sig), 2*size)
		}
		half := new(big.Int).Rsh(curve.Params().N, 1)
		if new(big.Int).SetBytes(sig[size:]).Cmp(half) > 0 {
			return errors.New("ECDSA signature in high-S form")
		}
	}
	return nil
}

// lowS rewrites the ECDSA signature of the compact JWS token to its low-S
// form (s := n - s when s > n/2), which verifies the same; other tokens
// are returned unchanged.
func lowS(token []byte, alg string) ([]byte, error) {
	curve, ok := ecCurves[alg]
	if !ok {
		return token, nil
	}
	dot := bytes.LastIndexByte(token, '.')
	if dot < 0 {
		return nil, errors.New("lowS: not a compact JWS")
	}
	sig, err := rawURL.DecodeString(string(token[dot+1:]))
	size := (curve.Params().BitSize + 7) / 8
	if err != nil || len(sig) != 2*size {
		return nil, fmt.Errorf("lowS: malformed %s signature", alg)
	}
	n := curve.Params().N
	s := new(big.Int).SetBytes(sig[size:])
	if s.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		return token, nil
	}
	s.Sub(n, s).FillBytes(sig[size:])
	out := append(bytes.Clone(token[:dot+1]), rawURL.EncodeToString(sig)...)
	return out, nil
}
