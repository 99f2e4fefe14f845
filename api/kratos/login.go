package kratos

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

// The login flow's states (Kratos' choose_method; part B adds sent_email for
// codes) and its end state.
const (
	stateChooseMethod    = "choose_method"
	statePassedChallenge = "passed_challenge"
)

// Login stash keys.
var (
	keyRefresh = flow.NewStickyKey[bool]("kratos.login.refresh")
	keyAAL     = flow.NewStickyKey[string]("kratos.login.aal")
)

// val returns a stash value, or T's zero value.
func val[T any](k flow.Key[T], st *flow.Stash) T {
	v, _ := k.Get(st)
	return v
}

func (s *SelfService) loginDefinition() *flow.Builder {
	return flow.New("kratos_login").
		InitialState(stateChooseMethod).
		State(stateChooseMethod, s.actions(core.FlowLogin)...).
		State(stateSentEmail, s.actions(core.FlowLogin)...). // a login code was sent (strategy_code_login.go)
		EndState(statePassedChallenge)
}

// loginStrategies returns the enabled login methods.
func (s *SelfService) loginStrategies() []strategy {
	var out []strategy
	if s.cfg.Methods.Password.Enabled {
		out = append(out, strategy{
			method: "password",
			inputs: []flow.Input{{Name: "identifier", Type: flow.TypeString}, {Name: "password", Type: flow.TypePassword},
				{Name: "password_identifier", Type: flow.TypeString}},
			nodes:   s.passwordLoginNodes,
			prepare: s.passwordLogin,
		})
	}
	out = append(out, s.passkeyStrategy(core.FlowLogin)...)
	out = append(out, s.webauthnStrategy(core.FlowLogin)...)
	return append(out, s.secondFactorStrategies()...)
}

// loginInit checks a new login flow (notes §2.5 Login).
func (s *SelfService) loginInit(w http.ResponseWriter, r *http.Request, typ string, jsonAnswer bool, ret string, sess *core.Session, ident *core.Identity) (initState, error) {
	q := r.URL.Query()
	refresh, _ := strconv.ParseBool(q.Get("refresh"))
	aal := q.Get("aal")
	if aal == "" {
		aal = string(core.AAL1)
	}
	if aal != string(core.AAL1) && aal != string(core.AAL2) {
		return initState{}, &kratosError{status: http.StatusBadRequest, reason: "Unable to parse AuthenticationMethod Assurance Level (AAL): expected one of [aal1, aal2] but got " + aal}
	}
	if aal == string(core.AAL2) && sess == nil {
		return initState{}, aal1Required()
	}
	satisfied := sess != nil && (aal == string(core.AAL1) || sess.AAL == core.AAL2)
	if satisfied && !refresh {
		if !jsonAnswer {
			redirect(w, r, s.returnOrDefault(ret, s.cfg.Flows.Login.After.DefaultBrowserReturnURL))
			return initState{handled: true}, nil
		}
		return initState{}, sessionAlreadyAvailable()
	}
	via, err := s.codeVia(q.Get("via"), core.AAL(aal), ident)
	if err != nil {
		return initState{}, err
	}
	pre := initState{refresh: refresh, aal: core.AAL(aal), seed: func(st *flow.Stash) {
		keyRefresh.Set(st, refresh)
		keyAAL.Set(st, aal)
		if via != "" {
			keyCodeVia.Set(st, via)
		}
	}}
	if sess != nil {
		pre.ident = ident
	}
	return pre, nil
}

// loginSubmitChecks refuses a login while a session at the requested level
// exists (unless the flow refreshes).
func (s *SelfService) loginSubmitChecks(w http.ResponseWriter, r *http.Request, sub *submission, jsonAnswer bool) (bool, error) {
	if sub.sess == nil || val(keyRefresh, sub.res.Stash) {
		return false, nil
	}
	if val(keyAAL, sub.res.Stash) == string(core.AAL2) && sub.sess.AAL != core.AAL2 {
		return false, nil
	}
	if !jsonAnswer {
		redirect(w, r, s.returnOrDefault("", s.cfg.DefaultBrowserReturnURL))
		return true, nil
	}
	s.showForm(w, r, core.FlowLogin, sub.res, sub.ident, s.csrf.token(r), true,
		genericText("A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?"))
	return true, nil
}

