package session

import (
	"crypto/sha256"
	"fmt"
	"io"
)

// Token prefixes, as Kratos writes them (x/token_prefixes.go).
const (
	SessionTokenPrefix = "ory_st_"
	LogoutTokenPrefix  = "ory_lo_"
)

// tokenRandLen is the number of random alphanumerics after the prefix.
const tokenRandLen = 32

// maxTokenLen bounds what Verify hashes and looks up; longer input cannot be
// a token we issued.
const maxTokenLen = 256

const alphanum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newToken returns prefix followed by tokenRandLen alphanumerics drawn
// uniformly from r (rejection sampling, so no character is favoured).
func newToken(r io.Reader, prefix string) (string, error) {
	out := make([]byte, len(prefix), len(prefix)+tokenRandLen)
	copy(out, prefix)
	var buf [64]byte
	for len(out) < cap(out) {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("read random: %w", err)
		}
		for _, b := range buf {
			// 248 = 4*62: values at or above it would bias the modulo.
			if b >= 248 {
				continue
			}
			out = append(out, alphanum[b%62])
			if len(out) == cap(out) {
				break
			}
		}
	}
	return string(out), nil
}

// HashToken returns the SHA-256 of a session or logout token, the value the
// store indexes. It cannot fail.
func HashToken(token string) [sha256.Size]byte {
	if len(token) <= maxTokenLen {
		// Copying into a stack buffer spares the heap allocation a
		// []byte(token) conversion of this size costs: Verify is hot.
		var buf [maxTokenLen]byte
		n := copy(buf[:], token)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(token))
}

// logoutToken derives the logout token of a session from its id with the
// signing secret, so it can be handed out again at any time while only its
// hash is stored (Kratos hands out the same logout token on every call).
func logoutToken(mac MACer, sessionID string) string {
	tag := mac.MAC([]byte("latchkey/session/logout-token\x00" + sessionID))
	out := make([]byte, len(LogoutTokenPrefix), len(LogoutTokenPrefix)+tokenRandLen)
	copy(out, LogoutTokenPrefix)
	// A 32-byte tag gives one character per byte; the slight modulo bias
	// leaves far more than 128 bits of unpredictability.
	for i := 0; i < tokenRandLen; i++ {
		out = append(out, alphanum[int(tag[i%len(tag)])%62])
	}
	return string(out)
}
