package fetch

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// DefaultTimeout bounds a request made with the client New returns.
const DefaultTimeout = 10 * time.Second

// Client returns the HTTP client Get uses when given none: a timeout of
// DefaultTimeout and no other change to http.DefaultTransport.
func Client() *http.Client { return &http.Client{Timeout: DefaultTimeout} }

// Get returns the document at raw, at most max bytes: file:///path (or
// file://path), base64://<data> (standard or URL alphabet, padded or not) or
// http(s)://… fetched with client (Client() when nil), which must answer 200.
// Errors name what went wrong but never quote a base64:// URL's data.
func Get(ctx context.Context, client *http.Client, raw string, max int64) ([]byte, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("%q has no scheme: use file://, base64:// or https://", Redact(raw))
	}
	var body []byte
	switch strings.ToLower(scheme) {
	case "file":
		path := rest
		if u, err := url.Parse(raw); err == nil && u.Path != "" && (u.Host == "" || u.Host == "localhost") {
			path = u.Path
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		defer f.Close()
		if body, err = io.ReadAll(io.LimitReader(f, max+1)); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	case "base64":
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if body, err = enc.DecodeString(strings.TrimSpace(rest)); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("the base64:// URL does not hold base64")
		}
	case "http", "https":
		if client == nil {
			client = Client()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", raw, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("fetch %s: status %d", raw, resp.StatusCode)
		}
		if body, err = io.ReadAll(io.LimitReader(resp.Body, max+1)); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", raw, err)
		}
	default:
		return nil, fmt.Errorf("unsupported scheme %q: use file://, base64:// or https://", scheme)
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", Redact(raw), max)
	}
	return body, nil
}

// Redact shortens a base64:// URL (its data may be a secret or just long) for
// messages; other URLs are returned as they are.
func Redact(u string) string {
	if strings.HasPrefix(strings.ToLower(u), "base64://") && len(u) > 40 {
		return u[:40] + "…"
	}
	return u
}
