package hanko

import (
	"context"
	"io"
	"net/http"
	"time"
)

// mountAdminAPI registers the admin routes under the configured prefix.
func (h *Handler) mountAdminAPI(mux *http.ServeMux) {
	p := h.cfg.AdminPrefix
	route := func(pattern string, f http.HandlerFunc) {
		method, path, _ := cut(pattern)
		mux.Handle(method+" "+p+path, h.adminRoute(f))
	}
	h.mountAdminUsers(route)
	h.mountAdminCredentials(route)
	h.mountAdminAudit(route)
	h.mountAdminWebhooks(route)
	route("GET /{$}", h.adminStatus)
}

// adminStatus serves GET / of the admin API, Hanko's status page: 200 while
// the database answers, 500 when it does not (text/html, as Hanko).
func (h *Handler) adminStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.store.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "<!DOCTYPE html><title>Latchkey</title><p>The API is not functioning properly: the database does not answer.</p>\n")
		return
	}
	io.WriteString(w, "<!DOCTYPE html><title>Latchkey</title><p>The API is running.</p>\n")
}

// cut splits "METHOD /path" at the space.
func cut(pattern string) (method, path string, ok bool) {
	for n := 0; n < len(pattern); n++ {
		if pattern[n] == ' ' {
			return pattern[:n], pattern[n+1:], true
		}
	}
	return "", pattern, false
}
