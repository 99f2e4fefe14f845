package pwned

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1" // #nosec: SHA-1 is what the range API is keyed by (k-anonymity), not a password hash
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultHost is Kratos' default haveibeenpwned_host.
const DefaultHost = "api.pwnedpasswords.com"

// DefaultTimeout bounds one look-up when the caller's client has none.
const DefaultTimeout = 5 * time.Second

// maxBody caps an answer: a range holds about a thousand 40-byte lines
// (with padding, up to about 1,000 more), far below it.
const maxBody = 1 << 20

// Counter looks passwords up in the range API at https://Host/range/.
type Counter struct {
	host   string
	client *http.Client
}

// New returns a Counter for host (host[:port], empty means DefaultHost)
// using client, whose timeout bounds each look-up (nil: a client with
// DefaultTimeout).
func New(host string, client *http.Client) *Counter {
	if host == "" {
		host = DefaultHost
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	return &Counter{host: host, client: client}
}

// Breaches returns how many breaches contain password: 0 when its hash is
// not in the range. Errors (the look-up failed, the answer was not 200, or
// a matching line's count is not a number) mean the count is unknown.
func (c *Counter) Breaches(ctx context.Context, password string) (int64, error) {
	sum := sha1.Sum([]byte(password))
	full := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := full[:5], full[5:]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+c.host+"/range/"+prefix, nil)
	if err != nil {
		return 0, fmt.Errorf("pwned passwords: %w", err)
	}
	// Padding hides the size of the answer (padding lines count 0).
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "Latchkey")
	res, err := c.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL, whose path is the password's hash
		// prefix: keep it out of logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("pwned passwords: %s: %w", c.host, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		return 0, fmt.Errorf("pwned passwords: %s answered %d", c.host, res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return 0, fmt.Errorf("pwned passwords: reading the answer: %w", err)
	}
	if len(body) > maxBody {
		return 0, fmt.Errorf("pwned passwords: the answer of %s is larger than %d bytes", c.host, maxBody)
	}
	return count(body, suffix)
}

// count finds suffix in a range answer ("SUFFIX:COUNT" lines). As Kratos'
// validator does, lines without a colon are skipped, thousands separators
// in a count are dropped and a count that is not a number fails the whole
// answer.
func count(body []byte, suffix string) (int64, error) {
	var found int64
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		h, n, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(n), ",", ""), 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("pwned passwords: the count of %q is not a number: %q", h, n)
		}
		if strings.EqualFold(strings.TrimSpace(h), suffix) {
			found = v
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("pwned passwords: %w", err)
	}
	return found, nil
}

// ErrBadHost is returned by CheckHost.
var ErrBadHost = errors.New("not a host name")

// CheckHost reports whether host is a bare host[:port] (what Kratos puts
// between "https://" and "/range/"), not a URL.
func CheckHost(host string) error {
	if host == "" || strings.ContainsAny(host, "/?#@ \t") || strings.Contains(host, "://") {
		return fmt.Errorf("%q is %w[:port]: give it without scheme or path, such as %s", host, ErrBadHost, DefaultHost)
	}
	return nil
}
