package courier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/latchkey/latchkey/core"
)

// HTTPOptions configures an HTTPSender: courier.delivery_strategy http
// (courier.http.request_config) or an SMS channel's request_config.
type HTTPOptions struct {
	// URL is the endpoint; http or https.
	URL string
	// Method is the HTTP method; default POST.
	Method string
	// Headers are added to every request.
	Headers map[string]string
	// Auth authenticates the request; zero for none.
	Auth HTTPAuth
	// BodyTemplate is a text/template over an HTTPPayload that must produce
	// JSON; the function json encodes a value as JSON ({"to": {{json
	// .Recipient}}}). Empty sends the HTTPPayload itself.
	BodyTemplate string
	// Client sends the requests; default a client with Timeout.
	Client *http.Client
	// Timeout bounds one request when Client is nil; default 10s.
	Timeout time.Duration
}

// HTTPAuth is request_config.auth: Kratos' basic_auth and api_key.
type HTTPAuth struct {
	// Type is "" (none), "basic_auth" or "api_key".
	Type string
	// User and Password are the basic_auth credentials.
	User, Password string
	// Name and Value are the api_key header or cookie; In is "header"
	// (default) or "cookie".
	Name, Value, In string
}

// HTTPPayload is what an HTTPSender sends, and what a body template sees.
type HTTPPayload struct {
	ID           string          `json:"id"`
	Channel      string          `json:"channel"`
	MessageType  string          `json:"message_type"` // Kratos' name for the channel
	Recipient    string          `json:"recipient"`
	Subject      string          `json:"subject,omitempty"`
	Body         string          `json:"body"`
	HTMLBody     string          `json:"html_body,omitempty"`
	TemplateType string          `json:"template_type"`
	TemplateData json.RawMessage `json:"template_data,omitempty"`
}

// HTTPSender delivers messages by calling an HTTP endpoint, for e-mail
// through an API or text messages through an SMS gateway.
type HTTPSender struct {
	url     *url.URL
	method  string
	headers map[string]string
	auth    HTTPAuth
	body    *texttemplate.Template
	client  *http.Client
}

// NewHTTP checks o and returns an HTTPSender. It returns an error when the
// URL is not absolute http(s), the auth type is unknown or incomplete, a
// header is malformed, or the body template does not parse.
func NewHTTP(o HTTPOptions) (*HTTPSender, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("http delivery: url must be an absolute http or https URL")
	}
	s := &HTTPSender{url: u, method: strings.ToUpper(o.Method), headers: map[string]string{}, auth: o.Auth, client: o.Client}
	if s.method == "" {
		s.method = http.MethodPost
	}
	for k, v := range o.Headers {
		if k == "" || strings.ContainsAny(k, "\r\n: ") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("http delivery: header %q is malformed", k)
		}
		s.headers[k] = v
	}
	switch o.Auth.Type {
	case "":
	case "basic_auth", "basic":
		if o.Auth.User == "" {
			return nil, errors.New("http delivery: basic_auth needs a user")
		}
	case "api_key":
		if o.Auth.Name == "" || strings.ContainsAny(o.Auth.Name+o.Auth.Value, "\r\n") {
			return nil, errors.New("http delivery: api_key needs a name and a single-line value")
		}
		if o.Auth.In != "" && o.Auth.In != "header" && o.Auth.In != "cookie" {
			return nil, fmt.Errorf("http delivery: api_key in %q is not header or cookie", o.Auth.In)
		}
	default:
		return nil, fmt.Errorf("http delivery: auth type %q is not basic_auth or api_key", o.Auth.Type)
	}
	if o.BodyTemplate != "" {
		t, err := texttemplate.New("body").Funcs(texttemplate.FuncMap{"json": jsonString}).Parse(o.BodyTemplate)
		if err != nil {
			return nil, fmt.Errorf("http delivery: body template: %w", err)
		}
		s.body = t
		// Fail now, not on every message, when the template cannot make
		// JSON (a Kratos Jsonnet body, for instance).
		var buf bytes.Buffer
		sample := HTTPPayload{ID: "00000000-0000-0000-0000-000000000000", Channel: "email", MessageType: "email",
			Recipient: "user@example.com", Subject: "Subject", Body: "Body", TemplateType: TypeLoginCodeValid,
			TemplateData: json.RawMessage(`{"LoginCode":"123456"}`)}
		if err := t.Execute(&buf, sample); err != nil || !json.Valid(buf.Bytes()) {
			return nil, errors.New("http delivery: body template must be a Go text/template that produces JSON (Jsonnet is not supported)")
		}
	}
	if s.client == nil {
		timeout := o.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		s.client = &http.Client{Timeout: timeout}
	}
	return s, nil
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Send posts m. Any 2xx answer is success. It returns a Permanent error when
// the body template fails or does not produce JSON, and a plain error naming
// the host and path (never the query, the credentials or the body) when the
// endpoint is unreachable or answers otherwise.
func (s *HTTPSender) Send(ctx context.Context, m *core.Message) error {
	p := HTTPPayload{
		ID:           m.ID,
		Channel:      string(m.Channel),
		MessageType:  string(m.Channel),
		Recipient:    m.Recipient,
		Subject:      m.Subject,
		Body:         m.Body,
		HTMLBody:     m.HTMLBody,
		TemplateType: m.TemplateType,
		TemplateData: m.TemplateData,
	}
	if len(p.TemplateData) == 0 || !json.Valid(p.TemplateData) {
		p.TemplateData = nil
	}
	var body []byte
	if s.body == nil {
		b, err := json.Marshal(p)
		if err != nil {
			return Permanent(fmt.Errorf("http delivery: encode body: %w", err))
		}
		body = b
	} else {
		var buf bytes.Buffer
		if err := s.body.Execute(&buf, p); err != nil {
			return Permanent(fmt.Errorf("http delivery: body template: %w", err))
		}
		if !json.Valid(buf.Bytes()) {
			return Permanent(errors.New("http delivery: body template did not produce JSON"))
		}
		body = buf.Bytes()
	}

	where := s.method + " " + s.url.Host + s.url.Path
	req, err := http.NewRequestWithContext(ctx, s.method, s.url.String(), bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("http delivery: %s: build request", where))
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	switch s.auth.Type {
	case "basic_auth", "basic":
		req.SetBasicAuth(s.auth.User, s.auth.Password)
	case "api_key":
		if s.auth.In == "cookie" {
			req.AddCookie(&http.Cookie{Name: s.auth.Name, Value: s.auth.Value})
		} else {
			req.Header.Set(s.auth.Name, s.auth.Value)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("http delivery: %s: %w", where, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("http delivery: %s: status %d", where, resp.StatusCode)
	}
	return nil
}