// loginMessages are the container messages of a login flow's state.
func (s *SelfService) loginMessages(v *view) []Text {
	if v.res.Ended {
		return nil
	}
	switch {
	case val(keyAAL, v.res.Stash) == string(core.AAL2):
		if v.res.State == stateSentEmail {
			return nil // the code's own message (1010025) replaces it, as in Kratos
		}
		return []Text{msgMFA}
	case val(keyRefresh, v.res.Stash) && v.res.Flow.IdentityID != "":
		return []Text{msgReAuth}
	}
	return nil
}

// passwordLoginNodes renders the password method's login nodes (notes §3.1).
func (s *SelfService) passwordLoginNodes(v *view) []Node {
	if val(keyAAL, v.res.Stash) == string(core.AAL2) {
		return nil
	}
	var nodes []Node
	method := labelSignInPW
	if val(keyRefresh, v.res.Stash) && v.ident != nil {
		n := inputNode(groupDefault, "identifier", "hidden", false, nil)
		n.Attributes.Value = s.loginIdentifierOf(v.ident)
		nodes = append(nodes, n)
		method = labelSignIn
	} else {
		n := inputNode(groupDefault, "identifier", "text", true, s.identifierLabel(v.ident))
		var kept string
		if raw := v.value("identifier"); raw != nil {
			_ = jsonUnmarshal(raw, &kept)
		}
		n.Attributes.Value = kept
		nodes = append(nodes, n)
	}
	pw := inputNode(groupPassword, "password", "password", true, textPtr(labelPassword))
	pw.Attributes.Autocomplete = "current-password"
	nodes = append(nodes, pw, submitNode(groupPassword, "method", "password", method))
	return nodes
}

// identifierLabel is 1070002 with the schema title when exactly one trait of
// the default schema is a password identifier and has a title, else 1070004
// "ID" (Kratos' extension_identifier_label.go).
func (s *SelfService) identifierLabel(_ *core.Identity) *Text {
	sch, err := s.ids.Schemas().Schema(s.ids.DefaultSchemaID())
	if err != nil {
		return textPtr(labelID)
	}
	var ids []traitField
	for _, f := range s.schemaFields(sch) {
		if f.Identifier {
			ids = append(ids, f)
		}
	}
	if len(ids) == 1 && ids[0].Title != "" {
		return &Text{ID: MsgLabelGenerated, Text: ids[0].Title, Type: textInfo,
			Context: map[string]any{"title": ids[0].Title, "name": "identifier"}}
	}
	return textPtr(labelID)
}

// loginIdentifierOf returns the first password identifier of an identity.
func (s *SelfService) loginIdentifierOf(i *core.Identity) string {
	if c, ok := i.Credential(core.CredentialPassword); ok && len(c.Identifiers) > 0 {
		return c.Identifiers[0]
	}
	return ""
}

// passwordLogin checks an identifier and password (outside the step's
// transaction: hashing dominates a login).
func (s *SelfService) passwordLogin(sub *submission) (*outcome, error) {
	identifier := sub.str("identifier")
	if identifier == "" {
		identifier = sub.str("password_identifier")
	}
	pw := sub.str("password")
	o := &outcome{values: keep("identifier", identifier)}
	if identifier == "" {
		o.nodeMessages = map[string][]Text{"identifier": {requiredText("identifier")}}
	}
	if pw == "" {
		if o.nodeMessages == nil {
			o.nodeMessages = map[string][]Text{}
		}
		o.nodeMessages["password"] = []Text{requiredText("password")}
	}
	if o.nodeMessages != nil {
		return o, nil
	}
	i, succ, err := s.auth.Attempt(sub.r.Context(), schema.NormalizeIdentifier(identifier), pw, clientIP(sub.r))
	// A right password is taken back from the attempt limits in the
	// step's transaction (or, when the step does not commit, after it).
	o.tx = func(c *flow.ActionContext, _ *outcome) error {
		return succ.Record(c.Base().Context(), s.attempts.In(c.Base().Tx()))
	}
	o.untx = func(ctx context.Context) error { return succ.Record(ctx, s.attempts) }
	var rl *password.RateLimitError
	switch {
	case errors.As(err, &rl):
		return nil, &rateLimited{retryAfter: rl.RetryAfter}
	case errors.Is(err, password.ErrInvalidCredentials):
		o.messages = []Text{msgInvalidCreds}
		return o, nil
	case errors.Is(err, password.ErrIdentityDisabled):
		o.messages = []Text{msgDisabled}
		return o, nil
	case err != nil:
		return nil, &core.Error{Code: core.CodeInternal, Message: "Checking the password failed.", Cause: err}
	}
	if refreshing := val(keyRefresh, sub.res.Stash); refreshing && sub.res.Flow.IdentityID != "" && sub.res.Flow.IdentityID != i.ID {
		o.messages = []Text{msgInvalidCreds}
		return o, nil
	}
	if s.hasHook(s.loginHooks("password"), "require_verified_address") && !hasVerifiedAddress(i) {
		o.messages = []Text{msgNotVerified}
		return o, nil
	}
	o.identityID, o.ident, o.next = i.ID, i, statePassedChallenge
	return o, nil
}

