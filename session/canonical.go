package session

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
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

// ecHalfOrders are n/2 of the curves in ecCurves, the largest low-S s, as
// big-endian bytes of the curve's scalar size: a signature's s (the same
// size) is low-S when it does not compare greater.
var ecHalfOrders = func() map[string][]byte {
	m := make(map[string][]byte, len(ecCurves))
	for alg, c := range ecCurves {
		m[alg] = new(big.Int).Rsh(c.Params().N, 1).FillBytes(make([]byte, (c.Params().BitSize+7)/8))
	}
	return m
}()

// compactJWT is a compact JWS split and decoded by parseCompact.
type compactJWT struct {
	header    jwsHeader
	signed    []byte // the signing input: header and payload segments with their dot
	payload   []byte // decoded
	signature []byte // decoded
}

// jwsHeader is what VerifyJWT reads of the protected header (read with
// jwx's jwsbb header parser: names are case-sensitive). crit and b64 are
// only looked at for presence: Latchkey signs neither, and a header with
// either is refused (RFC 7515 §4.1.11 asks to refuse critical extensions
// one does not understand; RFC 7797's b64 changes the signing input).
type jwsHeader struct {
	Alg, Kid  string
	Crit, B64 bool
}

// canonicalJWT returns an error unless token is a compact JWS in the one
// accepted encoding.
func canonicalJWT(token string) error {
	_, err := parseCompact(token)
	return err
}

// parseCompact splits token, a compact JWS in the one accepted encoding,
// into its decoded parts, or returns an error saying why it is not one.
func parseCompact(token string) (compactJWT, error) {
	var out compactJWT
	var seg [3]string
	rest := token
	for i := range seg {
		dot := strings.IndexByte(rest, '.')
		if i == 2 {
			if dot >= 0 {
				return out, errors.New("not three dot-separated segments")
			}
			seg[i] = rest
			break
		}
		if dot < 0 {
			return out, errors.New("not three dot-separated segments")
		}
		seg[i], rest = rest[:dot], rest[dot+1:]
	}
	var raw [3][]byte
	// One allocation holds the copy of token the segments decode from
	// (its first two segments are the signing input) and, after it, the
	// three decoded segments.
	mem := make([]byte, len(token)+rawURL.DecodedLen(len(seg[0]))+rawURL.DecodedLen(len(seg[1]))+rawURL.DecodedLen(len(seg[2])))
	src, buf, off := mem[:copy(mem, token):len(token)], mem[len(token):], 0
	for i, p := range seg {
		if p == "" {
			return out, fmt.Errorf("segment %d is empty", i+1)
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return out, fmt.Errorf("segment %d holds %q, which is not unpadded base64url", i+1, c)
			}
		}
		n, err := rawURL.Decode(buf, src[off:off+len(p)])
		if err != nil {
			return out, fmt.Errorf("segment %d: %w", i+1, err)
		}
		raw[i], buf, off = buf[:n:n], buf[n:], off+len(p)+1
	}
	h := jwsbb.HeaderParse(raw[0])
	alg, err := jwsbb.HeaderGetString(h, "alg")
	if err != nil {
		return out, fmt.Errorf("header alg: %w", err)
	}
	out.header.Alg = alg
	if out.header.Kid, err = jwsbb.HeaderGetString(h, "kid"); err != nil && !errors.Is(err, jwsbb.ErrHeaderNotFound()) {
		return out, fmt.Errorf("header kid: %w", err)
	}
	out.header.Crit, out.header.B64 = jwsbb.HeaderHas(h, "crit"), jwsbb.HeaderHas(h, "b64")
	if curve, ok := ecCurves[out.header.Alg]; ok {
		size := (curve.Params().BitSize + 7) / 8
		sig := raw[2]
		if len(sig) != 2*size {
			return out, fmt.Errorf("%s signature of %d bytes, want %d", out.header.Alg, len(sig), 2*size)
		}
		if bytes.Compare(sig[size:], ecHalfOrders[out.header.Alg]) > 0 {
			return out, errors.New("ECDSA signature in high-S form")
		}
	}
	out.signed = src[: len(seg[0])+1+len(seg[1]) : len(seg[0])+1+len(seg[1])]
	out.payload, out.signature = raw[1], raw[2]
	return out, nil
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
