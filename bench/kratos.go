package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/crypto/bcrypt"
)

// adminCall returns a call to the admin listener, with the API key.
func (r *Runner) adminCall(method, path string, body any, want ...int) *call {
	c := &call{method: method, url: r.admin + path, body: body, want: want}
	if r.o.APIKey != "" {
		c.header = http.Header{"Authorization": {"Bearer " + r.o.APIKey}}
	}
	return c
}

func (r *Runner) requireAdmin() error {
	if r.admin == "" {
		return &SkipError{Reason: "needs the admin URL (--admin)"}
	}
	return nil
}

// identityBody is a Kratos createIdentityBody.
type identityBody struct {
	SchemaID    string         `json:"schema_id"`
	Traits      map[string]any `json:"traits"`
	Credentials map[string]any `json:"credentials,omitempty"`
}

func (r *Runner) newIdentity(email string, cred map[string]any) identityBody {
	b := identityBody{SchemaID: r.o.SchemaID, Traits: map[string]any{"email": email}}
	if cred != nil {
		b.Credentials = map[string]any{"password": map[string]any{"config": cred}}
	}
	return b
}

// createUser creates one identity with the run's password: through the
// Kratos admin API, or, when the target has none, through Hanko's (create
// the user, then set the password).
func (r *Runner) createUser(ctx context.Context, email string) (user, error) {
	c := r.adminCall(http.MethodPost, "/admin/identities", r.newIdentity(email, map[string]any{"password": r.o.Password}), http.StatusCreated)
	rep, err := c.do(ctx, r.hc)
	if err == nil {
		var out struct {
			ID string `json:"id"`
		}
		if err := rep.decode(c, &out); err != nil {
			return user{}, err
		}
		return user{id: out.ID, email: email}, nil
	}
	if !isMissing(err) {
		return user{}, err
	}
	// Hanko's admin API.
	c = r.adminCall(http.MethodPost, "/users", map[string]any{"emails": []map[string]any{{"address": email, "is_primary": true, "is_verified": true}}})
	rep, herr := c.do(ctx, r.hc)
	if herr != nil {
		return user{}, skipIfMissing("create identities", fmt.Errorf("%w (and Kratos: %v)", herr, err))
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := rep.decode(c, &out); err != nil {
		return user{}, err
	}
	c = r.adminCall(http.MethodPost, "/users/"+url.PathEscape(out.ID)+"/password", map[string]any{"password": r.o.Password})
	if _, err := c.do(ctx, r.hc); err != nil {
		return user{}, fmt.Errorf("set password: %w", err)
	}
	return user{id: out.ID, email: email}, nil
}

// ensureUsers returns at least n identities with the run's password,
// creating the missing ones.
func (r *Runner) ensureUsers(ctx context.Context, n int) ([]user, error) {
	if err := r.requireAdmin(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	have := len(r.users)
	r.mu.Unlock()
	if have >= n {
		return r.users[:n], nil
	}
	created := make([]user, n-have)
	err := r.parallel(ctx, n-have, func(ctx context.Context, i int) error {
		u, err := r.createUser(ctx, r.email("user"))
		created[i] = u
		return err
	})
	if err != nil {
		return nil, skipIfMissing("create identities", err)
	}
	r.logf("created %d identities with a password", len(created))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, created...)
	return r.users[:n], nil
}

// nativeFlow starts a native (API) self-service flow with GET path and
// returns the flow's id; header (nil for none) is sent along, e.g. the
// session token of an aal2 login.
func (r *Runner) nativeFlow(ctx context.Context, path string, header http.Header) (string, error) {
	init := &call{method: http.MethodGet, url: r.public + path, header: header}
	var flow struct {
		ID string `json:"id"`
	}
	rep, err := init.do(ctx, r.hc)
	if err != nil {
		return "", err
	}
	if err := rep.decode(init, &flow); err != nil {
		return "", err
	}
	return flow.ID, nil
}

// kratosLogin runs one native password login and returns the session
// token.
func (r *Runner) kratosLoginOnce(ctx context.Context, identifier string) (string, error) {
	flowID, err := r.nativeFlow(ctx, "/self-service/login/api", nil)
	if err != nil {
		return "", err
	}
	submit := &call{method: http.MethodPost, url: r.public + "/self-service/login?flow=" + url.QueryEscape(flowID),
		body: map[string]any{"method": "password", "identifier": identifier, "password": r.o.Password}, want: []int{http.StatusOK}}
	rep, err := submit.do(ctx, r.hc)
	if err != nil {
		return "", err
	}
	var done struct {
		Token string `json:"session_token"`
	}
	if err := rep.decode(submit, &done); err != nil {
		return "", err
	}
	if done.Token == "" {
		return "", fmt.Errorf("%s %s: no session_token in the answer", submit.method, submit.url)
	}
	return done.Token, nil
}

// sessionTokens returns n Kratos session tokens from native logins of up to
// 20 identities.
func (r *Runner) sessionTokens(ctx context.Context, n int) ([]string, error) {
	users, err := r.ensureUsers(ctx, min(n, 20))
	if err != nil {
		return nil, err
	}
	tokens := make([]string, n)
	err = r.parallel(ctx, n, func(ctx context.Context, i int) error {
		t, err := r.kratosLoginOnce(ctx, users[i%len(users)].email)
		tokens[i] = t
		return err
	})
	if err != nil {
		return nil, skipIfMissing("Kratos native login", err)
	}
	r.logf("logged in %d Kratos sessions", n)
	return tokens, nil
}

func (r *Runner) whoami(ctx context.Context) ([]Result, error) {
	tokens, err := r.sessionTokens(ctx, r.o.Sessions)
	if err != nil {
		return nil, err
	}
	u := r.public + "/sessions/whoami"
	headers := make([]http.Header, len(tokens))
	for i, t := range tokens {
		headers[i] = http.Header{"Accept": {"application/json"}, "X-Session-Token": {t}}
	}
	n, err := fetch(ctx, r.hc, http.MethodGet, u, headers[0], nil, http.StatusOK, nil)
	if err != nil {
		return nil, skipIfMissing("whoami", err)
	}
	r.recordBody("whoami", n)
	res, err := r.measure(ctx, "whoami", fmt.Sprintf("%d sessions, %d B body", len(tokens), n), r.serverPID(), "server", 1,
		func(ctx context.Context, _ int, i int64) error {
			_, err := fetch(ctx, r.hc, http.MethodGet, u, headers[i%int64(len(headers))], nil, http.StatusOK, nil)
			return err
		})
	res.Crypto = "one SHA-256 of the session token (looked up by its hash)"
	return []Result{res}, err
}

func (r *Runner) kratosLogin(ctx context.Context) ([]Result, error) {
	users, err := r.ensureUsers(ctx, min(20, max(r.o.Load.Concurrency*2, 4)))
	if err != nil {
		return nil, err
	}
	if _, err := r.kratosLoginOnce(ctx, users[0].email); err != nil {
		return nil, skipIfMissing("Kratos native login", err)
	}
	res, err := r.measure(ctx, "kratos-login", fmt.Sprintf("%d identities; 2 requests per login", len(users)), r.serverPID(), "server", 1,
		func(ctx context.Context, _ int, i int64) error {
			_, err := r.kratosLoginOnce(ctx, users[i%int64(len(users))].email)
			return err
		})
	res.Crypto = "one password hash verify; a random session token and its SHA-256"
	return []Result{res}, err
}

// kratosRegisterOnce registers a new identity through a native flow. With
// Kratos' two-step registration (profile_first) a direct password submit
// answers 400 with the flow; the profile step is then submitted first.
func (r *Runner) kratosRegisterOnce(ctx context.Context, email string) error {
	flowID, err := r.nativeFlow(ctx, "/self-service/registration/api", nil)
	if err != nil {
		return err
	}
	submitURL := r.public + "/self-service/registration?flow=" + url.QueryEscape(flowID)
	traits := map[string]any{"email": email}
	pw := &call{method: http.MethodPost, url: submitURL,
		body: map[string]any{"method": "password", "traits": traits, "password": r.o.Password}, want: []int{http.StatusOK}}
	_, err = pw.do(ctx, r.hc)
	var se *StatusError
	if err == nil || !errors.As(err, &se) || se.Status != http.StatusBadRequest {
		return err
	}
	profile := &call{method: http.MethodPost, url: submitURL,
		body: map[string]any{"method": "profile", "traits": traits}, want: []int{http.StatusOK, http.StatusBadRequest}}
	if _, err := profile.do(ctx, r.hc); err != nil {
		return err
	}
	_, err = pw.do(ctx, r.hc)
	return err
}

func (r *Runner) kratosRegister(ctx context.Context) ([]Result, error) {
	if err := r.kratosRegisterOnce(ctx, r.email("reg")); err != nil {
		return nil, skipIfMissing("Kratos native registration", err)
	}
	res, err := r.measure(ctx, "kratos-register", "new identity per op", r.serverPID(), "server", 1,
		func(ctx context.Context, _ int, _ int64) error { return r.kratosRegisterOnce(ctx, r.email("reg")) })
	res.Crypto = "one password hash (and a session token when the registration runs the session hook)"
	return []Result{res}, err
}

func (r *Runner) adminCreate(ctx context.Context) ([]Result, error) {
	if err := r.requireAdmin(); err != nil {
		return nil, err
	}
	create := func(ctx context.Context) error {
		c := r.adminCall(http.MethodPost, "/admin/identities", r.newIdentity(r.email("adm"), nil), http.StatusCreated)
		_, err := c.do(ctx, r.hc)
		return err
	}
	if err := create(ctx); err != nil {
		return nil, skipIfMissing("Kratos admin create", err)
	}
	res, err := r.measure(ctx, "admin-create", "no password", r.serverPID(), "server", 1,
		func(ctx context.Context, _ int, _ int64) error { return create(ctx) })
	res.Crypto = "none"
	return []Result{res}, err
}

// benchHash returns a bcrypt hash of the run's password at cost 4, the
// cheapest bcrypt, for imported identities.
func (r *Runner) benchHash() (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(r.o.Password), bcrypt.MinCost)
	if err != nil {
		return "", fmt.Errorf("bcrypt: %w", err)
	}
	return string(h), nil
}

