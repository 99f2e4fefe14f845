package hanko

import "net/http"

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
