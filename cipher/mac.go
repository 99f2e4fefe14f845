package cipher

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinMACSecretLen is the shortest secrets.default entry Signer accepts (the
// minimum Kratos enforces for its secrets).
const MinMACSecretLen = 16

// MACSize is the length of the tags MAC returns.
const MACSize = sha256.Size

// Signer computes and verifies HMAC-SHA256 tags (RFC 2104) under a list of
// secrets: the first signs, every one verifies. It is safe for concurrent
// use.
type Signer struct {
	keys [][]byte
}

// NewSigner returns a Signer over secrets (the secrets.default list, newest
// first). It returns an error when the list is empty or a secret is shorter
// than MinMACSecretLen bytes.
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("cipher: no signing secret configured")
	}
	s := &Signer{keys: make([][]byte, 0, len(secrets))}
	for i, secret := range secrets {
		if len(secret) < MinMACSecretLen {
			return nil, fmt.Errorf("cipher: signing secret %d is %d bytes long, want at least %d", i, len(secret), MinMACSecretLen)
		}
		s.keys = append(s.keys, []byte(secret))
	}
	return s, nil
}

// MAC returns the HMAC-SHA256 of msg under the first secret. It cannot
// fail. Callers that sign several kinds of values should prefix msg with a
// purpose label so a tag for one kind is never valid for another.
func (s *Signer) MAC(msg []byte) []byte {
	m := hmac.New(sha256.New, s.keys[0])
	m.Write(msg)
	return m.Sum(nil)
}

// VerifyMAC reports whether mac is the HMAC-SHA256 of msg under any of the
// secrets. Each comparison is constant-time; a tag of the wrong length is
// refused.
func (s *Signer) VerifyMAC(msg, mac []byte) bool {
	if len(mac) != MACSize {
		return false
	}
	var sum [MACSize]byte
	ok := 0
	for _, k := range s.keys {
		m := hmac.New(sha256.New, k)
		m.Write(msg)
		// Check every key so the time taken does not reveal which one matched.
		if hmac.Equal(m.Sum(sum[:0]), mac) {
			ok = 1
		}
	}
	return ok == 1
}

// MACs returns the HMAC-SHA256 of msg under every secret, the first one's
// first (the tag MAC returns): for a caller that keeps an encoding of a tag
// rather than the tag and checks it against the encoding of each, in
// constant time and without stopping at a match.
func (s *Signer) MACs(msg []byte) [][]byte {
	out := make([][]byte, len(s.keys))
	for i, k := range s.keys {
		m := hmac.New(sha256.New, k)
		m.Write(msg)
		out[i] = m.Sum(nil)
	}
	return out
}
