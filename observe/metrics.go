package observe

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchkey/latchkey/ratelimit"
)

// Metrics is the process's Prometheus registry with Latchkey's metrics.
// Its methods are safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	auth        *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	failures    *prometheus.CounterVec
	hashSeconds *prometheus.HistogramVec
}

// NewMetrics returns a registry with Latchkey's metrics and the Go runtime
// and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_http_requests_total",
			Help: "HTTP requests answered, by listener, method, route pattern and status code.",
		}, []string{"listener", "method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by listener, method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"listener", "method", "route"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_auth_attempts_total",
			Help: "Login and registration steps, by face (kratos, hanko), flow (login, registration), method and outcome (success, failure).",
		}, []string{"face", "flow", "method", "outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_ratelimit_refusals_total",
			Help: "Events refused by a rate limit, by rule.",
		}, []string{"rule"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_queue_failures_total",
			Help: "Failed delivery attempts, by queue (courier, webhook for Hanko events, kratos_web_hook for Kratos response.ignore web hooks) and result (retry, abandoned).",
		}, []string{"queue", "result"}),
		hashSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_password_hash_duration_seconds",
			Help:    "Time to hash or verify a password, by operation (hash, verify) and algorithm.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .2, .3, .5, .75, 1, 2},
		}, []string{"operation", "algorithm"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.auth, m.refusals, m.failures, m.hashSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for tests and further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusText holds the label of every status code, so that recording a
// request allocates no string.
var statusText = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// Requests returns the recorder of one listener's requests (it implements
// api.RequestObserver).
func (m *Metrics) Requests(listener string) *RequestMetrics {
	return &RequestMetrics{m: m, listener: listener}
}

// RequestMetrics records the requests of one listener.
type RequestMetrics struct {
	m        *Metrics
	listener string
}

// ObserveRequest counts a finished request and its duration. route is the
// matched pattern ("" for none: counted as "unmatched", never the raw path,
// which would let clients create label values).
func (r *RequestMetrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	code := "other"
	if status >= 0 && status < len(statusText) {
		code = statusText[status]
	}
	r.m.requests.WithLabelValues(r.listener, method, route, code).Inc()
	r.m.duration.WithLabelValues(r.listener, method, route).Observe(d.Seconds())
}

// Auth returns the recorder of one face's logins and registrations.
func (m *Metrics) Auth(face string) *AuthMetrics { return &AuthMetrics{m: m, face: face} }

// AuthMetrics counts one face's login and registration steps.
type AuthMetrics struct {
	m    *Metrics
	face string
}

// Auth counts a step of flow ("login", "registration") with method that
// ended in outcome ("success" or "failure").
func (a *AuthMetrics) Auth(flow, method, outcome string) {
	a.m.auth.WithLabelValues(a.face, flow, method, outcome).Inc()
}

// QueueFailure counts a failed delivery attempt of queue; abandoned is
// true when the job will not be tried again.
func (m *Metrics) QueueFailure(queue string, abandoned bool) {
	result := "retry"
	if abandoned {
		result = "abandoned"
	}
	m.failures.WithLabelValues(queue, result).Inc()
}

// ObserveHash records the duration of one password hash or verification.
func (m *Metrics) ObserveHash(operation, algorithm string, d time.Duration) {
	m.hashSeconds.WithLabelValues(operation, algorithm).Observe(d.Seconds())
}

// QueueDepth registers latchkey_queue_depth{queue}, read from depth at
// each scrape (with a two-second budget; a failed read leaves the gauge out
// of that scrape).
func (m *Metrics) QueueDepth(depth func(ctx context.Context) (messages, deliveries int, err error)) {
	m.reg.MustRegister(&queueDepth{depth: depth, desc: prometheus.NewDesc("latchkey_queue_depth",
		"Jobs waiting (queued or being sent), by queue (courier, webhook: Hanko events and Kratos web_hook calls, which share one queue).", []string{"queue"}, nil)})
}

type queueDepth struct {
	depth func(ctx context.Context) (int, int, error)
	desc  *prometheus.Desc
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	msgs, dels, err := q.depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(msgs), "courier")
	ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(dels), "webhook")
}

