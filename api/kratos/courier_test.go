package kratos_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/api/kratos"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// courierEnv is the admin API with the courier routes over a store that
// holds a few messages.
type courierEnv struct {
	*env
	h        http.Handler
	messages map[string]*core.Message // by recipient
}

// settableClock is a clock tests move by hand.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newCourierEnv(t *testing.T, open func(testing.TB) store.Store) *courierEnv {
	t.Helper()
	e := newEnv(t, open)
	mux := http.NewServeMux()
	e.handler.MountCourier(mux, e.store)
	ce := &courierEnv{env: e, h: api.Chain(kratos.AdminPrefix(mux), api.WithRequestID()), messages: map[string]*core.Message{}}

	ctx := context.Background()
	clock := &settableClock{t: time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)}
	c, err := courier.New(courier.Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	enqueue := func(r courier.Request) {
		t.Helper()
		m, err := c.Enqueue(ctx, e.store, r)
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		ce.messages[r.Recipient] = m
		clock.advance(time.Minute)
	}
	enqueue(courier.Request{TemplateType: courier.TypeLoginCodeValid, Channel: core.ChannelEmail,
		Recipient: "failed@example.com", Data: map[string]any{"LoginCode": "111111"}})
	enqueue(courier.Request{TemplateType: courier.TypeRecoveryValid, Channel: core.ChannelEmail,
		Recipient: "sent@example.com", Language: "de", Data: map[string]any{"RecoveryURL": "https://id.example.com/r?token=x"}})
	enqueue(courier.Request{TemplateType: courier.TypeVerificationCodeValid, Channel: core.ChannelSMS,
		Recipient: "+4915112345678", Data: map[string]any{"VerificationCode": "222222"}})
	enqueue(courier.Request{TemplateType: courier.TypeHankoPasskeyCreate, Channel: core.ChannelEmail,
		Recipient: "hanko@example.com"})
	enqueue(courier.Request{TemplateType: courier.TypeHankoLogin, Channel: core.ChannelEmail,
		Recipient: "queued@example.com", Data: map[string]any{"Code": "333333"}})

	// Deliver the first two: one fails twice (abandoned), one is sent.
	sender := courier.SenderFunc(func(_ context.Context, m *core.Message) error {
		if m.Recipient == "failed@example.com" {
			return errors.New("smtp: 554 mailbox unavailable")
		}
		return nil
	})
	w, err := courier.NewWorker(courier.WorkerOptions{Store: e.store, Email: sender, MessageRetries: new(int),
		BatchSize: 2, Now: clock.now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	return ce
}

// get sends a GET through the admin handler and validates the response
// against kratos-api.json.
func (ce *courierEnv) get(t *testing.T, path string) result {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	ce.h.ServeHTTP(rec, req)
	vreq := req.Clone(context.Background())
	if !strings.HasPrefix(vreq.URL.Path, "/admin/") {
		vreq.URL.Path = "/admin" + vreq.URL.Path
	}
	ce.v.Validate(t, vreq, rec.Code, rec.Header(), rec.Body.Bytes())
	return result{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func recipients(list []kratos.CourierMessageJSON) []string {
	var out []string
	for _, m := range list {
		out = append(out, m.Recipient)
	}
	return out
}

func TestCourierListMessages(t *testing.T) {
	t.Parallel()
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ce := newCourierEnv(t, open)
			tests := []struct {
				name   string
				path   string
				status int
				want   []string // recipients, newest first
			}{
				{"all, newest first", "/admin/courier/messages", 200,
					[]string{"queued@example.com", "hanko@example.com", "+4915112345678", "sent@example.com", "failed@example.com"}},
				{"unprefixed path", "/courier/messages?status=sent", 200, []string{"sent@example.com"}},
				{"status filter", "/admin/courier/messages?status=queued", 200,
					[]string{"queued@example.com", "hanko@example.com", "+4915112345678"}},
				{"abandoned", "/admin/courier/messages?status=abandoned", 200, []string{"failed@example.com"}},
				{"recipient filter", "/admin/courier/messages?recipient=%2B4915112345678", 200, []string{"+4915112345678"}},
				{"no match", "/admin/courier/messages?recipient=nobody@example.com", 200, nil},
				{"bad status", "/admin/courier/messages?status=lost", 400, nil},
				{"bad page size", "/admin/courier/messages?page_size=0", 400, nil},
				{"bad page token", "/admin/courier/messages?page_token=%21%21", 400, nil},
				{"NUL in recipient", "/admin/courier/messages?recipient=a%00b", 400, nil},
				{"invalid UTF-8 in recipient", "/admin/courier/messages?recipient=a%FFb", 400, nil},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					r := ce.get(t, tc.path)
					if r.Code != tc.status {
						t.Fatalf("status = %d, want %d: %s", r.Code, tc.status, r.Body)
					}
					if tc.status != 200 {
						if reason := r.reason(t); reason == "" {
							t.Errorf("no reason in %s", r.Body)
						}
						return
					}
					var list []kratos.CourierMessageJSON
					r.decode(t, &list)
					if got := recipients(list); fmt.Sprint(got) != fmt.Sprint(tc.want) {
						t.Errorf("recipients = %v, want %v", got, tc.want)
					}
					for _, m := range list {
						if m.Dispatches != nil {
							t.Errorf("list item has dispatches: %+v", m)
						}
					}
					if r.Header.Get("Cache-Control") == "" || links(r.Header)["first"] == "" {
						t.Errorf("headers = %v", r.Header)
					}
				})
			}
		})
	}
}

