package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// newClient returns an HTTP/1.1 keep-alive client that keeps up to conns
// idle connections per host, never follows redirects, never asks for
// compression and dials loopback addresses only.
func newClient(conns int, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        4 * conns,
		MaxIdleConnsPerHost: 2 * conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		// A non-nil empty map turns HTTP/2 off: the tool measures HTTP/1.1.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// StatusError is an HTTP answer other than the one a step expected.
type StatusError struct {
	Method, URL string
	Status      int
	Body        string // the start of the body, for the report
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, e.Body)
}

// SkipError says a scenario cannot run against this target, and why.
type SkipError struct{ Reason string }

func (e *SkipError) Error() string { return "skipped: " + e.Reason }

// skipIfMissing turns a 404 or 405 answer during a scenario's setup into a
// SkipError naming the endpoint; other errors are returned as they are.
func skipIfMissing(what string, err error) error {
	var se *StatusError
	if isMissing(err) && errors.As(err, &se) {
		return &SkipError{Reason: fmt.Sprintf("%s: %s %s answered %d", what, se.Method, se.URL, se.Status)}
	}
	return err
}

// limitedSkip turns a 429 answer into a SkipError naming the server's
// attempt limits to raise (as bench/run.sh does); other errors are returned
// as they are.
func limitedSkip(err error) error {
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusTooManyRequests {
		return &SkipError{Reason: fmt.Sprintf("%s %s answered 429 (the server's attempt limit): raise ratelimit.attempts.identity's first tier, "+
			"ratelimit.attempts.ip.limit and hanko.rate_limiter.password_limits.tokens (LATCHKEY_RATELIMIT_ATTEMPTS_IDENTITY, "+
			"LATCHKEY_RATELIMIT_ATTEMPTS_IP_LIMIT, LATCHKEY_HANKO_RATE_LIMITER_PASSWORD_LIMITS_TOKENS) as bench/serve.sh does", se.Method, se.URL)}
	}
	return err
}

// isMissing reports whether err is a 404 or 405 answer: the target does not
// have the endpoint.
func isMissing(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Status == http.StatusNotFound || se.Status == http.StatusMethodNotAllowed)
}

// call is one HTTP exchange: method and url, JSON body (nil for none; a
// []byte is sent as it is), extra headers, the statuses accepted (any 2xx
// when empty). It returns the response with its body read.
type call struct {
	method, url string
	body        any
	header      http.Header
	want        []int
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (c *call) do(ctx context.Context, hc *http.Client) (*reply, error) {
	var rd io.Reader
	if c.body != nil {
		b, ok := c.body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(c.body); err != nil {
				return nil, fmt.Errorf("%s %s: encode body: %w", c.method, c.url, err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.method, c.url, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.method, c.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", c.method, c.url, err)
	}
	r := &reply{status: resp.StatusCode, header: resp.Header, body: body}
	if !c.accepts(resp.StatusCode) {
		return r, &StatusError{Method: c.method, URL: c.url, Status: resp.StatusCode, Body: snippet(body)}
	}
	return r, nil
}

func (c *call) accepts(status int) bool {
	if len(c.want) == 0 {
		return status >= 200 && status < 300
	}
	for _, w := range c.want {
		if status == w {
			return true
		}
	}
	return false
}

// decode unmarshals the reply's body into out, naming the call on failure.
func (r *reply) decode(c *call, out any) error {
	if err := json.Unmarshal(r.body, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the expected JSON: %w (%s)", c.method, c.url, err, snippet(r.body))
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// fetch sends a prepared GET or POST on the hot path and drains the body,
// returning its length. It checks the status, and the body with check when
// check is not nil.
func fetch(ctx context.Context, hc *http.Client, method, url string, header http.Header, body []byte, want int, check func([]byte) error) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header = header.Clone()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, &StatusError{Method: method, URL: url, Status: resp.StatusCode, Body: snippet(b)}
	}
	if check == nil {
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: read body: %w", method, url, err)
		}
		return int(n), nil
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	if err := check(b); err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, url, err)
	}
	return len(b), nil
}