// SessionCache registers the session check cache's figures, read at each
// scrape: latchkey_session_cache_hits_total (checks answered from memory),
// latchkey_session_cache_loads_total (checks that read the store) and
// latchkey_session_cache_entries.
func (m *Metrics) SessionCache(stats func() (hits, loads int64), entries func() int) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "latchkey_session_cache_hits_total",
			Help: "Session checks (whoami, validate, /me and other session look-ups) answered from the session cache."},
			func() float64 { h, _ := stats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "latchkey_session_cache_loads_total",
			Help: "Session look-ups the session cache left to the store (not cached, evicted, or older than session.cache.max_age)."},
			func() float64 { _, l := stats(); return float64(l) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "latchkey_session_cache_entries",
			Help: "Entries in the session cache (at most session.cache.max_entries)."},
			func() float64 { return float64(entries()) }),
	)
}

// DBPool registers the connection pool statistics of db (go_sql_* with
// db_name=name).
func (m *Metrics) DBPool(name string, db *sql.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// Limiter wraps l so that every refused event is counted by rule name. The
// wrapper is a ratelimit.Batcher when l is one.
func (m *Metrics) Limiter(l ratelimit.Limiter) ratelimit.Limiter {
	c := countingLimiter{Limiter: l, m: m}
	if b, ok := l.(ratelimit.Batcher); ok {
		return countingBatcher{countingLimiter: c, b: b}
	}
	return c
}

type countingLimiter struct {
	ratelimit.Limiter
	m *Metrics
}

// InTx wraps the limiter bound to the caller's transaction (ratelimit.InTx).
func (c countingLimiter) InTx(tx ratelimit.Counters) ratelimit.Limiter {
	return c.m.Limiter(ratelimit.InTx(c.Limiter, tx))
}

// countingBatcher is countingLimiter over a ratelimit.Batcher.
type countingBatcher struct {
	countingLimiter
	b ratelimit.Batcher
}

func (c countingBatcher) AllowAll(ctx context.Context, events []ratelimit.RuleKey) ([]ratelimit.Decision, error) {
	ds, err := c.b.AllowAll(ctx, events)
	if err == nil {
		c.countRefusal(events, ds)
	}
	return ds, err
}

// countRefusal counts the first refused event of a batch: it refuses the
// attempt (ratelimit.Policy), as Allow of the events one after the other
// stops there.
func (c countingBatcher) countRefusal(events []ratelimit.RuleKey, ds []ratelimit.Decision) {
	for i, d := range ds {
		if !d.Allowed {
			c.m.refusals.WithLabelValues(events[i].Rule.Name).Inc()
			return
		}
	}
}

func (c countingBatcher) UndoAll(ctx context.Context, events []ratelimit.RuleKey) error {
	return c.b.UndoAll(ctx, events)
}

func (c countingBatcher) AllowAllSeeing(ctx context.Context, events []ratelimit.RuleKey, rule ratelimit.Rule, key string) ([]ratelimit.Decision, bool, bool, error) {
	ds, seen, now, err := c.b.AllowAllSeeing(ctx, events, rule, key)
	if err == nil {
		c.countRefusal(events, ds)
	}
	return ds, seen, now, err
}

// InOneTx implements ratelimit.Transactor when the wrapped limiter does,
// wrapping the limiter bound to the transaction.
func (c countingBatcher) InOneTx(ctx context.Context, fn func(l ratelimit.Limiter) error) error {
	if t, ok := c.b.(ratelimit.Transactor); ok {
		return t.InOneTx(ctx, func(l ratelimit.Limiter) error { return fn(c.m.Limiter(l)) })
	}
	return fn(c)
}

func (c countingBatcher) SeenNow(ctx context.Context, rule ratelimit.Rule, key string) (bool, bool, error) {
	return c.b.SeenNow(ctx, rule, key)
}

func (c countingLimiter) Allow(ctx context.Context, rule ratelimit.Rule, key string) (ratelimit.Decision, error) {
	d, err := c.Limiter.Allow(ctx, rule, key)
	if err == nil && !d.Allowed {
		c.m.refusals.WithLabelValues(rule.Name).Inc()
	}
	return d, err
}
