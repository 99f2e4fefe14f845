package fetch

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "doc.json")
	if err := os.WriteFile(file, []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/doc":
			_, _ = w.Write([]byte(`{"a":1}`))
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, url, want, err string
	}{
		{"file", "file://" + file, `{"a":1}`, ""},
		{"base64", "base64://" + base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)), `{"a":1}`, ""},
		{"base64 url alphabet unpadded", "base64://" + base64.RawURLEncoding.EncodeToString([]byte(`{"a":1}`)), `{"a":1}`, ""},
		{"https", srv.URL + "/doc", `{"a":1}`, ""},
		{"https 404", srv.URL + "/missing", "", "status 404"},
		{"too large", srv.URL + "/big", "", "larger than 64 bytes"},
		{"missing file", "file://" + filepath.Join(dir, "none"), "", "no such file"},
		{"no scheme", "/etc/passwd", "", "has no scheme"},
		{"other scheme", "ftp://example.com/x", "", "unsupported scheme"},
		{"bad base64", "base64://!!!", "", "does not hold base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Get(context.Background(), srv.Client(), tt.url, 64)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want …%s…", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Get = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// The default client does not trust the test server's certificate.
	if _, err := Get(context.Background(), nil, srv.URL+"/doc", 64); err == nil {
		t.Error("an untrusted certificate was accepted")
	}
}
