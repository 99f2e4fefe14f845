package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api"
)

type observed struct {
	method, route string
	status        int
}

type recorder struct{ got []observed }

func (r *recorder) ObserveRequest(method, route string, status int, _ time.Duration) {
	r.got = append(r.got, observed{method, route, status})
}

// TestRequestLog: one info line per request with method, route pattern,
// status, duration and request id; never the query string, tokens or
// cookies; health probes only at debug; the observer sees the pattern.
func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("GET /health/alive", func(w http.ResponseWriter, r *http.Request) {})
	obs := &recorder{}
	h := api.Chain(api.RecordRoute(mux), api.WithRequestID(), api.WithRequestLog(log, obs, nil))

	for _, tc := range []struct {
		path      string
		wantLines int
		want      observed
	}{
		{"/things/42?token=query-secret", 1, observed{"GET", "GET /things/{id}", 418}},
		{"/health/alive", 0, observed{"GET", "GET /health/alive", 200}},
		{"/nowhere/secret-path-token", 1, observed{"GET", "", 404}},
	} {
		buf.Reset()
		obs.got = nil
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Header.Set("X-Request-ID", "req-1")
		req.Header.Set("Cookie", "ory_kratos_session=cookie-secret")
		req.Header.Set("X-Session-Token", "header-secret")
		h.ServeHTTP(httptest.NewRecorder(), req)
		if len(obs.got) != 1 || obs.got[0] != tc.want {
			t.Errorf("%s: observed %+v, want %+v", tc.path, obs.got, tc.want)
		}
		out := buf.String()
		if n := strings.Count(out, "\n"); n != tc.wantLines {
			t.Fatalf("%s: %d log lines, want %d: %s", tc.path, n, tc.wantLines, out)
		}
		for _, secret := range []string{"query-secret", "cookie-secret", "header-secret", "secret-path-token"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s: the log line leaks %q: %s", tc.path, secret, out)
			}
		}
		if tc.wantLines == 0 {
			continue
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(out), &line); err != nil {
			t.Fatal(err)
		}
		if line["level"] != "INFO" || line["msg"] != "request" || line["method"] != "GET" || line["route"] != tc.want.route ||
			line["status"] != float64(tc.want.status) || line["request_id"] != "req-1" || line["duration_ms"] == nil {
			t.Errorf("%s: log line %v", tc.path, line)
		}
	}
}
