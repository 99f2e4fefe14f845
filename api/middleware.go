package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

type ctxKey int

const requestStateKey ctxKey = iota

// requestState is what the middleware learns about a request while it
// runs: its id, and the route pattern the mux matched (filled in by
// RecordRoute, read by WithRequestLog after the handler returned).
type requestState struct {
	id    string
	route string
	// clientIP is what WithClientIP resolved when it runs inside
	// WithRequestID (hasClientIP set).
	clientIP    string
	hasClientIP bool
}

// RequestID returns the request id WithRequestID assigned to the request,
// or "".
func RequestID(ctx context.Context) string {
	if st, _ := ctx.Value(requestStateKey).(*requestState); st != nil {
		return st.id
	}
	return ""
}

// Route returns the route pattern ("GET /sessions/whoami") the mux wrapped
// by RecordRoute matched for the request, or "" (no match yet, or none).
func Route(ctx context.Context) string {
	if st, _ := ctx.Value(requestStateKey).(*requestState); st != nil {
		return st.route
	}
	return ""
}

// RecordRoute wraps a ServeMux so that the pattern it matched is known to
// the middleware outside it (metrics and request logs label requests by
// pattern, never by raw path). Wrap the mux that finally routes, inside any
// prefix rewriting.
func RecordRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		// ServeMux sets r.Pattern on the request it was given.
		if st, _ := r.Context().Value(requestStateKey).(*requestState); st != nil && r.Pattern != "" {
			st.route = r.Pattern
		}
	})
}

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies mws to h so that the first one is outermost.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// WithRequestID takes X-Request-ID from the request when it is sane, or makes
// a new one, puts it in the context and echoes it in the response.
func WithRequestID() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get("X-Request-ID")
			if !saneRequestID(id) {
				var b [12]byte
				_, _ = rand.Read(b[:])
				id = hex.EncodeToString(b[:])
			}
			w.Header().Set("X-Request-ID", id)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestStateKey, &requestState{id: id})))
		})
	}
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status and size a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	size   int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.size += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// WithRecovery turns a panic in a handler into a logged error and a 500
// written by internal, which must not reveal anything about the panic.
func WithRecovery(log *slog.Logger, internal http.HandlerFunc) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Inside WithRequestLog the writer already records the
			// status: reuse it instead of wrapping it again.
			rec, ok := w.(*statusRecorder)
			if !ok {
				rec = &statusRecorder{ResponseWriter: w}
			}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic in handler",
					"request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path,
					"panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					internal(rec, r)
				}
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// RequestObserver is told about every answered request (metrics).
type RequestObserver interface {
	ObserveRequest(method, route string, status int, d time.Duration)
}

// RequestTracer starts a span per request; the returned function ends it.
type RequestTracer interface {
	StartRequest(r *http.Request) (context.Context, func(route string, status int))
}

// WithRequestLog logs one structured line per request at info (health
// probes at debug): method, route pattern, status, duration and request
// id, never the path's query string, tokens or cookies. It also reports
// the request to obs and tr when they are not nil. It must run inside
// WithRequestID, whose state carries the route back out.
func WithRequestLog(log *slog.Logger, obs RequestObserver, tr RequestTracer) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			var end func(string, int)
			if tr != nil {
				var ctx context.Context
				ctx, end = tr.StartRequest(r)
				r = r.WithContext(ctx)
			}
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			d := time.Since(start)
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			route := Route(r.Context())
			if end != nil {
				end(route, status)
			}
			if obs != nil {
				obs.ObserveRequest(r.Method, route, status, d)
			}
			level := slog.LevelInfo
			if strings.HasPrefix(route, "GET /health/") {
				level = slog.LevelDebug
			}
			if !log.Enabled(r.Context(), level) {
				return
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.Int("bytes", rec.size),
				slog.String("request_id", RequestID(r.Context())))
		})
	}
}

// WithBodyLimit caps request bodies at n bytes; reading past it fails with
// an *http.MaxBytesError, which DecodeJSON reports as a client error.
func WithBodyLimit(n int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// CORS is the cross-origin policy of a listener.
type CORS struct {
	Enabled          bool
	AllowedOrigins   []string // exact origins, "*" or "https://*.example.com"
	AllowedMethods   []string
	AllowedHeaders   []string
	ExposedHeaders   []string
	AllowCredentials bool
	MaxAge           time.Duration
}

// WithCORS answers preflight requests and adds CORS headers for allowed
// origins. Disabled policies pass requests through untouched.
func WithCORS(c CORS) Middleware {
	methods := strings.Join(defaultList(c.AllowedMethods, []string{"GET", "POST", "PUT", "PATCH", "DELETE"}), ", ")
	headers := strings.Join(defaultList(c.AllowedHeaders, []string{"Authorization", "Content-Type", "Cookie", "X-Session-Token", "X-Language", "X-CSRF-Token", "X-Request-ID"}), ", ")
	exposed := strings.Join(c.ExposedHeaders, ", ")
	maxAge := ""
	if c.MaxAge > 0 {
		maxAge = strconv.Itoa(int(c.MaxAge / time.Second))
	}
	return func(next http.Handler) http.Handler {
		if !c.Enabled {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if origin == "" || !originAllowed(c.AllowedOrigins, origin) {
				if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
					w.WriteHeader(http.StatusForbidden)
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Add("Vary", "Origin")
			if len(c.AllowedOrigins) == 1 && c.AllowedOrigins[0] == "*" && !c.AllowCredentials {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
			}
			if c.AllowCredentials {
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", headers)
				if maxAge != "" {
					h.Set("Access-Control-Max-Age", maxAge)
				}
				w.WriteHeader(http.StatusNoContent)
				return
			}
			if exposed != "" {
				h.Set("Access-Control-Expose-Headers", exposed)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func defaultList(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

func originAllowed(allowed []string, origin string) bool {
	for _, a := range allowed {
		switch {
		case a == "*":
			return true
		case strings.EqualFold(a, origin):
			return true
		case strings.Contains(a, "://*."):
			scheme, host, _ := strings.Cut(strings.ToLower(a), "://")
			os, oh, ok := strings.Cut(strings.ToLower(origin), "://")
			if ok && os == scheme && MatchHost(host, oh) {
				return true
			}
		}
	}
	return false
}

// noCacheValue is NoCache's header value, shared by every response (a
// header map's values are replaced or appended to, never written in
// place), which saves the slice http.Header.Set allocates per request.
var noCacheValue = []string{"private, no-cache, no-store, must-revalidate"}

// NoCache sets Kratos' Cache-Control header on every GET response, so that
// personal data is never cached by proxies.
func NoCache() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				w.Header()["Cache-Control"] = noCacheValue
			}
			next.ServeHTTP(w, r)
		})
	}
}
