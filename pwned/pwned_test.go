package pwned_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/pwned"
)

func hashOf(pw string) (prefix, suffix string) {
	s := sha1.Sum([]byte(pw))
	h := strings.ToUpper(hex.EncodeToString(s[:]))
	return h[:5], h[5:]
}

// TestBreaches stands an httptest server in for the range API: only the
// five-character prefix is sent, padding is asked for, the matching suffix's
// count comes back, and broken answers are errors.
func TestBreaches(t *testing.T) {
	const pw = "correct horse battery staple"
	prefix, suffix := hashOf(pw)
	tests := []struct {
		name    string
		status  int
		body    string
		want    int64
		wantErr string
	}{
		{"found", 200, "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n" + suffix + ":3861493\r\n", 3861493, ""},
		{"lower-case suffix", 200, strings.ToLower(suffix) + ":7\n", 7, ""},
		{"thousands separator", 200, suffix + ":1,234\n", 1234, ""},
		{"not found", 200, "0018A45C4D1DEF81644B54AB7F969B88D65:1\n", 0, ""},
		{"padding line", 200, suffix + ":0\n", 0, ""},
		{"lines without a colon skipped", 200, "garbage\n" + suffix + ":2\n", 2, ""},
		{"count not a number", 200, "0018A45C4D1DEF81644B54AB7F969B88D65:text\n" + suffix + ":2\n", 0, "not a number"},
		{"not 200", 503, "", 0, "answered 503"},
		{"too large", 200, strings.Repeat("A", 1<<20+1), 0, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			c := pwned.New(strings.TrimPrefix(srv.URL, "https://"), srv.Client())
			n, err := c.Breaches(context.Background(), pw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Breaches = %d, %v; want an error with %q", n, err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("Breaches = %d, %v; want %d", n, err, tt.want)
			}
			if got.URL.Path != "/range/"+prefix || got.Header.Get("Add-Padding") != "true" {
				t.Errorf("request %s with Add-Padding %q; want /range/%s with padding", got.URL.Path, got.Header.Get("Add-Padding"), prefix)
			}
		})
	}
}

// TestBreachesUnreachable: a host that does not answer in time is an error
// bounded by the client's timeout.
func TestBreachesUnreachable(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	client := srv.Client()
	client.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := pwned.New(strings.TrimPrefix(srv.URL, "https://"), client).Breaches(context.Background(), "x")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("Breaches against a silent host: %v after %v", err, time.Since(start))
	}
	// The error is logged: it must not carry the hash prefix (the URL).
	if prefix, _ := hashOf("x"); strings.Contains(err.Error(), prefix) || strings.Contains(err.Error(), "/range/") {
		t.Errorf("the error shows the requested range: %v", err)
	}
}

func TestCheckHost(t *testing.T) {
	for host, ok := range map[string]bool{
		"api.pwnedpasswords.com": true, "hibp.internal:8443": true, "": false,
		"https://api.pwnedpasswords.com": false, "api.pwnedpasswords.com/range": false,
	} {
		if err := pwned.CheckHost(host); (err == nil) != ok {
			t.Errorf("CheckHost(%q) = %v, want ok %v", host, err, ok)
		}
	}
}
