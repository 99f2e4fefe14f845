package courier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier/couriertest"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func intp(n int) *int { return &n }

// forEachBackend runs fn against every store backend the environment
// configures.
func forEachBackend(t *testing.T, fn func(t *testing.T, open func(testing.TB) store.Store)) {
	t.Helper()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open)
		})
	}
}

func newTestCourier(t *testing.T, clock *testClock) *Courier {
	t.Helper()
	c, err := New(Options{ServiceName: "Acme", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func enqueueLogin(t *testing.T, c *Courier, tx store.Messages, to, code, lang string) *core.Message {
	t.Helper()
	m, err := c.Enqueue(context.Background(), tx, Request{
		TemplateType: TypeLoginCodeValid, Channel: core.ChannelEmail, Recipient: to,
		Language: lang, Data: map[string]any{"LoginCode": code},
	})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return m
}

func TestEnqueueCommitsWithTheFlowStep(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		s := open(t)
		clock := newClock()
		c := newTestCourier(t, clock)

		// A step that fails after enqueueing leaves no message.
		stepFailed := errors.New("step failed")
		var rolledBack *core.Message
		err := s.Update(ctx, func(tx store.Tx) error {
			rolledBack = enqueueLogin(t, c, tx, "gone@example.com", "111111", "en")
			return stepFailed
		})
		if !errors.Is(err, stepFailed) {
			t.Fatalf("update: %v", err)
		}
		if _, err := s.GetMessage(ctx, rolledBack.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rolled-back message: err = %v, want ErrNotFound", err)
		}

		// A step that succeeds commits its message.
		var m *core.Message
		if err := s.Update(ctx, func(tx store.Tx) error {
			m = enqueueLogin(t, c, tx, "kept@example.com", "222222", "de")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != core.MessageQueued || got.Recipient != "kept@example.com" || got.Channel != core.ChannelEmail ||
			got.TemplateType != TypeLoginCodeValid || got.SendCount != 0 || got.Subject != m.Subject ||
			!strings.Contains(got.Body, "222222") || !strings.Contains(got.HTMLBody, "222222") ||
			!got.CreatedAt.Equal(clock.Now()) {
			t.Errorf("stored message = %s", brief(got))
		}
		if got.Subject != "Bei Ihrem Konto anmelden" {
			t.Errorf("subject = %q, want the German one", got.Subject)
		}
		if !strings.Contains(string(got.TemplateData), `"LoginCode":"222222"`) {
			t.Errorf("template data = %s", got.TemplateData)
		}
		list, err := s.ListMessages(ctx, store.MessageQuery{Recipient: "gone@example.com"})
		if err != nil || len(list) != 0 {
			t.Errorf("rolled-back message listed: %v %v", list, err)
		}
	})
}

func TestEnqueueRejectsBadRequests(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	c := newTestCourier(t, newClock())
	tests := []struct {
		name string
		r    Request
	}{
		{"no recipient", Request{TemplateType: TypeLoginCodeValid, Channel: core.ChannelEmail, Data: map[string]any{"LoginCode": "1"}}},
		{"display name recipient", Request{TemplateType: TypeLoginCodeValid, Channel: core.ChannelEmail, Recipient: "Bob <bob@example.com>", Data: map[string]any{"LoginCode": "1"}}},
		{"recipient with a line break", Request{TemplateType: TypeLoginCodeValid, Channel: core.ChannelEmail, Recipient: "a@b.c\r\nBcc: d@e.f", Data: map[string]any{"LoginCode": "1"}}},
		{"phone that is not a number", Request{TemplateType: TypeLoginCodeValid, Channel: core.ChannelSMS, Recipient: "call me", Data: map[string]any{"LoginCode": "1"}}},
		{"missing code", Request{TemplateType: TypeLoginCodeValid, Channel: core.ChannelEmail, Recipient: "a@b.c"}},
		{"unknown type", Request{TemplateType: "nope", Channel: core.ChannelEmail, Recipient: "a@b.c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Enqueue(context.Background(), s, tc.r)
			if core.ErrorCode(err) != core.CodeInvalid {
				t.Fatalf("err = %v, want code invalid", err)
			}
		})
	}
}

// workerFor builds a worker with a fixed clock, no jitter (delays are half
// the nominal backoff) and a 10s base backoff.
func workerFor(t *testing.T, s store.Store, clock *testClock, email Sender, retries int) *Worker {
	t.Helper()
	w, err := NewWorker(WorkerOptions{
		Store: s, Email: email, MessageRetries: intp(retries), Now: clock.Now,
		Jitter: func() float64 { return 0 }, BackoffBase: 10 * time.Second, BackoffMax: time.Hour,
		Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func tick(t *testing.T, w *Worker, want int) {
	t.Helper()
	n, err := w.Tick(context.Background())
	if err != nil {
		t.Fatalf("tick: %v", err)
	}
	if n != want {
		t.Fatalf("tick claimed %d messages, want %d", n, want)
	}
}

func TestWorkerDeliversOverSMTP(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		s := open(t)
		clock := newClock()
		c := newTestCourier(t, clock)
		box := couriertest.StartSMTP(t, couriertest.SMTPOptions{})
		addr := box.Addr()
		sender, err := NewSMTP(SMTPOptions{ConnectionURI: "smtp://" + addr + "/?disable_starttls=true", FromAddress: "no-reply@latchkey.test"})
		if err != nil {
			t.Fatal(err)
		}
		m := enqueueLogin(t, c, s, "fr-user@example.com", "864209", "fr")
		w := workerFor(t, s, clock, sender, 5)
		tick(t, w, 1)
		p := box.Next(t)
		if p.Subject != "Connectez-vous à votre compte" || !strings.Contains(p.Text, "864209") || !strings.Contains(p.HTML, "864209") {
			t.Errorf("mail = %+v", p)
		}
		got, err := s.GetMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != core.MessageSent || got.SendCount != 1 || len(got.Dispatches) != 1 ||
			got.Dispatches[0].Status != "success" || got.Dispatches[0].Error != "" {
			t.Errorf("message after send = %s", brief(got))
		}
		tick(t, w, 0)
	})
}

func TestWorkerRetriesWithBackoffThenAbandons(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		s := open(t)
		clock := newClock()
		c := newTestCourier(t, clock)
		addr := freeAddr(t) // SMTP server down
		sender, err := NewSMTP(SMTPOptions{
			ConnectionURI: "smtp://mailer:pa55word@" + addr + "/?disable_starttls=true",
			FromAddress:   "no-reply@latchkey.test", Timeout: 2 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		m := enqueueLogin(t, c, s, "user@example.com", "123456", "en")
		w := workerFor(t, s, clock, sender, 2) // 3 attempts

		tick(t, w, 1) // attempt 1 fails; next in 5s
		got, _ := s.GetMessage(ctx, m.ID)
		if got.Status != core.MessageQueued || got.SendCount != 1 || !got.NextAttempt.Equal(clock.Now().Add(5*time.Second)) {
			t.Fatalf("after attempt 1: %s", brief(got))
		}
		tick(t, w, 0) // not due yet
		clock.Advance(5 * time.Second)
		tick(t, w, 1) // attempt 2 fails; next in 10s
		got, _ = s.GetMessage(ctx, m.ID)
		if got.Status != core.MessageQueued || got.SendCount != 2 || !got.NextAttempt.Equal(clock.Now().Add(10*time.Second)) {
			t.Fatalf("after attempt 2: %s", brief(got))
		}
		clock.Advance(9 * time.Second)
		tick(t, w, 0)
		clock.Advance(time.Second)
		tick(t, w, 1) // attempt 3 fails: abandoned
		got, _ = s.GetMessage(ctx, m.ID)
		if got.Status != core.MessageAbandoned || got.SendCount != 3 || len(got.Dispatches) != 3 {
			t.Fatalf("after attempt 3: %s", brief(got))
		}
		for _, d := range got.Dispatches {
			if d.Status != "failed" || d.Error == "" || d.MessageID != m.ID {
				t.Errorf("dispatch = %+v", d)
			}
			if strings.Contains(d.Error, "pa55word") {
				t.Errorf("dispatch error leaks the password: %q", d.Error)
			}
		}
		clock.Advance(24 * time.Hour)
		tick(t, w, 0) // abandoned stays abandoned
	})
}

func TestWorkerSendsOnceSMTPIsBack(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		s := open(t)
		clock := newClock()
		c := newTestCourier(t, clock)
		addr := freeAddr(t)
		sender, err := NewSMTP(SMTPOptions{ConnectionURI: "smtp://" + addr + "/?disable_starttls=true", FromAddress: "no-reply@latchkey.test"})
		if err != nil {
			t.Fatal(err)
		}
		m := enqueueLogin(t, c, s, "user@example.com", "777111", "pl")
		w := workerFor(t, s, clock, sender, 5)
		tick(t, w, 1) // down

		box := couriertest.StartSMTP(t, couriertest.SMTPOptions{Addr: addr})
		clock.Advance(5 * time.Second)
		tick(t, w, 1)
		p := box.Next(t)
		if p.Subject != "Zaloguj się do swojego konta" || !strings.Contains(p.Text, "777111") {
			t.Errorf("mail = %+v", p)
		}
		got, _ := s.GetMessage(ctx, m.ID)
		if got.Status != core.MessageSent || got.SendCount != 2 || len(got.Dispatches) != 2 ||
			got.Dispatches[0].Status != "failed" || got.Dispatches[1].Status != "success" {
			t.Errorf("message = %s", brief(got))
		}
	})
}

func TestWorkerPermanentFailureAbandonsAtOnce(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	clock := newClock()
	c := newTestCourier(t, clock)
	m, err := c.Enqueue(context.Background(), s, Request{TemplateType: TypeLoginCodeValid, Channel: core.ChannelSMS,
		Recipient: "+15550001111", Data: map[string]any{"LoginCode": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	w := workerFor(t, s, clock, NewLogSender(quiet), 5) // no SMS sender
	tick(t, w, 1)
	got, _ := s.GetMessage(context.Background(), m.ID)
	if got.Status != core.MessageAbandoned || len(got.Dispatches) != 1 || !strings.Contains(got.Dispatches[0].Error, "no sender") {
		t.Errorf("message = %s", brief(got))
	}
}

func TestQueuedMessageSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := "sqlite://" + t.TempDir() + "/latchkey.db"
	clock := newClock()
	c := newTestCourier(t, clock)

	first := openSQLite(t, dsn)
	m := enqueueLogin(t, c, first, "user@example.com", "246810", "it")
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := openSQLite(t, dsn)
	defer second.Close()
	box := couriertest.StartSMTP(t, couriertest.SMTPOptions{})
	addr := box.Addr()
	sender, err := NewSMTP(SMTPOptions{ConnectionURI: "smtp://" + addr + "/?disable_starttls=true", FromAddress: "no-reply@latchkey.test"})
	if err != nil {
		t.Fatal(err)
	}
	tick(t, workerFor(t, second, clock, sender, 5), 1)
	if p := box.Next(t); p.Subject != "Accedi al tuo account" || !strings.Contains(p.Text, "246810") {
		t.Errorf("mail = %+v", p)
	}
	if got, _ := second.GetMessage(ctx, m.ID); got.Status != core.MessageSent {
		t.Errorf("status = %s", got.Status)
	}
}

// countingSender records how often each message was sent.
type countingSender struct {
	mu    sync.Mutex
	sends map[string]int
	total atomic.Int64
	delay time.Duration
}

func (c *countingSender) Send(ctx context.Context, m *core.Message) error {
	time.Sleep(c.delay)
	c.mu.Lock()
	c.sends[m.ID]++
	c.mu.Unlock()
	c.total.Add(1)
	return nil
}

func TestWorkersNeverDoubleSend(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		testNoDoubleSend(t, open(t))
	})
}

// TestWorkersNeverDoubleSendPostgres is the multi-replica case: it must run
// in CI (storetest.Postgres fails there when no DSN is set).
func TestWorkersNeverDoubleSendPostgres(t *testing.T) {
	t.Parallel()
	testNoDoubleSend(t, storetest.Postgres(t))
}

func testNoDoubleSend(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		enqueueLogin(t, c, s, fmt.Sprintf("user%d@example.com", i), fmt.Sprint(100000+i), "en")
	}
	sender := &countingSender{sends: map[string]int{}, delay: time.Millisecond}
	var wg sync.WaitGroup
	for range 4 {
		w, err := NewWorker(WorkerOptions{Store: s, Email: sender, BatchSize: 5, PullWait: 10 * time.Millisecond, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Errorf("run: %v", err)
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for sender.total.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let a double send show up
	cancel()
	wg.Wait()
	sender.mu.Lock()
	defer sender.mu.Unlock()
	if len(sender.sends) != n {
		t.Fatalf("%d distinct messages sent, want %d", len(sender.sends), n)
	}
	for id, k := range sender.sends {
		if k != 1 {
			t.Errorf("message %s sent %d times", id, k)
		}
	}
	sent, err := s.ListMessages(context.Background(), store.MessageQuery{Status: core.MessageSent})
	if err != nil || len(sent) != n {
		t.Errorf("%d messages marked sent (err %v), want %d", len(sent), err, n)
	}
}

// blockingSender blocks the first send until released.
type blockingSender struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
	sent    atomic.Int64
}

func (b *blockingSender) Send(ctx context.Context, m *core.Message) error {
	b.once.Do(func() {
		close(b.started)
		<-b.release
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	b.sent.Add(1)
	return nil
}

func TestWorkerStopsCleanly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.SQLite(t)
	clock := newClock()
	c := newTestCourier(t, clock)
	var ids []string
	for i := range 3 {
		ids = append(ids, enqueueLogin(t, c, s, fmt.Sprintf("u%d@example.com", i), "135790", "en").ID)
	}
	sender := &blockingSender{started: make(chan struct{}), release: make(chan struct{})}
	w, err := NewWorker(WorkerOptions{Store: s, Email: sender, BatchSize: 3, Now: clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	<-sender.started
	cancel() // shut down while the first message is being sent
	close(sender.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop")
	}
	if sender.sent.Load() != 1 {
		t.Errorf("%d sends, want the in-flight one only", sender.sent.Load())
	}
	var sent, queued int
	for _, id := range ids {
		m, _ := s.GetMessage(ctx, id)
		switch {
		case m.Status == core.MessageSent && m.SendCount == 1 && len(m.Dispatches) == 1:
			sent++
		case m.Status == core.MessageQueued && m.SendCount == 0 && len(m.Dispatches) == 0:
			queued++
		default:
			t.Errorf("message = %s", brief(m))
		}
	}
	if sent != 1 || queued != 2 {
		t.Errorf("%d sent and %d released, want 1 and 2", sent, queued)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	tests := []struct {
		name   string
		n      int
		jitter float64
		want   time.Duration
	}{
		{"first failure, no jitter", 1, 0, 5 * time.Second},
		{"first failure, full jitter", 1, 0.999999999, 10 * time.Second},
		{"third failure doubles twice", 3, 0, 20 * time.Second},
		{"capped", 30, 0, 30 * time.Minute},
		{"bad jitter is ignored", 1, 7, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, err := NewWorker(WorkerOptions{Store: s, Jitter: func() float64 { return tc.jitter }, BackoffBase: 10 * time.Second, BackoffMax: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			got := w.backoff.Delay(tc.n)
			if got.Round(time.Millisecond) != tc.want {
				t.Errorf("backoff(%d) = %s, want %s", tc.n, got, tc.want)
			}
		})
	}
}
