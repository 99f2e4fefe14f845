package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// maxResponse caps what a subrequest may answer (a flow with a QR code is a
// few KiB).
const maxResponse = 4 << 20

// forwarded are the browser's headers a subrequest carries: the cookies
// (session and anti-CSRF), and what the face records or checks about the
// client.
var forwarded = []string{"Cookie", "User-Agent", "Accept-Language", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "True-Client-Ip"}

// reply is a subrequest's answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends GET path (with its query) to the public handler in process, as
// the browser's request r, asking for JSON. It fails only when the answer
// is larger than maxResponse.
func (h *Handler) call(r *http.Request, path string) (*reply, error) {
	return h.callMethod(r, http.MethodGet, path)
}

// callMethod is call with another method (DELETE /sessions/{id}); the
// subrequest has no body.
func (h *Handler) callMethod(r *http.Request, method, path string) (*reply, error) {
	sub, err := http.NewRequestWithContext(r.Context(), method, path, nil)
	if err != nil {
		return nil, fmt.Errorf("ui: build request for %s %s: %w", method, path, err)
	}
	for _, k := range forwarded {
		if v := r.Header.Values(k); len(v) > 0 {
			sub.Header[k] = append([]string(nil), v...)
		}
	}
	sub.Header.Set("Accept", "application/json")
	sub.Host, sub.RemoteAddr, sub.TLS = r.Host, r.RemoteAddr, r.TLS
	rec := &recorder{header: http.Header{}}
	h.public().ServeHTTP(rec, sub)
	if rec.overflow {
		return nil, fmt.Errorf("ui: %s %s answered more than %d bytes", method, path, maxResponse)
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &reply{status: rec.status, header: rec.header, body: rec.body.Bytes()}, nil
}

// decode decodes the reply's JSON body into v.
func (rp *reply) decode(v any) error {
	if err := json.Unmarshal(rp.body, v); err != nil {
		return fmt.Errorf("ui: decode %d answer: %w", rp.status, err)
	}
	return nil
}

// errorBody returns the reply's Kratos error envelope (zero when the body is
// not one).
func (rp *reply) errorBody() errorEnvelopeJSON {
	var e errorEnvelopeJSON
	_ = json.Unmarshal(rp.body, &e)
	if e.RedirectBrowserTo == "" {
		if s, ok := e.Error.Details["redirect_browser_to"].(string); ok {
			e.RedirectBrowserTo = s
		}
	}
	return e
}

// forwardCookies copies the subrequest's Set-Cookie headers to the
// browser's response (the face may refresh the anti-CSRF cookie).
func forwardCookies(w http.ResponseWriter, rp *reply) {
	for _, c := range rp.header.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", c)
	}
}

// recorder is the http.ResponseWriter of a subrequest.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (rc *recorder) Header() http.Header { return rc.header }

func (rc *recorder) WriteHeader(code int) {
	if rc.status == 0 {
		rc.status = code
	}
}

func (rc *recorder) Write(b []byte) (int, error) {
	if rc.status == 0 {
		rc.status = http.StatusOK
	}
	if rc.body.Len()+len(b) > maxResponse {
		rc.overflow = true
		return 0, errors.New("ui: subrequest answer too large")
	}
	return rc.body.Write(b)
}
