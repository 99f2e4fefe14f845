package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
	"github.com/latchkey/latchkey/webhook"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// keySigner signs webhook tokens with session.Keys, as the Hanko face does.
type keySigner struct {
	keys *session.Keys
	fail atomic.Bool
}

func (s *keySigner) SignWebhookToken(ctx context.Context, t webhook.Token) (string, error) {
	if s.fail.Load() {
		return "", errors.New("signing unavailable")
	}
	var data any
	if err := json.Unmarshal(t.Data, &data); err != nil {
		return "", err
	}
	return s.keys.SignJWT(ctx, session.Claims{Subject: webhook.TokenSubject, Audience: []string{"example.com"},
		IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt, Extra: map[string]any{"evt": t.Event, "data": data}})
}

// receiver is a loopback webhook endpoint that fails while fail says so.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []webhook.Payload
	fail func(n int) bool // n counts requests from 1
	n    int
}

func newReceiver(t *testing.T, fail func(n int) bool) *receiver {
	r := &receiver{fail: fail}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var p webhook.Payload
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(req.Body).Decode(&p) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.n++
		failing := r.fail != nil && r.fail(r.n)
		if !failing {
			r.got = append(r.got, p)
		}
		r.mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *receiver) payloads() []webhook.Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

type env struct {
	st     store.Store
	clock  *clock
	keys   *session.Keys
	signer *keySigner
	cfg    config.HankoWebhooks
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	seal, err := cipher.New("a-webhook-test-secret-of-32-chars!!")
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	keys, err := session.NewKeys(context.Background(), st, seal, session.KeysOptions{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, clock: c, keys: keys, signer: &keySigner{keys: keys},
		cfg: config.HankoWebhooks{Enabled: true, MaxFailures: 5, MaxAttempts: 5, Timeout: 5 * time.Second}}
}

func (e *env) dispatcher(t *testing.T) *webhook.Dispatcher {
	t.Helper()
	d, err := webhook.NewDispatcher(webhook.DispatcherOptions{Config: e.cfg, Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (e *env) worker(t *testing.T) *webhook.Worker {
	t.Helper()
	w, err := webhook.NewWorker(webhook.WorkerOptions{Store: e.st, Signer: e.signer, Config: e.cfg,
		BackoffBase: time.Second, BackoffMax: 8 * time.Second, PullWait: 10 * time.Millisecond,
		Now: e.clock.now, Jitter: func() float64 { return 0.999999 },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// hook stores an enabled webhook.
func (e *env) hook(t *testing.T, callback string, events ...string) *store.Webhook {
	t.Helper()
	now := e.clock.now()
	h := &store.Webhook{ID: uuid.NewString(), Callback: callback, Events: events, Enabled: true,
		ExpiresAt: now.Add(webhook.ExpireAfter), CreatedAt: now, UpdatedAt: now}
	if err := e.st.CreateWebhook(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return h
}

func (e *env) enqueue(t *testing.T, d *webhook.Dispatcher, event string, data any) {
	t.Helper()
	err := e.st.Update(context.Background(), func(tx store.Tx) error { return d.Enqueue(context.Background(), tx, event, data) })
	if err != nil {
		t.Fatal(err)
	}
}

func deliveries(t *testing.T, st store.Store, q store.WebhookDeliveryQuery) []store.WebhookDelivery {
	t.Helper()
	list, err := st.ListWebhookDeliveries(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		hook   []string
		event  string
		expect bool
	}{
		{"exact", []string{"user.create"}, "user.create", true},
		{"prefix", []string{"user"}, "user.update.email.primary", true},
		{"middle prefix", []string{"user.update"}, "user.update.username.create", true},
		{"not a dot prefix", []string{"user.update"}, "user.updated", false},
		{"other branch", []string{"user.update"}, "user.create", false},
		{"second of several", []string{"email.send", "session"}, "session.delete", true},
		{"longer than the event", []string{"user.update.email"}, "user.update", false},
		{"empty hook event", []string{""}, "user.create", false},
		{"no events", nil, "user.create", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := webhook.Matches(tc.hook, tc.event); got != tc.expect {
				t.Fatalf("Matches(%v, %q) = %v", tc.hook, tc.event, got)
			}
		})
	}
}

func TestDispatcherQueuesMatchingHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	e.cfg.AllowTimeExpiration = true
	e.cfg.Hooks = []config.HankoWebhook{
		{Callback: "http://127.0.0.1:1/config-user", Events: []string{"user"}},
		{Callback: "http://127.0.0.1:1/config-mail", Events: []string{"email.send"}},
	}
	stored := e.hook(t, "http://127.0.0.1:1/db-update", "user.update")
	off := e.hook(t, "http://127.0.0.1:1/db-off", "user")
	off.Enabled = false
	expired := e.hook(t, "http://127.0.0.1:1/db-expired", "user")
	expired.ExpiresAt = e.clock.now().Add(-time.Second)
	for _, h := range []*store.Webhook{off, expired} {
		if err := e.st.UpdateWebhook(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	d := e.dispatcher(t)

	e.enqueue(t, d, "user.update.email.create", map[string]string{"id": "u1"})
	e.enqueue(t, d, "email.send", map[string]string{"to": "a@example.com"})
	e.enqueue(t, d, "session.create", map[string]string{"id": "s1"}) // nobody listens

	list := deliveries(t, e.st, store.WebhookDeliveryQuery{})
	var got []string
	for _, x := range list {
		got = append(got, x.Event+" "+x.Callback)
		if x.Status != store.DeliveryQueued || !x.NextAttempt.Equal(e.clock.now()) {
			t.Fatalf("delivery %+v not queued for now", x)
		}
	}
	slices.Sort(got)
	want := []string{
		"email.send http://127.0.0.1:1/config-mail",
		"user.update.email.create http://127.0.0.1:1/config-user",
		"user.update.email.create http://127.0.0.1:1/db-update",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries:\n%v\nwant\n%v", got, want)
	}
	if s := deliveries(t, e.st, store.WebhookDeliveryQuery{WebhookID: stored.ID}); len(s) != 1 || string(s[0].Data) != `{"id":"u1"}` {
		t.Fatalf("stored hook deliveries = %+v", s)
	}

	// An event is queued only if its change commits.
	boom := errors.New("boom")
	err := e.st.Update(context.Background(), func(tx store.Tx) error {
		if err := d.Enqueue(context.Background(), tx, "user.create", map[string]string{}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if n := len(deliveries(t, e.st, store.WebhookDeliveryQuery{Event: "user.create"})); n != 0 {
		t.Fatalf("%d deliveries after rollback", n)
	}

	// Data that does not encode is an error, not a panic.
	err = e.st.Update(context.Background(), func(tx store.Tx) error {
		return d.Enqueue(context.Background(), tx, "user.create", func() {})
	})
	if err == nil {
		t.Fatal("Enqueue of a func: no error")
	}

	// With webhooks off nothing is queued.
	e.cfg.Enabled = false
	e.enqueue(t, e.dispatcher(t), "user.create", map[string]string{})
	if n := len(deliveries(t, e.st, store.WebhookDeliveryQuery{Event: "user.create"})); n != 0 {
		t.Fatalf("%d deliveries with webhooks disabled", n)
	}
}

func TestWorkerDelivers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	rcv := newReceiver(t, nil)
	h := e.hook(t, rcv.srv.URL, "user")
	h.Failures = 2
	if err := e.st.UpdateWebhook(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	e.cfg.Hooks = []config.HankoWebhook{{Callback: rcv.srv.URL + "/config", Events: []string{"user.create"}}}
	e.enqueue(t, e.dispatcher(t), "user.create", map[string]any{"id": "u1", "emails": []string{"a@example.com"}})

	n, err := e.worker(t).Tick(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("Tick = %d, %v; want 2", n, err)
	}
	got := rcv.payloads()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	for _, p := range got {
		if p.Event != "user.create" {
			t.Fatalf("event = %q", p.Event)
		}
		c, err := e.keys.VerifyJWT(context.Background(), p.Token, session.VerifyOptions{Audience: "example.com"})
		if err != nil {
			t.Fatalf("token does not verify with the served keys: %v", err)
		}
		if c.Subject != "hanko webhooks" || c.Extra["evt"] != "user.create" || c.ExpiresAt.Sub(c.IssuedAt) != 5*time.Minute {
			t.Fatalf("claims = %+v", c)
		}
		data, _ := json.Marshal(c.Extra["data"])
		if string(data) != `{"emails":["a@example.com"],"id":"u1"}` {
			t.Fatalf("data claim = %s", data)
		}
	}
	for _, d := range deliveries(t, e.st, store.WebhookDeliveryQuery{}) {
		if d.Status != store.DeliverySent || d.Attempts != 1 || d.LastError != "" {
			t.Fatalf("delivery after success = %+v", d)
		}
	}
	if g, _ := e.st.GetWebhook(context.Background(), h.ID); g.Failures != 0 || !g.Enabled {
		t.Fatalf("hook after success = %+v, want failures reset", g)
	}
	if n, err := e.worker(t).Tick(context.Background()); err != nil || n != 0 {
		t.Fatalf("second Tick = %d, %v; want nothing to do", n, err)
	}
}

func TestWorkerRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	rcv := newReceiver(t, func(n int) bool { return n <= 2 }) // two failures, then success
	h := e.hook(t, rcv.srv.URL, "user.login")
	e.enqueue(t, e.dispatcher(t), "user.login", map[string]string{"id": "u1"})
	w := e.worker(t)
	ctx := context.Background()

	// Attempt 1 fails: queued again about BackoffBase later.
	if n, err := w.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("Tick 1 = %d, %v", n, err)
	}
	d := deliveries(t, e.st, store.WebhookDeliveryQuery{})[0]
	if d.Status != store.DeliveryQueued || d.Attempts != 1 || d.LastError != "callback answered 500" {
		t.Fatalf("after attempt 1: %+v", d)
	}
	if wait := d.NextAttempt.Sub(e.clock.now()); wait <= 500*time.Millisecond || wait > time.Second {
		t.Fatalf("first back-off = %s, want in (0.5s, 1s]", wait)
	}
	if g, _ := e.st.GetWebhook(ctx, h.ID); g.Failures != 1 || !g.Enabled {
		t.Fatalf("hook after one failure = %+v", g)
	}
	// Not due yet: nothing is claimed.
	if n, _ := w.Tick(ctx); n != 0 {
		t.Fatalf("Tick before the back-off = %d, want 0", n)
	}

	// Attempt 2 fails: the back-off doubles.
	e.clock.add(time.Second)
	if n, err := w.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("Tick 2 = %d, %v", n, err)
	}
	d = deliveries(t, e.st, store.WebhookDeliveryQuery{})[0]
	if wait := d.NextAttempt.Sub(e.clock.now()); d.Attempts != 2 || wait <= time.Second || wait > 2*time.Second {
		t.Fatalf("after attempt 2: attempts %d, back-off %s", d.Attempts, wait)
	}

	// Attempt 3 succeeds and resets the hook's failures.
	e.clock.add(2 * time.Second)
	if n, err := w.Tick(ctx); err != nil || n != 1 {
		t.Fatalf("Tick 3 = %d, %v", n, err)
	}
	d = deliveries(t, e.st, store.WebhookDeliveryQuery{})[0]
	if d.Status != store.DeliverySent || d.Attempts != 3 || d.LastError != "" {
		t.Fatalf("after attempt 3: %+v", d)
	}
	if g, _ := e.st.GetWebhook(ctx, h.ID); g.Failures != 0 {
		t.Fatalf("hook failures after success = %d", g.Failures)
	}
	if rcv.requests() != 3 || len(rcv.payloads()) != 1 {
		t.Fatalf("receiver saw %d requests, %d accepted", rcv.requests(), len(rcv.payloads()))
	}
}

func TestWorkerDisablesHookAfterRepeatedFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	e.cfg.MaxFailures, e.cfg.MaxAttempts = 3, 10
	rcv := newReceiver(t, func(int) bool { return true })
	h := e.hook(t, rcv.srv.URL, "user")
	d := e.dispatcher(t)
	for range 4 {
		e.enqueue(t, d, "user.create", map[string]string{})
	}
	w := e.worker(t)
	ctx := context.Background()
	// The first claim takes all four: three fail and disable the hook; the
	// fourth is abandoned without a request.
	if n, err := w.Tick(ctx); err != nil || n != 4 {
		t.Fatalf("Tick = %d, %v", n, err)
	}
	if rcv.requests() != 3 {
		t.Fatalf("%d requests, want 3 (max_failures)", rcv.requests())
	}
	g, err := e.st.GetWebhook(ctx, h.ID)
	if err != nil || g.Enabled || g.Failures != 3 {
		t.Fatalf("hook = %+v, %v; want disabled with 3 failures", g, err)
	}
	var abandoned, queued int
	for _, x := range deliveries(t, e.st, store.WebhookDeliveryQuery{WebhookID: h.ID}) {
		switch x.Status {
		case store.DeliveryAbandoned:
			abandoned++
		case store.DeliveryQueued:
			queued++
		}
	}
	if abandoned != 1 || queued != 3 {
		t.Fatalf("abandoned %d, queued %d; want 1 and 3", abandoned, queued)
	}
	// Their retries find the hook disabled: abandoned, no more requests.
	e.clock.add(time.Minute)
	if n, err := w.Tick(ctx); err != nil || n != 3 {
		t.Fatalf("Tick after disable = %d, %v", n, err)
	}
	if rcv.requests() != 3 {
		t.Fatalf("%d requests after disable, want still 3", rcv.requests())
	}
	if q := deliveries(t, e.st, store.WebhookDeliveryQuery{Status: store.DeliveryAbandoned}); len(q) != 4 {
		t.Fatalf("%d abandoned, want 4", len(q))
	}
	// A disabled hook gets no new events.
	e.enqueue(t, d, "user.create", map[string]string{})
	if q := deliveries(t, e.st, store.WebhookDeliveryQuery{Status: store.DeliveryQueued}); len(q) != 0 {
		t.Fatalf("%d deliveries queued for a disabled hook", len(q))
	}
}

func TestWorkerAbandonsAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	e.cfg.MaxAttempts = 3
	rcv := newReceiver(t, func(int) bool { return true })
	e.cfg.Hooks = []config.HankoWebhook{{Callback: rcv.srv.URL, Events: []string{"email.send"}}}
	e.enqueue(t, e.dispatcher(t), "email.send", map[string]string{"otp_code": "123456"})
	w := e.worker(t)
	for i := range 5 {
		if _, err := w.Tick(context.Background()); err != nil {
			t.Fatalf("Tick %d: %v", i, err)
		}
		e.clock.add(time.Hour)
	}
	d := deliveries(t, e.st, store.WebhookDeliveryQuery{})[0]
	if d.Status != store.DeliveryAbandoned || d.Attempts != 3 || rcv.requests() != 3 {
		t.Fatalf("delivery %+v after %d requests; want abandoned after 3", d, rcv.requests())
	}
}

func TestWorkerHookGoneOrExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	e.cfg.AllowTimeExpiration = true
	rcv := newReceiver(t, nil)
	gone := e.hook(t, rcv.srv.URL+"/gone", "user")
	exp := e.hook(t, rcv.srv.URL+"/expired", "user")
	live := e.hook(t, rcv.srv.URL+"/live", "user")
	e.enqueue(t, e.dispatcher(t), "user.delete", map[string]string{})
	ctx := context.Background()
	if err := e.st.DeleteWebhook(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	exp.ExpiresAt = e.clock.now().Add(time.Second)
	if err := e.st.UpdateWebhook(ctx, exp); err != nil {
		t.Fatal(err)
	}
	e.clock.add(2 * time.Second)
	if n, err := e.worker(t).Tick(ctx); err != nil || n != 2 { // the deleted hook's delivery went with it
		t.Fatalf("Tick = %d, %v", n, err)
	}
	if got := rcv.payloads(); len(got) != 1 || rcv.requests() != 1 {
		t.Fatalf("requests = %d, want only the live hook's", rcv.requests())
	}
	if g, _ := e.st.GetWebhook(ctx, exp.ID); g.Enabled {
		t.Fatal("expired hook still enabled")
	}
	l, _ := e.st.GetWebhook(ctx, live.ID)
	if want := e.clock.now().Add(webhook.ExpireAfter); !l.ExpiresAt.Equal(want) {
		t.Fatalf("live hook expires %v, want %v (moved on success)", l.ExpiresAt, want)
	}
	if a := deliveries(t, e.st, store.WebhookDeliveryQuery{Status: store.DeliveryAbandoned}); len(a) != 1 || a[0].WebhookID != exp.ID {
		t.Fatalf("abandoned = %+v", a)
	}
}

func TestWorkerSigningFailureReleases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	rcv := newReceiver(t, nil)
	e.cfg.Hooks = []config.HankoWebhook{{Callback: rcv.srv.URL, Events: []string{"user"}}}
	e.enqueue(t, e.dispatcher(t), "user.create", map[string]string{})
	e.signer.fail.Store(true)
	w := e.worker(t)
	if _, err := w.Tick(context.Background()); err == nil {
		t.Fatal("Tick with a failing signer: no error")
	}
	d := deliveries(t, e.st, store.WebhookDeliveryQuery{})[0]
	if d.Status != store.DeliveryQueued || d.Attempts != 0 || rcv.requests() != 0 {
		t.Fatalf("after signing failure: %+v, %d requests", d, rcv.requests())
	}
	e.signer.fail.Store(false)
	if n, err := w.Tick(context.Background()); err != nil || n != 1 || len(rcv.payloads()) != 1 {
		t.Fatalf("Tick after recovery = %d, %v", n, err)
	}
}

func TestNewWorkerErrors(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t)
	for _, tc := range []struct {
		name string
		o    webhook.WorkerOptions
	}{
		{"no store", webhook.WorkerOptions{Signer: &keySigner{}}},
		{"no signer", webhook.WorkerOptions{Store: st}},
		{"timeout above lease", webhook.WorkerOptions{Store: st, Signer: &keySigner{},
			Config: config.HankoWebhooks{Timeout: time.Minute}, Lease: 30 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := webhook.NewWorker(tc.o); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestWorkersDeliverExactlyOnce runs two workers on one store until the
// queue is empty: every event reaches the receiver exactly once.
func TestWorkersDeliverExactlyOnce(t *testing.T) {
	t.Parallel()
	backends := map[string]func(testing.TB) store.Store{"sqlite": storetest.SQLite, "postgres": storetest.Postgres,
		"mysql": storetest.MySQL}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open(t))
			rcv := newReceiver(t, nil)
			e.cfg.Hooks = []config.HankoWebhook{{Callback: rcv.srv.URL, Events: []string{"user"}}}
			d := e.dispatcher(t)
			const total = 60
			for i := range total {
				e.enqueue(t, d, "user.create", map[string]int{"n": i})
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range 2 {
				w := e.worker(t)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := w.Run(ctx); err != nil {
						t.Errorf("Run: %v", err)
					}
				}()
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(deliveries(t, e.st, store.WebhookDeliveryQuery{Status: store.DeliverySent})) < total && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			wg.Wait() // Run returns on cancellation
			seen := map[float64]int{}
			for _, p := range rcv.payloads() {
				c, err := e.keys.VerifyJWT(context.Background(), p.Token, session.VerifyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				seen[c.Extra["data"].(map[string]any)["n"].(float64)]++
			}
			if len(seen) != total || rcv.requests() != total {
				t.Fatalf("%d distinct events in %d requests, want %d", len(seen), rcv.requests(), total)
			}
			for n, c := range seen {
				if c != 1 {
					t.Fatalf("event %v delivered %d times", n, c)
				}
			}
		})
	}
}

// countingData counts how often it is encoded.
type countingData struct{ n *int }

func (c countingData) MarshalJSON() ([]byte, error) {
	*c.n++
	return []byte(`{"id":"u1"}`), nil
}

// TestEnqueueEncodesOnce: an event no hook takes is not encoded at all, and
// one that two hooks take is encoded once for both.
func TestEnqueueEncodesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	e.cfg.Hooks = []config.HankoWebhook{{Callback: "http://127.0.0.1:1/config-user", Events: []string{"user"}}}
	e.hook(t, "http://127.0.0.1:1/db-user", "user.create")
	d := e.dispatcher(t)
	n := 0
	e.enqueue(t, d, "session.create", countingData{&n})
	if n != 0 {
		t.Fatalf("an event no hook takes was encoded %d times", n)
	}
	e.enqueue(t, d, "user.create", countingData{&n})
	if n != 1 {
		t.Fatalf("an event two hooks take was encoded %d times, want 1", n)
	}
	if got := len(deliveries(t, e.st, store.WebhookDeliveryQuery{})); got != 2 {
		t.Fatalf("%d deliveries, want 2", got)
	}
}
