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
	Name      string                     `json:"name"`
	Status    int                        `json:"status"`
	CSRFToken string                     `json:"csrf_token"`
	Payload   map[string]json.RawMessage `json:"payload"`
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
	return r.hankoLoginTrace(ctx, email, nil)
}

// hankoLoginTrace is hankoLoginOnce calling step, when not nil, with the
// name of each action it posts.
func (r *Runner) hankoLoginTrace(ctx context.Context, email string, step func(action string)) (string, error) {
	c := &call{method: http.MethodPost, url: r.public + "/login", body: []byte(`{}`), want: []int{http.StatusOK}}
	rep, err := c.do(ctx, r.hc)
	if err != nil {
		return "", err
	}
	for range 12 {
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
		if step != nil {
			step(action)
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

// hankoFace fails with a SkipError unless the target serves Hanko's Flow
// API: POST /login must answer 200 with a flow state. Ory Kratos answers
// 404, or 403 from its CSRF protection, which is not a setup failure but a
// missing face.
func (r *Runner) hankoFace(ctx context.Context) error {
	r.mu.Lock()
	done, err := r.hankoChecked, r.hankoErr
	r.mu.Unlock()
	if done {
		return err
	}
	c := &call{method: http.MethodPost, url: r.public + "/login", body: []byte(`{}`), want: []int{http.StatusOK}}
	rep, err := c.do(ctx, r.hc)
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Status < 500:
		err = &SkipError{Reason: fmt.Sprintf("the target has no Hanko Flow API: POST %s answered %d (%s)", c.url, se.Status, bodySummary(se.Body))}
	case err == nil:
		var st hankoState
		if json.Unmarshal(rep.body, &st) != nil || st.Name == "" {
			err = &SkipError{Reason: fmt.Sprintf("the target has no Hanko Flow API: POST %s answered 200 without a flow state (%s)", c.url, snippet(rep.body))}
		}
	}
	if ctx.Err() != nil {
		return err
	}
	r.mu.Lock()
	r.hankoChecked, r.hankoErr = true, err
	r.mu.Unlock()
	return err
}

// jwts returns n fresh Hanko session JWTs from /login flows of up to 20
// identities; every call logs in anew.
func (r *Runner) jwts(ctx context.Context, n int) ([]string, error) {
	if err := r.hankoFace(ctx); err != nil {
		return nil, err
	}
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
		return nil, limitedSkip(skipIfMissing("Hanko login flow", err))
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

// missLoad is the load of a cache-miss measurement over n fresh tokens,
// each sent once: no warm-up (it would spend tokens) and at most n ops.
func (r *Runner) missLoad(n int) Load {
	l := r.o.Load
	l.Warmup = 0
	if l.Requests <= 0 || l.Requests > int64(n) {
		l.Requests = int64(n)
	}
	return l
}

// sessionCheck measures one Hanko session check twice: with --sessions
// JWTs in rotation, which the server's verified-JWT cache answers after the
// warm-up (cache-hit), and with --distinct-tokens fresh JWTs each sent once
// (cache-miss: the signature is verified on every request).
func (r *Runner) sessionCheck(ctx context.Context, name, what string, op func(ctx context.Context, tokens []string, i int64) (int, error)) ([]Result, error) {
	hot, err := r.jwts(ctx, r.o.Sessions)
	if err != nil {
		return nil, err
	}
	n, err := op(ctx, hot, 0)
	if err != nil {
		return nil, skipIfMissing(what, err)
	}
	r.recordBody(name, n)
	crypto := "one JWT signature verify (session.jwt.algorithm, ES256 by default); no hashing"
	hit, err := r.measure(ctx, name+"/cache-hit", fmt.Sprintf("%d JWTs in rotation, answered by the verified-JWT cache after warm-up; %d B body", len(hot), n),
		r.serverPID(), "server", 1, func(ctx context.Context, _ int, i int64) error { _, err := op(ctx, hot, i); return err })
	if err != nil {
		return nil, err
	}
	hit.Crypto = "none (JWT cache hit)"
	cold, err := r.jwts(ctx, r.o.DistinctTokens)
	if err != nil {
		return []Result{hit}, err
	}
	miss, err := r.measureLoad(ctx, r.missLoad(len(cold)), name+"/cache-miss",
		fmt.Sprintf("%d fresh JWTs, each sent once (no warm-up, at most %d ops): every request verifies a signature; %d B body", len(cold), len(cold), n),
		r.serverPID(), "server", 1, func(ctx context.Context, _ int, i int64) error { _, err := op(ctx, cold, i); return err })
	miss.Crypto = crypto
	return []Result{hit, miss}, err
}

func (r *Runner) validate(ctx context.Context) ([]Result, error) {
	u := r.public + "/sessions/validate"
	postHeader := http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}}
	// Op i sends token i (modulo the tokens), by GET for even i and by
	// POST for odd ones: a cache-miss run sends each token once.
	return r.sessionCheck(ctx, "validate", "Hanko validate", func(ctx context.Context, tokens []string, i int64) (int, error) {
		t := tokens[i%int64(len(tokens))]
		if i%2 == 0 {
			return fetch(ctx, r.hc, http.MethodGet, u, http.Header{"Accept": {"application/json"}, "Authorization": {"Bearer " + t}}, nil, http.StatusOK, checkValid)
		}
		body, _ := json.Marshal(map[string]string{"session_token": t})
		return fetch(ctx, r.hc, http.MethodPost, u, postHeader, body, http.StatusOK, checkValid)
	})
}

func (r *Runner) me(ctx context.Context) ([]Result, error) {
	u := r.public + "/me"
	return r.sessionCheck(ctx, "me", "Hanko /me", func(ctx context.Context, tokens []string, i int64) (int, error) {
		h := http.Header{"Accept": {"application/json"}, "Authorization": {"Bearer " + tokens[i%int64(len(tokens))]}}
		return fetch(ctx, r.hc, http.MethodGet, u, h, nil, http.StatusOK, nil)
	})
}

// hankoLoginRequests describes the requests hankoLoginOnce makes for a
// user of the target, read from one login: the actions in order.
func (r *Runner) hankoLoginSteps(ctx context.Context, email string) ([]string, error) {
	var steps []string
	_, err := r.hankoLoginTrace(ctx, email, func(action string) { steps = append(steps, action) })
	return steps, err
}

func (r *Runner) hankoLogin(ctx context.Context) ([]Result, error) {
	if err := r.hankoFace(ctx); err != nil {
		return nil, err
	}
	users, err := r.ensureUsers(ctx, min(20, max(r.o.Load.Concurrency*2, 4)))
	if err != nil {
		return nil, err
	}
	steps, err := r.hankoLoginSteps(ctx, users[0].email)
	if err != nil {
		return nil, limitedSkip(skipIfMissing("Hanko login flow", err))
	}
	note := fmt.Sprintf("%d identities; %d requests per login: POST /login, then %s", len(users), len(steps)+1, strings.Join(steps, ", "))
	res, err := r.measure(ctx, "hanko-login", note, r.serverPID(), "server", 1,
		func(ctx context.Context, _ int, i int64) error {
			_, err := r.hankoLoginOnce(ctx, users[i%int64(len(users))].email)
			return err
		})
	res.Crypto = "one password hash verify (server), one JWT signed"
	return []Result{res}, err
}
