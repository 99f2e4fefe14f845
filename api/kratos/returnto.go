package kratos

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
)

// returnTo checks return_to URLs against selfservice.allowed_return_urls
// (notes §2.4) with the one allow-list matcher of both faces,
// api.URLAllowList: paths match on segment boundaries, unlike Kratos' plain
// prefix. The public base URL's /self-service is always allowed.
type returnTo struct {
	allowed       *api.URLAllowList
	defaultReturn *url.URL
}

func newReturnTo(allowed []string, publicBase, defaultReturn string) (*returnTo, error) {
	rt := &returnTo{}
	d, err := url.Parse(defaultReturn)
	if err != nil {
		return nil, fmt.Errorf("selfservice.default_browser_return_url: %w", err)
	}
	rt.defaultReturn = d
	patterns := make([]string, 0, len(allowed)+1)
	for _, a := range allowed {
		if strings.HasPrefix(a, "/") && !strings.HasPrefix(a, "//") {
			// A path: relative return_to values resolve against the
			// default return URL, so do such patterns.
			a = d.Scheme + "://" + d.Host + a
		}
		patterns = append(patterns, a)
	}
	patterns = append(patterns, strings.TrimRight(publicBase, "/")+"/self-service")
	if rt.allowed, err = api.NewURLAllowList(patterns...); err != nil {
		return nil, fmt.Errorf("selfservice.allowed_return_urls: %w", err)
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
	if !rt.allowed.Allows(u) {
		return "", returnToForbidden(raw)
	}
	return u.String(), nil
}

// returnToError is Kratos' self_service_flow_return_to_forbidden.
type returnToError struct{ raw string }

func (e *returnToError) Error() string { return "return_to forbidden: " + e.raw }

func (e *returnToError) Unwrap() error {
	return &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("Requested return_to URL %q is not allowed.", e.raw)}
}

func returnToForbidden(raw string) error { return &returnToError{raw: raw} }
