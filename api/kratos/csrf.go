package kratos

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/core"
)

// Anti-CSRF protection as Kratos does it with nosurf (notes §2.2): a cookie
// holds a random 32-byte token; browser flows render it masked (a fresh
// one-time key XORed over it on every render) in the csrf_token node; a
// submission must carry a masked or raw token equal to the cookie's.

const csrfTokenLen = 32

// csrfMaxAge is the lifetime of the anti-CSRF cookie (365 days, as Kratos).
const csrfMaxAge = 365 * 24 * time.Hour

// CSRFCookieName returns the name of the anti-CSRF cookie for a public base
// URL: "csrf_token_" and the lowercase hex SHA-256 of the URL string.
func CSRFCookieName(publicBase string) string {
	sum := sha256.Sum256([]byte(publicBase))
	return "csrf_token_" + hex.EncodeToString(sum[:])
}

// csrf holds the anti-CSRF settings of the public listener.
type csrf struct {
	name     string
	cookie   cookieAttrs
	random   io.Reader
	insecure bool
}

// token returns the real token of the request's anti-CSRF cookie, or nil.
func (c *csrf) token(r *http.Request) []byte {
	ck, err := r.Cookie(c.name)
	if err != nil {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(ck.Value)
	if err != nil || len(b) != csrfTokenLen {
		return nil
	}
	return b
}

// ensure returns the request's token, issuing a new cookie on w when the
// request has none (or a malformed one).
func (c *csrf) ensure(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if t := c.token(r); t != nil {
		return t, nil
	}
	return c.rotate(w)
}

// rotate issues a fresh token cookie, as Kratos does when a session cookie
// for another identity is issued.
func (c *csrf) rotate(w http.ResponseWriter) ([]byte, error) {
	t := make([]byte, csrfTokenLen)
	if _, err := io.ReadFull(c.random, t); err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Generating the anti-CSRF token failed.", Cause: err}
	}
	ck := c.cookie.cookie(c.name, base64.StdEncoding.EncodeToString(t))
	ck.MaxAge = int(csrfMaxAge / time.Second)
	http.SetCookie(w, ck)
	return t, nil
}

// mask returns token masked with a fresh one-time key: base64 of key ‖
// (token XOR key), 64 bytes before encoding.
func (c *csrf) mask(token []byte) string {
	if len(token) != csrfTokenLen {
		return ""
	}
	buf := make([]byte, 2*csrfTokenLen)
	if _, err := io.ReadFull(c.random, buf[:csrfTokenLen]); err != nil {
		_, _ = rand.Read(buf[:csrfTokenLen])
	}
	for i := range csrfTokenLen {
		buf[csrfTokenLen+i] = token[i] ^ buf[i]
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// unmask returns the real token of a submitted token: masked (64 bytes) or
// raw (32 bytes); nil when it is neither.
func unmask(sent string) []byte {
	b, err := base64.StdEncoding.DecodeString(sent)
	if err != nil {
		return nil
	}
	switch len(b) {
	case csrfTokenLen:
		return b
	case 2 * csrfTokenLen:
		out := make([]byte, csrfTokenLen)
		for i := range csrfTokenLen {
			out[i] = b[i] ^ b[csrfTokenLen+i]
		}
		return out
	}
	return nil
}

// csrfHash is what a flow stores of the cookie token it was created for.
func csrfHash(token []byte) string {
	sum := sha256.Sum256(token)
	return hex.EncodeToString(sum[:])
}

// verify checks a browser submission: the cookie must be there and the
// submitted token (body csrf_token, else the X-CSRF-Token header) must equal
// it. It returns a 403 security_csrf_violation error saying why not.
func (c *csrf) verify(r *http.Request, sent string) error {
	if sent == "" {
		sent = r.Header.Get("X-CSRF-Token")
	}
	cookieTok := c.token(r)
	switch {
	case r.Header.Get("Cookie") == "":
		return csrfViolation(r, "The HTTP Cookie Header was empty.")
	case cookieTok == nil:
		return csrfViolation(r, "The anti-CSRF cookie was not found.")
	case sent == "":
		return csrfViolation(r, "The anti-CSRF token was not sent in the request body or headers.")
	}
	got := unmask(sent)
	if got == nil || subtle.ConstantTimeCompare(got, cookieTok) != 1 {
		return csrfViolation(r, "The HTTP Cookie Header was set and a CSRF token was sent but they do not match.")
	}
	return nil
}

// verifyFlow checks that a browser flow is fetched with the anti-CSRF cookie
// it was created for.
func (c *csrf) verifyFlow(r *http.Request, stored string) error {
	t := c.token(r)
	if t == nil {
		return csrfViolation(r, "The anti-CSRF cookie was not found.")
	}
	if subtle.ConstantTimeCompare([]byte(csrfHash(t)), []byte(stored)) != 1 {
		return csrfViolation(r, "The HTTP Cookie Header was set and a CSRF token was sent but they do not match.")
	}
	return nil
}

// csrfError is Kratos' security_csrf_violation (403).
type csrfError struct {
	reason string
	ajax   bool
}

func (e *csrfError) Error() string { return "csrf violation: " + e.reason }

// Unwrap returns the core error for the status mapping.
func (e *csrfError) Unwrap() error {
	return &core.Error{Code: core.CodeForbidden, Message: "The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues."}
}

func csrfViolation(r *http.Request, reason string) error {
	mode := r.Header.Get("Sec-Fetch-Mode")
	return &csrfError{reason: reason, ajax: mode == "cors" || mode == "same-origin"}
}

func (e *csrfError) genericError(requestID string) GenericError {
	hint := "The anti-CSRF cookie was not sent with the request. Make sure that your server forwards the Cookie header of the browser to Ory."
	if e.ajax {
		hint = "The anti-CSRF cookie was not sent with the request. Make sure that your AJAX request sets credentials: 'include' (fetch) or withCredentials: true (axios)."
	}
	return GenericError{ID: "security_csrf_violation", Code: http.StatusForbidden, Status: http.StatusText(http.StatusForbidden),
		Request: requestID, Reason: "Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues. " + e.reason + " " + hint,
		Message: "the request was rejected to protect you from Cross-Site-Request-Forgery",
		Details: map[string]any{"reject_reason": e.reason, "hint": hint,
			"docs": "https://www.ory.sh/kratos/docs/debug/csrf"}}
}
