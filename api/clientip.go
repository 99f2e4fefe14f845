package api

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

const clientIPKey ctxKey = 100

// WithClientIP resolves the client IP of each request once, the one place
// where it is decided: the peer's address, unless the peer is one of the
// trusted proxies (serve.public.trusted_proxies). A trusted proxy may name
// the client in X-Forwarded-For, where the right-most address that is not
// itself a trusted proxy is the client (addresses further left were written
// by the client and are not believed), or, without that header, in
// X-Real-IP. From any other peer both headers are ignored. ClientIP returns
// the result.
func WithClientIP(trusted []netip.Prefix) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := resolveClientIP(r, trusted)
			// Inside WithRequestID the request's state carries it: no
			// second context and request copy per request.
			if st, _ := r.Context().Value(requestStateKey).(*requestState); st != nil {
				st.clientIP, st.hasClientIP = ip, true
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey, ip)))
		})
	}
}

// ClientIP returns the request's client IP address (without port, IPv4 in
// its dotted form even when it arrived mapped into IPv6): the one
// WithClientIP resolved, or the peer's address when the request did not pass
// through it (the admin listener, tests of a bare handler).
func ClientIP(r *http.Request) string {
	if st, _ := r.Context().Value(requestStateKey).(*requestState); st != nil && st.hasClientIP {
		return st.clientIP
	}
	if ip, ok := r.Context().Value(clientIPKey).(string); ok {
		return ip
	}
	return peerIP(r)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = strings.Trim(r.RemoteAddr, "[]")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return host
}

func resolveClientIP(r *http.Request, trusted []netip.Prefix) string {
	peer := peerIP(r)
	if len(trusted) == 0 || !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	if len(hops) == 0 {
		if a, ok := parseIP(r.Header.Get("X-Real-IP")); ok {
			return a
		}
		return peer
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseIP(hops[i])
		if !ok {
			// Not an address: nothing to its left can be believed.
			return client
		}
		client = a
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return client // every hop is a trusted proxy: the left-most one
}

// parseIP parses an address as proxies write it: bare, in brackets, or
// with a port.
func parseIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return "", false
	}
	return a.Unmap().WithZone("").String(), true
}

func isTrusted(ip string, trusted []netip.Prefix) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
