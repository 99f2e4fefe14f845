package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// WithAPIKey requires "Authorization: Bearer <key>" on every request when key
// is not empty; with an empty key it passes every request through. A request
// without the header or with a different key is answered by deny, which
// writes the face's own 401 error. The health endpoints (/health/alive,
// /health/ready and their /admin/health/ copies) stay open so load balancers
// can probe the listener. Keys are compared in constant time, over their
// SHA-256 digests so that not even the length leaks.
func WithAPIKey(key string, deny http.Handler) Middleware {
	if key == "" {
		return func(next http.Handler) http.Handler { return next }
	}
	want := sha256.Sum256([]byte(key))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isHealthPath(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			got, ok := bearer(r.Header.Get("Authorization"))
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
				deny.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func bearer(h string) (string, bool) {
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	return tok, tok != ""
}

func isHealthPath(p string) bool {
	switch p {
	case "/health/alive", "/health/ready", "/admin/health/alive", "/admin/health/ready":
		return true
	}
	return false
}
