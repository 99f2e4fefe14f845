package kratos

import (
	"net/http"
	"strings"
)

// AdminPrefix makes the admin listener answer Kratos' un-prefixed admin paths
// (notes §1): a request whose path does not start with /admin is routed as
// /admin + path, so GET :4434/identities ≡ GET :4434/admin/identities. The
// shared paths /health/…, /.well-known/… and /metrics… are left alone. Link
// headers are built from the rewritten path, as Kratos does.
func AdminPrefix(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p == "/admin" || strings.HasPrefix(p, "/admin/") || keepUnprefixed(p) {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/admin" + p
		if r.URL.RawPath != "" {
			r2.URL.RawPath = "/admin" + r.URL.RawPath
		}
		next.ServeHTTP(w, r2)
	})
}

func keepUnprefixed(p string) bool {
	for _, pre := range []string{"/health/", "/.well-known/", "/metrics"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}
