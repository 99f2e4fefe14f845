package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// hankoState is the part of a Hanko Flow API answer the tool reads.
type hankoState struct {
	Name      string `json:"name"`
	Status    int    `json:"status"`
	CSRFToken string `json:"csrf_token"`
	Actions   map[string]struct {
		Href   string `json:"href"`
		Inputs map[string]struct {
			Value json.RawMessage `json:"value"`
		} `json:"inputs"`
	} `json:"actions"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func (s *hankoState) actionNames() []string {
	names := make([]string, 0, len(s.Actions))
	for n := range s.Actions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// hankoLoginOnce runs Hanko's /login flow with a password, as hanko-elements
// does: init, register_client_capabilities, continue_with_login_identifier
// (e-mail), then password_login; onboarding prompts are skipped. It returns
// the session JWT (X-Auth-Token, or the hanko cookie).
func (r *Runner) hankoLoginOnce(ctx context.Context, email string) (string, error) {
	c := &call{method: http.MethodPost, url: r.public + "/login", body: []byte(`{}`), want: []int{http.StatusOK}}
	rep, err := c.do(ctx, r.hc)
	if err != nil {
		return "", err
	}
	for step := 0; step < 12; step++ {
		var st hankoState
		if err := rep.decode(c, &st); err != nil {
			return "", err
		}
		if st.Name == "success" {
			if t := rep.header.Get("X-Auth-Token"); t != "" {
				return t, nil
			}
			for _, ck := range (&http.Response{Header: rep.header}).Cookies() {
				if ck.Name == "hanko" && ck.Value != "" {
					return ck.Value, nil
				}
			}
			return "", fmt.Errorf("hanko login: success without X-Auth-Token or hanko cookie")
		}
		action, input, err := nextHankoAction(&st, email, r.o.Password)
		if err != nil {
			return "", err
		}
		a := st.Actions[action]
		data := map[string]any{}
		for name, in := range a.Inputs {
			if len(in.Value) > 0 && string(in.Value) != "null" {
				data[name] = in.Value
			}
		}
		for k, v := range input {
			data[k] = v
		}
		href := a.Href
		if !strings.HasPrefix(href, "http://") && !strings.HasPrefix(href, "https://") {
			href = r.public + href
		}
		c = &call{method: http.MethodPost, url: href, body: map[string]any{"input_data": data, "csrf_token": st.CSRFToken}, want: []int{http.StatusOK}}
		if rep, err = c.do(ctx, r.hc); err != nil {
			return "", err
		}
	}
	return "", errors.New("hanko login: no success after 12 steps")
}

// nextHankoAction picks the action for a password login in state st and
// its input values.
func nextHankoAction(st *hankoState, email, password string) (string, map[string]any, error) {
	has := func(n string) bool { _, ok := st.Actions[n]; return ok }
	switch {
	case has("register_client_capabilities"):
		return "register_client_capabilities", map[string]any{
			"webauthn_available": false, "webauthn_conditional_mediation_available": false,
			"webauthn_platform_authenticator_available": false}, nil
	case has("continue_with_login_identifier"):
		inputs := st.Actions["continue_with_login_identifier"].Inputs
		key := "email"
		for _, k := range []string{"email", "identifier", "username"} {
			if _, ok := inputs[k]; ok {
				key = k
				break
			}
		}
		return "continue_with_login_identifier", map[string]any{key: email}, nil
	case has("password_login"):
		return "password_login", map[string]any{"password": password}, nil
	case has("continue_to_password_login"):
		return "continue_to_password_login", nil, nil
	case has("skip"):
		return "skip", nil, nil
	}
	code := ""
	if st.Error != nil {
		code = " (error " + st.Error.Code + ")"
	}
	return "", nil, fmt.Errorf("hanko login: state %q%s offers no password-login step: %v", st.Name, code, st.actionNames())
}

// jwts returns n Hanko session JWTs from /login flows of up to 20
// identities.
func (r *Runner) jwts(ctx context.Context, n int) ([]string, error) {
	users, err := r.ensureUsers(ctx, min(n, 20))
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	err = r.parallel(ctx, n, func(ctx context.Context, i int) error {
		t, err := r.hankoLoginOnce(ctx, users[i%len(users)].email)
		out[i] = t
		return err
	})
	if err != nil {
		return nil, skipIfMissing("Hanko login flow", err)
	}
	r.logf("logged in %d Hanko sessions", n)
	return out, nil
}

var isValidTrue = []byte(`"is_valid":true`)

// checkValid fails unless a /sessions/validate answer says is_valid: true.
func checkValid(b []byte) error {
	if bytes.Contains(b, isValidTrue) {
		return nil
	}
	var v struct {
		IsValid bool `json:"is_valid"`
	}
	if err := json.Unmarshal(b, &v); err != nil || !v.IsValid {
		return fmt.Errorf("session not valid: %s", snippet(b))
	}
	return nil
}

func (r *Runner) validate(ctx context.Context) ([]Result, error) {
	tokens, err := r.jwts(ctx, r.o.Sessions)
	if err != nil {
		return nil, err
	}
	u := r.public + "/sessions/validate"
	gets := make([]http.Header, len(tokens))
	posts := make([][]byte, len(tokens))
	postHeader := http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}}
	for i, t := range tokens {
		gets[i] = http.Header{"Accept": {"application/json"}, "Authorization": {"Bearer " + t}}
		posts[i], _ = json.Marshal(map[string]string{"session_token": t})
	}
	if _, err := fetch(ctx, r.hc, http.MethodGet, u, gets[0], nil, http.StatusOK, checkValid); err != nil {
		return nil, skipIfMissing("Hanko validate", err)
	}
	if _, err := fetch(ctx, r.hc, http.MethodPost, u, postHeader, posts[0], http.StatusOK, checkValid); err != nil {
		return nil, skipIfMissing("Hanko validate", err)
	}
	res, err := r.measure(ctx, "validate", fmt.Sprintf("%d JWTs, GET and POST alternating", len(tokens)), r.serverPID(), "server", 1,
		func(ctx context.Context, _ int, i int64) error {
			k := (i / 2) % int64(len(tokens))
			if i%2 == 0 {
				_, err := fetch(ctx, r.hc, http.MethodGet, u, gets[k], nil, http.StatusOK, checkValid)
				return err
			}
			_, err := fetch(ctx, r.hc, http.MethodPost, u, postHeader, posts[k], http.StatusOK, checkValid)
			return err
		})
	return []Result{res}, err
}

func (r *Runner) me(ctx context.Context) ([]Result, error) {
	tokens, err := r.jwts(ctx, r.o.Sessions)
	if err != nil {
		return nil, err
	}
	u := r.public + "/me"
	headers := make([]http.Header, len(tokens))
	for i, t := range tokens {
		headers[i] = http.Header{"Accept": {"application/json"}, "Authorization": {"Bearer " + t}}
	}
	n, err := fetch(ctx, r.hc, http.MethodGet, u, headers[0], nil, http.StatusOK, nil)
	if err != nil {
		return nil, skipIfMissing("Hanko /me", err)
	}
	res, err := r.measure(ctx, "me", fmt.Sprintf("%d JWTs, %d B body", len(tokens), n), r.serverPID(), "server", 1,
		func(ctx context.Context, _ int, i int64) error {
			_, err := fetch(ctx, r.hc, http.MethodGet, u, headers[i%int64(len(headers))], nil, http.StatusOK, nil)
			return err
		})
	return []Result{res}, err
}

func (r *Runner) hankoLogin(ctx context.Context) ([]Result, error) {
	users, err := r.ensureUsers(ctx, min(20, max(r.o.Load.Concurrency*2, 4)))
	if err != nil {
		return nil, err
	}
	if _, err := r.hankoLoginOnce(ctx, users[0].email); err != nil {
		return nil, skipIfMissing("Hanko login flow", err)
	}
	res, err := r.measure(ctx, "hanko-login", fmt.Sprintf("%d identities; init, capabilities, identifier, password", len(users)), r.serverPID(), "server", 1,
		func(ctx context.Context, _ int, i int64) error {
			_, err := r.hankoLoginOnce(ctx, users[i%int64(len(users))].email)
			return err
		})
	return []Result{res}, err
}
