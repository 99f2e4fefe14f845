package api

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// URLAllowList is the one matcher for every allow-listed redirect: Kratos'
// selfservice.allowed_return_urls (return_to, also for the hosted UI, which
// hands return_to to the face), and any redirect target a face accepts from
// a client. A pattern is an absolute http(s) URL whose host may start with
// one "*." wildcard (any subdomain, at any depth) and whose path is a
// prefix that matches on path segment boundaries: https://*.example.com/app
// allows /app, /app/ and /app/settings, never /application. Scheme and host
// compare case-insensitively, the port exactly; query and fragment of the
// candidate are free. A candidate whose path has dot segments or
// backslashes (which browsers resolve or read as "/") matches nothing.
//
// A pattern may also use a native app's own scheme (exp://192.168.1.5:19000,
// myapp://callback, com.example.app:/oauth): it then matches that scheme
// exactly, with host and path as above; an empty host matches only an empty
// host. Schemes a browser would run or read locally (javascript, data,
// vbscript, file, blob, about) are refused.
type URLAllowList struct {
	patterns []urlPattern
}

type urlPattern struct {
	scheme, host, path string // lower-cased scheme and host; path ends in "/" or is exact
}

// NewURLAllowList parses patterns. It returns an error naming the first
// pattern that is neither an absolute http(s) URL with a host nor a URL of
// a native app's own scheme (see CustomScheme).
func NewURLAllowList(patterns ...string) (*URLAllowList, error) {
	l := &URLAllowList{}
	for _, p := range patterns {
		u, err := url.Parse(strings.Replace(p, "://*.", "://wildcard.", 1))
		web := err == nil && (u.Scheme == "http" || u.Scheme == "https")
		switch {
		case err != nil || u.User != nil || u.Opaque != "":
			return nil, fmt.Errorf("%q is not an absolute http:// or https:// URL nor an app URL such as myapp://callback", p)
		case web && u.Host == "":
			return nil, fmt.Errorf("%q is not an absolute http:// or https:// URL", p)
		case !web && !CustomScheme(u.Scheme):
			return nil, fmt.Errorf("%q: the scheme %q cannot be a return URL; use https:// or an app scheme such as myapp://", p, u.Scheme)
		}
		host := strings.ToLower(u.Host)
		if strings.Contains(p, "://*.") {
			host = "*." + strings.TrimPrefix(host, "wildcard.")
		}
		if strings.Contains(strings.TrimPrefix(host, "*."), "*") {
			return nil, fmt.Errorf("%q: only one \"*.\" at the start of the host is allowed", p)
		}
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		l.patterns = append(l.patterns, urlPattern{scheme: strings.ToLower(u.Scheme), host: host, path: path})
	}
	return l, nil
}

// CustomScheme reports whether scheme is a native app's own URL scheme that
// may be allow-listed (exp, myapp, com.example.app): a valid scheme that is
// not http(s) nor one a browser runs or reads locally.
func CustomScheme(scheme string) bool {
	s := strings.ToLower(scheme)
	switch s {
	case "", "http", "https", "javascript", "data", "vbscript", "file", "blob", "about", "filesystem", "view-source", "ftp", "ftps", "ws", "wss":
		return false
	}
	for i, c := range s {
		letter := c >= 'a' && c <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// errUnsafePath is why a candidate path matches nothing.
var errUnsafePath = errors.New("dot segment or backslash in the path")

// Allows reports whether u (absolute) matches a pattern.
func (l *URLAllowList) Allows(u *url.URL) bool {
	if u == nil || !u.IsAbs() || u.Opaque != "" || u.User != nil || checkPath(u) != nil {
		return false
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	for _, p := range l.patterns {
		if p.scheme == scheme && MatchHost(p.host, host) && matchPath(p.path, path) {
			return true
		}
	}
	return false
}

// checkPath refuses paths a browser would resolve to another path.
func checkPath(u *url.URL) error {
	for _, p := range []string{u.Path, u.RawPath} {
		if strings.ContainsRune(p, '\\') {
			return errUnsafePath
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				return errUnsafePath
			}
		}
	}
	low := strings.ToLower(u.RawPath)
	if strings.Contains(low, "%2e") || strings.Contains(low, "%5c") {
		return errUnsafePath
	}
	return nil
}

// MatchHost reports whether host (lower-case, with port if any) matches
// pattern: equal, or for "*.example.com" any host ending in
// ".example.com" (the port must then be part of neither or both). It is
// shared by the redirect allow-list and the CORS origin check.
func MatchHost(pattern, host string) bool {
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		return len(host) > len(rest)+1 && strings.HasSuffix(host, "."+rest)
	}
	return pattern == host
}

// matchPath reports whether path lies at or below prefix on segment
// boundaries.
func matchPath(prefix, path string) bool {
	if path == prefix {
		return true
	}
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix)
	}
	return strings.HasPrefix(path, prefix+"/")
}
