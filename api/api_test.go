package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type body struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	cases := []struct {
		name, ct, in string
		limit        int64
		wantErr      string // substring of the client message, "" for success
		wantField    string
	}{
		{name: "ok", ct: "application/json", in: `{"name":"a","n":1}`},
		{name: "no content type", in: `{"name":"a"}`},
		{name: "empty", ct: "application/json", in: ``, wantErr: "empty"},
		{name: "syntax", ct: "application/json", in: `{"name":`, wantErr: "truncated"},
		{name: "bad syntax", ct: "application/json", in: `{"name" 1}`, wantErr: "not valid JSON"},
		{name: "type", ct: "application/json", in: `{"n":"x"}`, wantErr: "must be of type int", wantField: "n"},
		{name: "unknown field", ct: "application/json", in: `{"nope":1}`, wantErr: "unknown field", wantField: "nope"},
		{name: "two values", ct: "application/json", in: `{} {}`, wantErr: "single JSON value"},
		{name: "form", ct: "application/x-www-form-urlencoded", in: `a=b`, wantErr: "must be JSON"},
		{name: "too large", ct: "application/json", in: `{"name":"` + strings.Repeat("x", 100) + `"}`, limit: 20, wantErr: "larger than the limit of 20"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.in))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			if tc.limit > 0 {
				r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, tc.limit)
			}
			var b body
			err := DecodeJSON(r, &b)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeJSON: %v", err)
				}
				return
			}
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Code != core.CodeInvalid {
				t.Fatalf("error = %v, want *core.Error invalid", err)
			}
			if !strings.Contains(ce.Message, tc.wantErr) {
				t.Errorf("message %q does not contain %q", ce.Message, tc.wantErr)
			}
			if ce.Field != tc.wantField {
				t.Errorf("field = %q, want %q", ce.Field, tc.wantField)
			}
		})
	}
}

func TestRecoveryHidesPanic(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail") }),
		WithRequestID(), WithRecovery(log, func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal"})
		}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("panic value leaked to client: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "secret detail") || !strings.Contains(logs.String(), rec.Header().Get("X-Request-ID")) {
		t.Errorf("panic not logged with request id: %s", logs.String())
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	var seen string
	h := WithRequestID()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestID(r.Context()) }))
	for _, tc := range []struct {
		name, in string
		keep     bool
	}{
		{"given", "abc-123", true},
		{"missing", "", false},
		{"control chars", "a\x01b", false},
		{"too long", strings.Repeat("a", 200), false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.in != "" {
			r.Header.Set("X-Request-ID", tc.in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if (seen == tc.in) != tc.keep || seen == "" || rec.Header().Get("X-Request-ID") != seen {
			t.Errorf("%s: request id %q (in %q)", tc.name, seen, tc.in)
		}
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	c := CORS{Enabled: true, AllowedOrigins: []string{"https://app.example.com", "https://*.example.org"},
		AllowCredentials: true, ExposedHeaders: []string{"X-Auth-Token", "X-Session-Lifetime"}, MaxAge: time.Minute}
	h := WithCORS(c)(ok)
	cases := []struct {
		name, method, origin, reqMethod string
		wantStatus                      int
		wantOrigin                      string
	}{
		{"allowed simple", "GET", "https://app.example.com", "", http.StatusTeapot, "https://app.example.com"},
		{"wildcard sub", "GET", "https://a.example.org", "", http.StatusTeapot, "https://a.example.org"},
		{"wrong scheme", "GET", "http://a.example.org", "", http.StatusTeapot, ""},
		{"not allowed", "GET", "https://evil.test", "", http.StatusTeapot, ""},
		{"preflight allowed", "OPTIONS", "https://app.example.com", "POST", http.StatusNoContent, "https://app.example.com"},
		{"preflight refused", "OPTIONS", "https://evil.test", "POST", http.StatusForbidden, ""},
		{"no origin", "GET", "", "", http.StatusTeapot, ""},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, "/", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.reqMethod != "" {
			r.Header.Set("Access-Control-Request-Method", tc.reqMethod)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.wantStatus || rec.Header().Get("Access-Control-Allow-Origin") != tc.wantOrigin {
			t.Errorf("%s: status %d origin %q", tc.name, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
		}
		if tc.wantOrigin != "" && tc.method == "GET" && rec.Header().Get("Access-Control-Expose-Headers") != "X-Auth-Token, X-Session-Lifetime" {
			t.Errorf("%s: exposed headers %q", tc.name, rec.Header().Get("Access-Control-Expose-Headers"))
		}
	}
}

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func TestHealth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		path string
		code int
	}{
		{"alive", nil, "/health/alive", 200},
		{"alive while db down", errors.New("down"), "/health/alive", 200},
		{"ready", nil, "/health/ready", 200},
		{"not ready", errors.New("down"), "/health/ready", 503},
	} {
		mux := http.NewServeMux()
		MountHealth(mux, pinger{tc.err})
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tc.code || strings.Contains(string(body), "down") {
			t.Errorf("%s: %d %s", tc.name, rec.Code, body)
		}
	}
}
