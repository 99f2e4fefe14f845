package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxErrorKinds bounds the kinds one measurement counts apart; further
// kinds are counted together as otherErrors.
const maxErrorKinds = 20

const otherErrors = "(other kinds)"

// ErrorKind names the kind of a failed operation, so that failures can be
// counted by kind: for an HTTP answer the step's method and path (without
// the query), the status and the first line of the body's error message
// (the Kratos error id or reason, the Hanko code or message, or the
// body's first line); for any other error its first line with URL queries
// removed. Flow ids, request ids and other per-request values in a JSON
// error body are left out, so equal failures fall in one kind.
func ErrorKind(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		path := se.URL
		if u, perr := url.Parse(se.URL); perr == nil {
			path = u.Path
		}
		return fmt.Sprintf("%s %s: HTTP %d: %s", se.Method, path, se.Status, bodySummary(se.Body))
	}
	var skip *SkipError
	if errors.As(err, &skip) {
		return firstLine(skip.Error())
	}
	return stripQueries(firstLine(err.Error()))
}

// bodySummary returns the stable part of an error body: the error's id,
// code, reason or message when it is JSON in the Kratos or Hanko format,
// else its first line, at most 120 characters.
func bodySummary(body string) string {
	type message struct {
		ID   int    `json:"id"`
		Text string `json:"text"`
	}
	var v struct {
		Error json.RawMessage `json:"error"`
		Code  json.RawMessage `json:"code"`
		Msg   string          `json:"message"`
		Name  string          `json:"name"`
		// A Kratos flow re-rendered with messages.
		UI *struct {
			Messages []message `json:"messages"`
			Nodes    []struct {
				Messages []message `json:"messages"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	if json.Unmarshal([]byte(strings.TrimSuffix(body, "…")), &v) == nil {
		var e struct {
			ID      string          `json:"id"`
			Code    json.RawMessage `json:"code"`
			Reason  string          `json:"reason"`
			Message string          `json:"message"`
		}
		parts := []string{}
		if len(v.Error) > 0 && json.Unmarshal(v.Error, &e) == nil {
			for _, p := range []string{e.ID, strings.Trim(string(e.Code), `"`), e.Reason, e.Message} {
				if p != "" {
					parts = append(parts, p)
				}
			}
		}
		if v.Name != "" {
			parts = append([]string{"state " + v.Name}, parts...)
		}
		if v.UI != nil {
			msgs := v.UI.Messages
			for _, n := range v.UI.Nodes {
				msgs = append(msgs, n.Messages...)
			}
			parts = append(parts, "flow")
			for _, m := range msgs {
				parts = append(parts, fmt.Sprintf("%d %s", m.ID, m.Text))
			}
		}
		if len(parts) == 0 && v.Msg != "" {
			parts = append(parts, v.Msg)
		}
		if len(parts) > 0 {
			return clip(strings.Join(parts, " "), 120)
		}
	}
	return clip(firstLine(body), 120)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return clip(s, 200)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// stripQueries removes the query of every URL in s ("?flow=…" up to the
// next space or colon), so per-request ids do not make kinds differ.
func stripQueries(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '?')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		j := strings.IndexAny(s, " :\"")
		if j < 0 {
			return b.String()
		}
		s = s[j:]
	}
}
