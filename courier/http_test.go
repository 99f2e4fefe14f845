package courier

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/core"
)

type capturedRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

func startReceiver(t *testing.T, status int) (*httptest.Server, func() []capturedRequest) {
	t.Helper()
	var mu sync.Mutex
	var got []capturedRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, capturedRequest{r.Method, r.URL.Path, r.Header.Clone(), b})
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []capturedRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]capturedRequest(nil), got...)
	}
}

func TestHTTPSender(t *testing.T) {
	t.Parallel()
	msg := &core.Message{
		ID: "msg-1", Channel: core.ChannelEmail, Recipient: "user@example.com", Subject: "Hello",
		Body: "code 123", HTMLBody: "<p>code 123</p>", TemplateType: TypeLoginCodeValid,
		TemplateData: json.RawMessage(`{"LoginCode":"123"}`),
	}
	sms := &core.Message{ID: "msg-2", Channel: core.ChannelSMS, Recipient: "+4915112345678",
		Body: "Your login code is: 123", TemplateType: TypeLoginCodeValid}
	tests := []struct {
		name   string
		opts   func(url string) HTTPOptions
		msg    *core.Message
		status int
		check  func(t *testing.T, r capturedRequest)
		errIs  string // substring of the error; "" means success
		perm   bool
	}{
		{
			name: "default json body with basic auth",
			opts: func(u string) HTTPOptions {
				return HTTPOptions{URL: u + "/mail", Auth: HTTPAuth{Type: "basic_auth", User: "u", Password: "p"}}
			},
			msg: msg, status: 202,
			check: func(t *testing.T, r capturedRequest) {
				if r.Method != http.MethodPost || r.Path != "/mail" {
					t.Errorf("%s %s", r.Method, r.Path)
				}
				if r.Header.Get("Authorization") != "Basic dTpw" {
					t.Errorf("authorization %q", r.Header.Get("Authorization"))
				}
				var p HTTPPayload
				if err := json.Unmarshal(r.Body, &p); err != nil {
					t.Fatal(err)
				}
				if p.Recipient != "user@example.com" || p.Subject != "Hello" || p.Body != "code 123" ||
					p.HTMLBody != "<p>code 123</p>" || p.TemplateType != TypeLoginCodeValid ||
					string(p.TemplateData) != `{"LoginCode":"123"}` || p.ID != "msg-1" || p.Channel != "email" {
					t.Errorf("payload %+v", p)
				}
			},
		},
		{
			name: "api key header and custom method",
			opts: func(u string) HTTPOptions {
				return HTTPOptions{URL: u + "/x", Method: "put", Headers: map[string]string{"X-Extra": "1"},
					Auth: HTTPAuth{Type: "api_key", Name: "X-API-Key", Value: "k3y"}}
			},
			msg: msg, status: 200,
			check: func(t *testing.T, r capturedRequest) {
				if r.Method != http.MethodPut || r.Header.Get("X-API-Key") != "k3y" || r.Header.Get("X-Extra") != "1" {
					t.Errorf("%s %v", r.Method, r.Header)
				}
			},
		},
		{
			name: "api key cookie and sms body template",
			opts: func(u string) HTTPOptions {
				return HTTPOptions{URL: u + "/sms", Auth: HTTPAuth{Type: "api_key", Name: "token", Value: "c00kie", In: "cookie"},
					BodyTemplate: `{"To": {{json .Recipient}}, "Body": {{json .Body}}}`}
			},
			msg: sms, status: 201,
			check: func(t *testing.T, r capturedRequest) {
				if !strings.Contains(r.Header.Get("Cookie"), "token=c00kie") {
					t.Errorf("cookie %q", r.Header.Get("Cookie"))
				}
				var b map[string]string
				if err := json.Unmarshal(r.Body, &b); err != nil {
					t.Fatal(err)
				}
				if b["To"] != "+4915112345678" || b["Body"] != "Your login code is: 123" {
					t.Errorf("body %v", b)
				}
			},
		},
		{
			name: "server error is retryable and hides the query",
			opts: func(u string) HTTPOptions { return HTTPOptions{URL: u + "/mail?api_key=top-secret"} },
			msg:  msg, status: 503, errIs: "status 503",
		},
		{
			name: "body template that makes no json for a message is permanent",
			opts: func(u string) HTTPOptions {
				return HTTPOptions{URL: u, BodyTemplate: `{{if eq .Channel "sms"}}oops{{else}}{}{{end}}`}
			},
			msg: sms, status: 200, errIs: "did not produce JSON", perm: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, got := startReceiver(t, tc.status)
			s, err := NewHTTP(tc.opts(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), tc.msg)
			if tc.errIs != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errIs) {
					t.Fatalf("err = %v, want %q", err, tc.errIs)
				}
				if strings.Contains(err.Error(), "top-secret") {
					t.Errorf("error leaks the query: %v", err)
				}
				if IsPermanent(err) != tc.perm {
					t.Errorf("permanent = %v", IsPermanent(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			reqs := got()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			if ct := reqs[0].Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			tc.check(t, reqs[0])
		})
	}
}

func TestHTTPSenderUnreachable(t *testing.T) {
	t.Parallel()
	s, err := NewHTTP(HTTPOptions{URL: "http://user:pw@" + freeAddr(t) + "/send?key=abc"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), &core.Message{ID: "1", Channel: core.ChannelEmail, Recipient: "a@b.c"})
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "abc") {
		t.Errorf("error leaks secrets: %v", err)
	}
}

func TestNewHTTPRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    HTTPOptions
	}{
		{"relative url", HTTPOptions{URL: "/send"}},
		{"other scheme", HTTPOptions{URL: "ftp://x/y"}},
		{"unknown auth", HTTPOptions{URL: "http://x", Auth: HTTPAuth{Type: "oauth"}}},
		{"basic without user", HTTPOptions{URL: "http://x", Auth: HTTPAuth{Type: "basic_auth"}}},
		{"api key without name", HTTPOptions{URL: "http://x", Auth: HTTPAuth{Type: "api_key", Value: "v"}}},
		{"api key in query", HTTPOptions{URL: "http://x", Auth: HTTPAuth{Type: "api_key", Name: "n", Value: "v", In: "query"}}},
		{"bad header", HTTPOptions{URL: "http://x", Headers: map[string]string{"A": "b\nc"}}},
		{"bad body template", HTTPOptions{URL: "http://x", BodyTemplate: "{{ .Nope "}},
		{"jsonnet body", HTTPOptions{URL: "http://x", BodyTemplate: "function(ctx) { to: ctx.recipient }"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewHTTP(tc.o); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestLogSenderPrintsRecipientSubjectAndCode(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := NewLogSender(slog.New(slog.NewTextHandler(&buf, nil)))
	err := s.Send(context.Background(), &core.Message{ID: "1", Channel: core.ChannelEmail, Recipient: "dev@example.com",
		Subject: "Use passcode 424242", TemplateType: TypeHankoLogin, TemplateData: json.RawMessage(`{"Code":"424242","ServiceName":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"dev@example.com", `subject="Use passcode 424242"`, "Code=424242"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