func TestCourierListPagination(t *testing.T) {
	t.Parallel()
	ce := newCourierEnv(t, storetest.SQLite)
	var seen []string
	path := "/admin/courier/messages?page_size=2"
	for page := 0; path != ""; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		r := ce.get(t, path)
		if r.Code != 200 {
			t.Fatalf("status %d: %s", r.Code, r.Body)
		}
		var list []kratos.CourierMessageJSON
		r.decode(t, &list)
		if len(list) > 2 {
			t.Fatalf("page of %d", len(list))
		}
		seen = append(seen, recipients(list)...)
		l := links(r.Header)
		if !strings.HasPrefix(l["first"], "/admin/courier/messages?") || !strings.Contains(l["first"], "page_size=2") {
			t.Errorf("first link %q", l["first"])
		}
		path = l["next"]
	}
	want := []string{"queued@example.com", "hanko@example.com", "+4915112345678", "sent@example.com", "failed@example.com"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("pages = %v, want %v", seen, want)
	}
}

func TestCourierGetMessage(t *testing.T) {
	t.Parallel()
	ce := newCourierEnv(t, storetest.SQLite)
	tests := []struct {
		name      string
		recipient string
		path      string
		status    int
		check     func(t *testing.T, m kratos.CourierMessageJSON)
	}{
		{
			name: "abandoned with a failed dispatch", recipient: "failed@example.com", status: 200,
			check: func(t *testing.T, m kratos.CourierMessageJSON) {
				if m.Status != core.MessageAbandoned || m.SendCount != 1 || m.TemplateType != "login_code_valid" ||
					m.Type != "email" || m.Channel != "email" || !strings.Contains(m.Body, "111111") {
					t.Errorf("message = %+v", m)
				}
				if len(m.Dispatches) != 1 || m.Dispatches[0].Status != "failed" || m.Dispatches[0].MessageID != m.ID {
					t.Fatalf("dispatches = %+v", m.Dispatches)
				}
				var e struct{ Message string }
				if err := json.Unmarshal(m.Dispatches[0].Error, &e); err != nil || !strings.Contains(e.Message, "554") {
					t.Errorf("dispatch error = %s", m.Dispatches[0].Error)
				}
			},
		},
		{
			name: "sent", recipient: "sent@example.com", status: 200,
			check: func(t *testing.T, m kratos.CourierMessageJSON) {
				if m.Status != core.MessageSent || m.Subject != "Zugang zu Ihrem Konto wiederherstellen" ||
					len(m.Dispatches) != 1 || m.Dispatches[0].Status != "success" || m.Dispatches[0].Error != nil {
					t.Errorf("message = %+v", m)
				}
			},
		},
		{
			name: "queued sms", recipient: "+4915112345678", status: 200,
			check: func(t *testing.T, m kratos.CourierMessageJSON) {
				if m.Status != core.MessageQueued || m.Type != "phone" || m.Channel != "sms" ||
					m.Subject != "" || !strings.Contains(m.Body, "222222") || m.Dispatches == nil || len(m.Dispatches) != 0 {
					t.Errorf("message = %+v", m)
				}
			},
		},
		{
			name: "hanko notification shows as stub", recipient: "hanko@example.com", status: 200,
			check: func(t *testing.T, m kratos.CourierMessageJSON) {
				if m.TemplateType != "stub" {
					t.Errorf("template_type = %q", m.TemplateType)
				}
			},
		},
		{
			name: "hanko passcode shows as login code", recipient: "queued@example.com", status: 200,
			check: func(t *testing.T, m kratos.CourierMessageJSON) {
				if m.TemplateType != "login_code_valid" {
					t.Errorf("template_type = %q", m.TemplateType)
				}
			},
		},
		{name: "unknown id", path: "/admin/courier/messages/5c1f9c5e-0000-4000-8000-000000000000", status: 404},
		{name: "malformed id", path: "/admin/courier/messages/not-a-uuid", status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if tc.recipient != "" {
				path = "/admin/courier/messages/" + ce.messages[tc.recipient].ID
			}
			r := ce.get(t, path)
			if r.Code != tc.status {
				t.Fatalf("status = %d, want %d: %s", r.Code, tc.status, r.Body)
			}
			if tc.check == nil {
				if r.reason(t) == "" {
					t.Errorf("no reason in %s", r.Body)
				}
				return
			}
			var m kratos.CourierMessageJSON
			r.decode(t, &m)
			if !strings.Contains(string(r.Body), `"dispatches":[`) {
				t.Errorf("body lacks dispatches: %s", r.Body)
			}
			tc.check(t, m)
		})
	}
}