func hasVerifiedAddress(i *core.Identity) bool {
	return slices.ContainsFunc(i.Addresses, func(a core.Address) bool { return a.Verifiable && a.Verified })
}

// loginHooks returns the after-login hooks for a method: the method's own
// when configured, else the flow's.
func (s *SelfService) loginHooks(method string) []string {
	a := s.cfg.Flows.Login.After
	return hookNames(a.Hooks, methodAfter(a, method).Hooks)
}

// loginResponse is successfulNativeLogin.
type loginResponse struct {
	Session      SessionJSON    `json:"session"`
	SessionToken string         `json:"session_token,omitempty"`
	ContinueWith []ContinueWith `json:"continue_with,omitempty"`
}

// finishLogin answers a login step: the form again, or the session.
func (s *SelfService) finishLogin(w http.ResponseWriter, r *http.Request, sub *submission, o *outcome, res *flow.Result, tok []byte, jsonAnswer bool) {
	if s.oidcFinish(w, r, core.FlowLogin, sub, o, res, tok, jsonAnswer) {
		return
	}
	if !res.Ended && o.relocate {
		s.relocateForm(w, r, core.FlowLogin, res, jsonAnswer)
		return
	}
	if !res.Ended {
		s.showForm(w, r, core.FlowLogin, res, sub.ident, tok, jsonAnswer)
		return
	}
	typ := res.Flow.Type
	method := val(keyActive, res.Stash)
	if _, err := s.runWebHooks(r, s.loginHookList(method), func() *webhook.Context {
		return s.hookContext(r, s.render(r, core.FlowLogin, res, o.ident, tok), s.hookIdentity(o.ident), nil)
	}, afterSel(o, webhook.SelectAll)); err != nil {
		if in := (*webhook.Interrupt)(nil); errors.As(err, &in) {
			s.interruptLogin(w, r, sub, res, in, tok, jsonAnswer)
			return
		}
		s.writeError(w, r, jsonAnswer, webHookError(err))
		return
	}
	var out *issued
	var err error
	switch {
	case o.issued != nil:
		// The step's transaction issued it or added the method (issueInTx).
		out = o.issued
		err = s.handOut(w, out, typ)
	case sub.sess != nil && sub.sess.IdentityID == o.identityID:
		// A refresh (or a step-up) adds the method to the session.
		sess := sub.sess
		if err = s.sessions.AddMethod(r.Context(), sess, core.AuthMethod{Method: method, AAL: s.methodAAL(method)}); err == nil {
			out = &issued{session: sess, token: s.sessionToken(r), added: true}
			err = s.handOut(w, out, typ)
		}
	default:
		out, err = s.issueSession(w, r, o.identityID, method, typ)
		if err == nil && typ == "browser" {
			_, err = s.csrf.rotate(w)
		}
	}
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	if s.hasHook(s.loginHooks(method), "revoke_active_sessions") {
		if _, err := s.sessions.RevokeOthers(r.Context(), o.identityID, out.session.ID); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	ret := s.returnOrDefault(val(keyReturnTo, res.Stash), methodAfter(s.cfg.Flows.Login.After, method).DefaultBrowserReturnURL,
		s.cfg.Flows.Login.After.DefaultBrowserReturnURL)
	if typ == "browser" {
		// A first factor of an identity with a second factor leaves an aal1
		// session: the browser continues to the aal2 login (native clients
		// get the session and start ?aal=aal2 themselves).
		step, err := s.needsAAL2(r.Context(), s.sessCfg.WhoAmI.RequiredAAL, out.session, o.ident)
		if err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		if step {
			to := s.aal2LoginURL(val(keyReturnTo, res.Stash))
			if !jsonAnswer {
				redirect(w, r, to)
				return
			}
			s.writeError(w, r, true, browserLocationChange(to))
			return
		}
	}
	if !jsonAnswer {
		redirect(w, r, ret)
		return
	}
	resp := loginResponse{Session: s.sessionJSON(out.session, o.ident)}
	if typ == "api" {
		resp.SessionToken = out.token
	} else {
		resp.ContinueWith = []ContinueWith{{Action: "redirect_browser_to", RedirectBrowserTo: ret}}
	}
	api.WriteJSON(w, http.StatusOK, resp)
}

// stepInTx is what the transaction of a step (a submitted form, a
// provider's callback) does after the step: queue the after hooks that
// wait for the commit, and issue a login's session (issueInTx).
func (s *SelfService) stepInTx(kind core.FlowKind, r *http.Request, sub *submission, o *outcome, tok []byte, jsonAnswer bool, hookReq func() *http.Request) func(context.Context, store.Tx, *flow.Result) error {
	queue := s.queueAfterHooks(kind, sub, o, tok, jsonAnswer, hookReq)
	return func(ctx context.Context, tx store.Tx, res *flow.Result) error {
		if err := queue(ctx, tx, res); err != nil {
			return err
		}
		if kind == core.FlowLogin {
			return s.issueInTx(ctx, tx, r, sub, o, res)
		}
		return nil
	}
}

// issueInTx issues the session of a login step that ended its flow inside
// the step's transaction, or adds the step's method to the caller's
// session there, so the session commits with the step. It does so only
// when nothing of the answer comes before the session: no web hook runs
// after the login (one may interrupt it), and the answer is finishLogin's
// own: not one of oidcFinish's (a sign-up in a login flow, a native app's
// code exchange). Otherwise, and when the caller's session can no longer
// be stepped up (the answer reports that as before), it leaves o.issued
// nil and the answer writes the session as it did.
func (s *SelfService) issueInTx(ctx context.Context, tx store.Tx, r *http.Request, sub *submission, o *outcome, res *flow.Result) error {
	o.issued = nil
	if !res.Ended || o.identityID == "" || o.redirect != "" || o.oidcSignedUp || res.Flow.Kind != core.FlowLogin ||
		res.Flow.Type == "api" && keyExchange.Has(res.Stash) {
		return nil
	}
	method := val(keyActive, res.Stash)
	if method == "" || s.webhooks != nil && webhook.Has(s.loginHookList(method), webhook.SelectAll) {
		return nil
	}
	if sub.sess != nil && sub.sess.IdentityID == o.identityID {
		// A copy: a transaction run again starts from the session as read.
		sess := *sub.sess
		err := s.sessions.AddMethodIn(ctx, tx, &sess, core.AuthMethod{Method: method, AAL: s.methodAAL(method)})
		var ce *core.Error
		switch {
		case errors.As(err, &ce):
			return nil // nothing written; the answer's AddMethod reports it
		case err != nil:
			return err
		}
		o.issued = &issued{session: &sess, token: s.sessionToken(r), added: true}
		return nil
	}
	sess, tok, err := s.sessions.IssueIn(ctx, tx, o.identityID, []core.AuthMethod{{Method: method, AAL: core.AAL1}}, device(r), s.sessionLifespan())
	if err != nil {
		return err
	}
	o.issued = &issued{session: sess, token: tok}
	return nil
}

// handOut puts the session of a finished login on a browser's answer: the
// session cookie and, for a new session, a new anti-CSRF token. A session
// the login added its method to keeps its token.
func (s *SelfService) handOut(w http.ResponseWriter, out *issued, typ string) error {
	if typ != "browser" {
		return nil
	}
	if err := s.cookie.issue(w, out.token, out.session.ExpiresAt, s.now()); err != nil {
		if out.added {
			return err
		}
		return &core.Error{Code: core.CodeInternal, Message: "Setting the session cookie failed.", Cause: err}
	}
	if !out.added {
		_, err := s.csrf.rotate(w)
		return err
	}
	return nil
}

// rateLimited is the 429 of too many password attempts.
type rateLimited struct{ retryAfter time.Duration }

func (e *rateLimited) Error() string { return "too many attempts" }

// Unwrap returns the domain error.
func (e *rateLimited) Unwrap() error {
	return &core.Error{Code: core.CodeRateLimited, Message: "Too many attempts; please wait before trying again."}
}
