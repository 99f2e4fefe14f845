package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
)

// browser returns a client on the runner's connections with its own cookie
// jar, as one browser, following redirects with the jar; stop, when not
// nil, ends the redirect chain before a request it returns true for (that
// answer is returned instead).
func (r *Runner) browser(stop func(*http.Request) bool) *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Transport: r.hc.Transport, Timeout: r.o.Timeout, Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return fmt.Errorf("%s: more than 10 redirects", req.URL.Redacted())
			}
			if stop != nil && stop(req) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
}

// uiLoginPageOnce loads the hosted login page as a new browser: GET
// /ui/login redirects to /self-service/login/browser, which creates a flow,
// sets the anti-CSRF cookie and redirects to /ui/login?flow=ID, which
// fetches the flow and renders it. It returns the requests made and the
// page's size.
func (r *Runner) uiLoginPageOnce(ctx context.Context) (int, int, error) {
	reqs := 0
	hc := r.browser(func(*http.Request) bool { reqs++; return false })
	u := r.public + "/ui/login"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	final := resp.Request.URL
	if resp.StatusCode != http.StatusOK {
		return 0, 0, &StatusError{Method: http.MethodGet, URL: final.String(), Status: resp.StatusCode, Body: snippet(b)}
	}
	if final.Query().Get("flow") == "" || !strings.Contains(string(b), "<form") {
		return 0, 0, fmt.Errorf("GET %s: ended at %s without a login form: %s", u, final.Redacted(), snippet(b))
	}
	return reqs + 1, len(b), nil
}

func (r *Runner) uiLoginPage(ctx context.Context) ([]Result, error) {
	reqs, size, err := r.uiLoginPageOnce(ctx)
	if err != nil {
		return nil, skipIfMissing("hosted login page", err)
	}
	res, err := r.measure(ctx, "ui-login-page",
		fmt.Sprintf("a new browser per op: GET /ui/login → /self-service/login/browser (flow + CSRF cookie) → /ui/login?flow=ID (%d requests, %d B page)", reqs, size),
		r.serverPID(), "server", 1, func(ctx context.Context, _ int, _ int64) error {
			_, _, err := r.uiLoginPageOnce(ctx)
			return err
		})
	res.Crypto = "32 random bytes for the anti-CSRF token, masked (XOR) in the form; no hashing, signing or encryption of secrets"
	return []Result{res}, err
}

// hankoAdminCreate measures Hanko's admin POST /users with one verified
// primary e-mail address and no password: the same work as admin-create's
// Kratos identity with one e-mail trait.
func (r *Runner) hankoAdminCreate(ctx context.Context) ([]Result, error) {
	if err := r.requireAdmin(); err != nil {
		return nil, err
	}
	path := r.o.HankoAdminPrefix + "/users"
	create := func(ctx context.Context) error {
		c := r.adminCall(http.MethodPost, path, map[string]any{"emails": []map[string]any{{"address": r.email("hadm"), "is_primary": true, "is_verified": true}}})
		_, err := c.do(ctx, r.hc)
		return err
	}
	if err := create(ctx); err != nil {
		return nil, skipIfMissing("Hanko admin create user", err)
	}
	res, err := r.measure(ctx, "hanko-admin-create", "POST "+path+", one verified primary e-mail, no password (admin-create's work on the Hanko face)",
		r.serverPID(), "server", 1, func(ctx context.Context, _ int, _ int64) error { return create(ctx) })
	res.Crypto = "none"
	return []Result{res}, err
}
