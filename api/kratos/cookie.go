package kratos

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// cookieAttrs are the attributes shared by the cookies the face sets.
type cookieAttrs struct {
	Domain   string
	Path     string
	SameSite http.SameSite
	Secure   bool
}

func (a cookieAttrs) cookie(name, value string) *http.Cookie {
	path := a.Path
	if path == "" {
		path = "/"
	}
	ss := a.SameSite
	if ss == 0 {
		ss = http.SameSiteLaxMode
	}
	if !a.Secure && ss == http.SameSiteNoneMode {
		ss = http.SameSiteLaxMode
	}
	return &http.Cookie{Name: name, Value: value, Path: path, Domain: a.Domain, Secure: a.Secure,
		HttpOnly: true, SameSite: ss}
}

// sameSite parses a session.cookie.same_site value.
func sameSite(v string) http.SameSite {
	switch v {
	case "Strict":
		return http.SameSiteStrictMode
	case "None":
		return http.SameSiteNoneMode
	default:
		return http.SameSiteLaxMode
	}
}

// Sealer encrypts and authenticates cookie values (cipher.Cipher satisfies
// it).
type Sealer interface {
	// Encrypt seals plaintext bound to aad.
	Encrypt(plaintext, aad []byte) ([]byte, error)
	// Decrypt opens a sealed value, or returns an error when it was not
	// sealed with aad under a configured secret.
	Decrypt(ct, aad []byte) ([]byte, error)
}

// sessionCookie writes and reads the session cookie (notes §2.3): its value
// is the session token sealed with the cipher, so clients never parse it
// and a tampered cookie is refused.
type sessionCookie struct {
	name       string
	attrs      cookieAttrs
	persistent bool
	seal       Sealer
}

// cookiePayload is what the session cookie seals, in Kratos' shape.
type cookiePayload struct {
	Token     string    `json:"session_token"`
	ExpiresAt time.Time `json:"expires_at"`
	Nonce     string    `json:"nonce"`
}

var cookieAAD = []byte("latchkey kratos session cookie")

// issue sets the cookie for a session token expiring at expires.
func (c *sessionCookie) issue(w http.ResponseWriter, token string, expires, now time.Time) error {
	nonce := make([]byte, 6)
	_, _ = rand.Read(nonce)
	raw, err := json.Marshal(cookiePayload{Token: token, ExpiresAt: expires.UTC(), Nonce: base64.RawURLEncoding.EncodeToString(nonce)})
	if err != nil {
		return fmt.Errorf("encode session cookie: %w", err)
	}
	ct, err := c.seal.Encrypt(raw, cookieAAD)
	if err != nil {
		return fmt.Errorf("seal session cookie: %w", err)
	}
	ck := c.attrs.cookie(c.name, base64.RawURLEncoding.EncodeToString(ct))
	if c.persistent {
		ck.MaxAge = max(1, int(expires.Sub(now)/time.Second))
	}
	http.SetCookie(w, ck)
	return nil
}

// clear removes the cookie.
func (c *sessionCookie) clear(w http.ResponseWriter) {
	ck := c.attrs.cookie(c.name, "")
	ck.MaxAge = -1
	http.SetCookie(w, ck)
}

// token returns the session token in the request's cookie, or "" when there
// is none or it does not open.
func (c *sessionCookie) token(r *http.Request) string {
	ck, err := r.Cookie(c.name)
	if err != nil || ck.Value == "" {
		return ""
	}
	ct, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return ""
	}
	raw, err := c.seal.Decrypt(ct, cookieAAD)
	if err != nil {
		return ""
	}
	var p cookiePayload
	if json.Unmarshal(raw, &p) != nil {
		return ""
	}
	return p.Token
}
