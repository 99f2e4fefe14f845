package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("192.0.2.10/32")}
	cases := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		realIP  string
		want    string
	}{
		{name: "no proxies configured: headers ignored", remote: "203.0.113.5:4000", xff: []string{"198.51.100.1"}, realIP: "198.51.100.2", want: "203.0.113.5"},
		{name: "untrusted peer: X-Forwarded-For ignored", trusted: trusted, remote: "203.0.113.5:4000", xff: []string{"198.51.100.1"}, want: "203.0.113.5"},
		{name: "untrusted peer: X-Real-IP ignored", trusted: trusted, remote: "203.0.113.5:4000", realIP: "198.51.100.2", want: "203.0.113.5"},
		{name: "trusted peer: X-Forwarded-For honoured", trusted: trusted, remote: "10.1.2.3:4000", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted peer: a spoofed left-most hop is not believed", trusted: trusted, remote: "10.1.2.3:4000", xff: []string{"1.1.1.1, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted chain: right-most untrusted hop", trusted: trusted, remote: "10.1.2.3:4000", xff: []string{"1.1.1.1", "198.51.100.1, 10.9.9.9"}, want: "198.51.100.1"},
		{name: "every hop a proxy: the left-most", trusted: trusted, remote: "10.1.2.3:4000", xff: []string{"10.0.0.1, 10.0.0.2"}, want: "10.0.0.1"},
		{name: "garbage hop stops the walk", trusted: trusted, remote: "10.1.2.3:4000", xff: []string{"198.51.100.1, junk, 10.0.0.2"}, want: "10.0.0.2"},
		{name: "hop with a port", trusted: trusted, remote: "10.1.2.3:4000", xff: []string{"198.51.100.1:5555"}, want: "198.51.100.1"},
		{name: "IPv6 hop in brackets", trusted: trusted, remote: "[fd00::1]:4000", xff: []string{"[2001:db8::7]"}, want: "2001:db8::7"},
		{name: "trusted peer: X-Real-IP without X-Forwarded-For", trusted: trusted, remote: "192.0.2.10:4000", realIP: "198.51.100.2", want: "198.51.100.2"},
		{name: "trusted peer: bad X-Real-IP", trusted: trusted, remote: "192.0.2.10:4000", realIP: "nope", want: "192.0.2.10"},
		{name: "trusted single address, its neighbour is not", trusted: trusted, remote: "192.0.2.11:4000", xff: []string{"198.51.100.1"}, want: "192.0.2.11"},
		{name: "IPv4-mapped peer", trusted: trusted, remote: "[::ffff:10.1.2.3]:4000", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "IPv4-mapped untrusted peer in dotted form", remote: "[::ffff:203.0.113.5]:4000", want: "203.0.113.5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			// Alone (its own context value), and inside WithRequestID as
			// the listeners chain it (the IP rides in the request state).
			for name, wrap := range map[string]func(http.Handler) http.Handler{
				"alone":                WithClientIP(tc.trusted),
				"inside WithRequestID": func(h http.Handler) http.Handler { return Chain(h, WithRequestID(), WithClientIP(tc.trusted)) },
			} {
				var got string
				wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = ClientIP(r) })).
					ServeHTTP(httptest.NewRecorder(), r)
				if got != tc.want {
					t.Fatalf("%s: ClientIP = %q, want %q", name, got, tc.want)
				}
			}
		})
	}
	t.Run("without the middleware: the peer", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "203.0.113.5:4000"
		r.Header.Set("X-Forwarded-For", "198.51.100.1")
		if got := ClientIP(r); got != "203.0.113.5" {
			t.Fatalf("ClientIP = %q", got)
		}
	})
}

// FuzzClientIP: any headers from any peer give an answer without panicking,
// and an untrusted peer always gets its own address.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.1, 10.0.0.2", "1.2.3.4")
	f.Add("203.0.113.5:4000", "[::1]:80,,junk", "")
	f.Add("[fd00::1]:9", ",,,", "[2001:db8::1]")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, xff, realIP string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Real-IP", realIP)
		got := resolveClientIP(r, trusted)
		if peer := peerIP(r); !isTrusted(peer, trusted) && got != peer {
			t.Fatalf("untrusted peer %q: got %q", peer, got)
		}
	})
}