// batchBody is a PATCH /admin/identities body creating emails; the first
// withPassword of them get hash as their imported password.
func (r *Runner) batchBody(emails []string, withPassword int, hash string) []byte {
	type patch struct {
		Create identityBody `json:"create"`
	}
	ps := make([]patch, len(emails))
	for i, e := range emails {
		var cred map[string]any
		if i < withPassword {
			cred = map[string]any{"hashed_password": hash}
		}
		ps[i] = patch{Create: r.newIdentity(e, cred)}
	}
	b, _ := json.Marshal(map[string]any{"identities": ps})
	return b
}

// sendBatch sends one batch and fails when any item failed.
func (r *Runner) sendBatch(ctx context.Context, body []byte) error {
	c := r.adminCall(http.MethodPatch, "/admin/identities", body, http.StatusOK)
	rep, err := c.do(ctx, r.hc)
	if err != nil {
		return err
	}
	var out struct {
		Identities []struct {
			Action string          `json:"action"`
			Error  json.RawMessage `json:"error"`
		} `json:"identities"`
	}
	if err := rep.decode(c, &out); err != nil {
		return err
	}
	for _, it := range out.Identities {
		if it.Action != "create" {
			return fmt.Errorf("PATCH /admin/identities: an item answered %q: %s", it.Action, snippet(it.Error))
		}
	}
	return nil
}

func (r *Runner) batchImport(ctx context.Context) ([]Result, error) {
	if err := r.requireAdmin(); err != nil {
		return nil, err
	}
	hash, err := r.benchHash()
	if err != nil {
		return nil, err
	}
	size := r.o.BatchSize
	batch := func(ctx context.Context) error {
		emails := make([]string, size)
		for i := range emails {
			emails[i] = r.email("imp")
		}
		return r.sendBatch(ctx, r.batchBody(emails, size, hash))
	}
	if err := batch(ctx); err != nil {
		return nil, skipIfMissing("Kratos batch import", err)
	}
	res, err := r.measure(ctx, "batch-import", "", r.serverPID(), "server", size,
		func(ctx context.Context, _ int, _ int64) error { return batch(ctx) })
	if err == nil {
		res.Note = fmt.Sprintf("%d identities per batch, bcrypt cost 4 hashes; %.0f identities/s", size, res.OpsPerSec*float64(size))
		if res.CPUMsPerOp != nil {
			res.Note += fmt.Sprintf(", %.3f ms CPU per identity", *res.CPUMsPerOp/float64(size))
		}
	}
	return []Result{res}, err
}
