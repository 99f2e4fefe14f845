package kratos

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/core"
)

// returnTo checks return_to URLs against selfservice.allowed_return_urls as
// Kratos' SecureRedirectTo does (notes §2.4).
type returnTo struct {
	allowed       []*url.URL
	defaultReturn *url.URL
}

func newReturnTo(allowed []string, publicBase, defaultReturn string) (*returnTo, error) {
	rt := &returnTo{}
	d, err := url.Parse(defaultReturn)
	if err != nil {
		return nil, fmt.Errorf("selfservice.default_browser_return_url: %w", err)
	}
	rt.defaultReturn = d
	for _, a := range append(append([]string{}, allowed...), strings.TrimRight(publicBase, "/")+"/self-service") {
		u, err := url.Parse(strings.Replace(a, "*.", "__wildcard__.", 1))
		if err != nil {
			return nil, fmt.Errorf("selfservice.allowed_return_urls: %q: %w", a, err)
		}
		u.Host = strings.Replace(u.Host, "__wildcard__.", "*.", 1)
		rt.allowed = append(rt.allowed, u)
	}
	return rt, nil
}

// check returns the absolute return_to URL when raw is allowed, "" when raw
// is empty, and a 400 self_service_flow_return_to_forbidden error otherwise.
func (rt *returnTo) check(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", returnToForbidden(raw)
	}
	if !u.IsAbs() {
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return "", returnToForbidden(raw)
		}
		u.Scheme, u.Host = rt.defaultReturn.Scheme, rt.defaultReturn.Host
	}
	for _, a := range rt.allowed {
		if matchReturnTo(a, u) {
			return u.String(), nil
		}
	}
	return "", returnToForbidden(raw)
}

func matchReturnTo(a, u *url.URL) bool {
	if !strings.EqualFold(a.Scheme, u.Scheme) {
		return false
	}
	ah, uh := strings.ToLower(a.Host), strings.ToLower(u.Host)
	switch {
	case strings.HasPrefix(ah, "*."):
		if !strings.HasSuffix(uh, ah[1:]) {
			return false
		}
	case ah != uh:
		return false
	}
	ap := a.Path
	if ap == "" {
		ap = "/"
	}
	up := u.Path
	if up == "" {
		up = "/"
	}
	return strings.HasPrefix(up, ap)
}

// returnToError is Kratos' self_service_flow_return_to_forbidden.
type returnToError struct{ raw string }

func (e *returnToError) Error() string { return "return_to forbidden: " + e.raw }

func (e *returnToError) Unwrap() error {
	return &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("Requested return_to URL %q is not allowed.", e.raw)}
}

func returnToForbidden(raw string) error { return &returnToError{raw: raw} }
