package kratos

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

// Recovery and verification (issue #5 part B) share one shape: the user
// names an address (choose_method), Latchkey sends a code or a link to it
// (sent_email), and the code or the link proves the address
// (passed_challenge). Recovery then hands out a privileged session and a
// settings flow; verification marks the address verified. Both are
// enumeration safe: the answer to "send to this address" is the same whether
// or not an account has it.
//
// The handlers here are the flows' init, fetch and submit endpoints; they
// reuse the face's plumbing (flow start, rendering, CSRF, expiry, errors) and
// run every step on the flow engine, so the message is enqueued in the same
// store transaction as the step that sends it.

// AddressFlowOptions are the dependencies of the recovery and verification
// flows and of the code and link methods.
type AddressFlowOptions struct {
	// Courier renders and enqueues the messages (required).
	Courier *courier.Courier
	// MAC keys the stored hashes of codes and link tokens (required; a
	// cipher.Signer over secrets.default).
	MAC code.MACer
	// Random is the source of codes and tokens (crypto/rand when nil).
	Random io.Reader
}

// addressFlows is the state of the recovery and verification flows.
type addressFlows struct {
	courier *courier.Courier
	codes   *code.Issuer // six-digit codes (code.config)
	links   *code.Issuer // link tokens (link.config)
	// sent is the verification definition whose flows start in sent_email,
	// for flows created after registration with the message already sent.
	sent *flow.Definition
}

// enableRecoveryVerification adds the recovery and verification flows
// (with the code and link methods) to s, and installs the verification
// hook registration and settings call when none was given
// (SelfServiceOptions.AddressFlows). It returns an error when a required
// option is missing or a flow cannot be built.
func (s *SelfService) enableRecoveryVerification(o AddressFlowOptions) error {
	if o.Courier == nil || o.MAC == nil {
		return errors.New("kratos: Courier and MAC are required for recovery and verification")
	}
	random := o.Random
	if random == nil {
		random = rand.Reader
	}
	cc := s.cfg.Methods.Code.Config
	codes, err := code.NewIssuer(o.MAC, code.Options{Digits: 6, TTL: cc.Lifespan, MaxAttempts: cc.MaxSubmissions, Now: s.now, Rand: random})
	if err != nil {
		return fmt.Errorf("kratos: code issuer: %w", err)
	}
	links, err := code.NewIssuer(o.MAC, code.Options{TTL: s.cfg.Methods.Link.Config.Lifespan, MaxAttempts: cc.MaxSubmissions, Now: s.now, Rand: random})
	if err != nil {
		return fmt.Errorf("kratos: link issuer: %w", err)
	}
	a := &addressFlows{courier: o.Courier, codes: codes, links: links}
	s.addr = a
	for _, kind := range []core.FlowKind{core.FlowRecovery, core.FlowVerification} {
		b := s.addressDefinition(kind, stateChooseMethod)
		if s.defs[kind], err = b.Build(); err != nil {
			return fmt.Errorf("kratos: %s flow: %w", kind, err)
		}
	}
	b := s.addressDefinition(core.FlowVerification, stateSentEmail).
		Hook(flow.BeforeState(stateSentEmail, s.sendOnStart))
	if a.sent, err = b.Build(); err != nil {
		return fmt.Errorf("kratos: verification flow: %w", err)
	}
	if s.verify == nil {
		s.verify = s.verificationHook
	}
	return nil
}

// stateSentEmail is the state after a code or link was sent.
const stateSentEmail = "sent_email"

// Internal actions the face submits itself (clients cannot name them: the
// submit handler only forwards the body's method).
const (
	actionLinkToken = "kratos:link_token" // a link from a message was opened
	actionCodeLink  = "kratos:code_link"  // a verification link carrying the code was opened
)

// addressDefinition declares the recovery or verification flow starting in
// initial.
func (s *SelfService) addressDefinition(kind core.FlowKind, initial string) *flow.Builder {
	var actions []flow.Action
	for _, st := range s.addressStrategies(kind) {
		actions = append(actions, flow.Action{Name: st.method, Inputs: st.inputs, Execute: s.addressStep(kind, st.method)})
	}
	actions = append(actions,
		flow.Action{Name: actionLinkToken, Inputs: []flow.Input{{Name: "token", Type: flow.TypeString, TrimSpace: true}}, Execute: s.linkStep(kind)},
		flow.Action{Name: actionCodeLink, Inputs: []flow.Input{{Name: "code", Type: flow.TypeString, TrimSpace: true}}, Execute: s.addressStep(kind, methodCode)})
	b := flow.New("kratos_"+string(kind)).Kind(kind).
		InitialState(initial).
		State(stateChooseMethod, actions...).
		State(stateSentEmail, actions...).
		EndState(statePassedChallenge)
	if d := s.lifespans[kind]; d > 0 {
		b.TTL(d)
	}
	return b
}

// addressFlowConfigEnabled reports whether the flow of kind is switched on.
func (s *SelfService) addressFlowEnabled(kind core.FlowKind) bool {
	if s.addr == nil {
		return false
	}
	if kind == core.FlowRecovery {
		return s.cfg.Flows.Recovery.Enabled
	}
	return s.cfg.Flows.Verification.Enabled
}

// mountAddressFlows registers the recovery and verification routes. Without
// SelfServiceOptions.AddressFlows, or when a flow is disabled, its endpoints
// answer 400 self_service_flow_disabled.
func (s *SelfService) mountAddressFlows(mux *http.ServeMux) {
	for _, kind := range []core.FlowKind{core.FlowRecovery, core.FlowVerification} {
		k := kind
		p := "/self-service/" + string(k)
		mux.HandleFunc("GET "+p+"/browser", func(w http.ResponseWriter, r *http.Request) { s.initAddressFlow(w, r, k, "browser") })
		mux.HandleFunc("GET "+p+"/api", func(w http.ResponseWriter, r *http.Request) { s.initAddressFlow(w, r, k, "api") })
		mux.HandleFunc("GET "+p+"/flows", func(w http.ResponseWriter, r *http.Request) { s.getAddressFlow(w, r, k) })
		mux.HandleFunc("POST "+p, func(w http.ResponseWriter, r *http.Request) { s.submitAddressFlow(w, r, k) })
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) { s.submitAddressFlow(w, r, k) })
	}
}

// alreadyLoggedInRecovery is Kratos' recovery ErrAlreadyLoggedIn.
func alreadyLoggedInRecovery() error {
	return &kratosError{status: http.StatusBadRequest, id: "session_already_available",
		reason: "A valid session was detected and thus recovery is not possible.", message: "you are already logged in"}
}

// initAddressFlow serves GET /self-service/{recovery,verification}/{browser,api}.
func (s *SelfService) initAddressFlow(w http.ResponseWriter, r *http.Request, kind core.FlowKind, typ string) {
	jsonAnswer := typ == "api" || isJSONRequest(r)
	if !s.addressFlowEnabled(kind) {
		s.writeError(w, r, jsonAnswer, flowDisabled(kind))
		return
	}
	ret, err := s.returnTo.check(r.URL.Query().Get("return_to"))
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	if kind == core.FlowRecovery {
		if sess, _ := s.optionalSession(r); sess != nil {
			if !jsonAnswer {
				redirect(w, r, s.returnOrDefault(ret))
				return
			}
			s.writeError(w, r, true, alreadyLoggedInRecovery())
			return
		}
	}
	var tok []byte
	if typ == "browser" {
		if tok, err = s.csrf.ensure(w, r); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	res, err := s.start(r.Context(), kind, typ, requestURL(r, s.public), ret, tok, initState{})
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	if _, err := s.runWebHooks(r, s.beforeHooks(kind), func() *webhook.Context {
		return s.hookContext(r, s.renderAddress(r, kind, res, tok), nil, nil)
	}, webhook.SelectAll); err != nil {
		s.writeError(w, r, jsonAnswer, webHookError(err))
		return
	}
	if !jsonAnswer {
		redirect(w, r, s.uiURL(kind, res.Flow.ID))
		return
	}
	api.WriteJSON(w, http.StatusOK, s.renderAddress(r, kind, res, tok))
}

// getAddressFlow serves GET /self-service/{recovery,verification}/flows?id=.
func (s *SelfService) getAddressFlow(w http.ResponseWriter, r *http.Request, kind core.FlowKind) {
	if !s.addressFlowEnabled(kind) {
		s.writeError(w, r, true, flowDisabled(kind))
		return
	}
	res, err := s.fetchFlow(r, kind)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	var tok []byte
	if res.Flow.Type == "browser" {
		// Flows the registration hook created carry no cookie binding: the
		// cookie was rotated in the same response that created them.
		if stored, ok := keyCSRF.Get(res.Stash); ok {
			if err := s.csrf.verifyFlow(r, stored); err != nil {
				s.writeError(w, r, true, err)
				return
			}
		}
		tok = s.csrf.token(r)
	}
	api.WriteJSON(w, http.StatusOK, s.renderAddress(r, kind, res, tok))
}

// stepInfo carries the request into a step's actions and hooks, and what the
// step decided back out of them.
type stepInfo struct {
	r   *http.Request
	typ string // the flow's type
	// Set by the action: the identity whose address was proven.
	provenIdentity string
	// interrupt is the answer of a web hook that stopped a verification
	// (checked before the step); interrupted is set by the action when it
	// used the code up without verifying because of it.
	interrupt   *webhook.Interrupt
	interrupted bool
	// hooksQueued is set when the step's transaction queued the
	// asynchronous after hooks: the answer calls only the others.
	hooksQueued bool
}

type stepInfoKey struct{}

func stepOf(c *flow.Context) *stepInfo {
	si, _ := c.Context().Value(stepInfoKey{}).(*stepInfo)
	if si == nil {
		return &stepInfo{}
	}
	return si
}

// submitAddressFlow serves POST /self-service/{recovery,verification}?flow=
// and the GET of links from messages (?flow=&token=, ?flow=&code=).
func (s *SelfService) submitAddressFlow(w http.ResponseWriter, r *http.Request, kind core.FlowKind) {
	jsonHint := isJSONRequest(r)
	if !s.addressFlowEnabled(kind) {
		s.writeError(w, r, jsonHint, flowDisabled(kind))
		return
	}
	res, ok := s.submittedFlow(w, r, kind, jsonHint)
	if !ok {
		return
	}
	def, id := s.defs[kind], res.Flow.ID
	typ := res.Flow.Type
	jsonAnswer := typ == "api" || jsonHint
	var action string
	var input []byte
	var tok []byte
	var transient json.RawMessage
	var hasCode bool // a code submitted by POST
	// The code or link token submitted, and its method (code, link).
	var secret, secretMethod string
	if r.Method == http.MethodGet {
		// A link from a message, opened in a browser (any browser: the
		// link itself is the proof, so there is no CSRF token to check).
		// It is answered as a browser request unless JSON is asked for.
		jsonAnswer = jsonHint
		q := r.URL.Query()
		switch {
		case q.Get("token") != "":
			action, input = actionLinkToken, engineInput(map[string]any{"token": q.Get("token")}, []flow.Input{{Name: "token", Type: flow.TypeString}})
			secretMethod, secret = methodLink, strings.TrimSpace(q.Get("token"))
		case q.Get("code") != "":
			action, input = actionCodeLink, engineInput(map[string]any{"code": q.Get("code")}, []flow.Input{{Name: "code", Type: flow.TypeString}})
			secretMethod, secret = methodCode, strings.TrimSpace(q.Get("code"))
		default:
			s.showAddress(w, r, kind, res, s.csrf.token(r), jsonAnswer, http.StatusOK)
			return
		}
		tok = s.csrf.token(r)
	} else {
		body, err := s.decodeBody(w, r)
		if err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		if typ == "api" {
			if r.Header.Get("Origin") != "" {
				s.writeError(w, r, true, apiFlowBrowserRequest("an Origin header"))
				return
			}
			if hasNonCloudflareCookie(r) {
				s.writeError(w, r, true, apiFlowBrowserRequest("cookies"))
				return
			}
		} else {
			// An admin-created flow was never started by this browser, so it
			// has no anti-CSRF cookie to compare with (Kratos'
			// DangerousSkipCSRFCheck).
			if !val(keyAdminIssued, res.Stash) {
				sent, _ := body["csrf_token"].(string)
				if err := s.csrf.verify(r, sent); err != nil {
					s.writeError(w, r, jsonAnswer, err)
					return
				}
			}
			tok = s.csrf.token(r)
		}
		if res.Ended {
			s.showAddress(w, r, kind, res, tok, jsonAnswer, http.StatusBadRequest, addressRetryText(kind))
			return
		}
		method, _ := body["method"].(string)
		var strat *strategy
		for _, st := range s.addressStrategies(kind) {
			if st.method == method {
				strat = &st
				break
			}
		}
		if strat == nil {
			s.showAddress(w, r, kind, res, tok, jsonAnswer, http.StatusBadRequest, noStrategyText(string(kind)))
			return
		}
		var bad *Text
		if transient, bad = transientPayload(body); bad != nil {
			s.showAddress(w, r, kind, res, tok, jsonAnswer, http.StatusBadRequest, *bad)
			return
		}
		action, input = strat.method, engineInput(body, strat.inputs)
		c, _ := body["code"].(string)
		hasCode = c != ""
		if hasCode && action == methodCode {
			secretMethod, secret = methodCode, strings.TrimSpace(c)
		}
		// A send (an address without a code) counts against the address's
		// send limit before anything is written.
		if addr, _ := body["email"].(string); addr != "" && body["code"] == nil {
			if err := s.allowSend(r, addr); err != nil {
				s.writeError(w, r, jsonAnswer, err)
				return
			}
		}
	}
	// A code or link token is a secret: it goes through the shared attempt
	// policy (per identity and client IP, across flows and faces) before
	// the step looks at it.
	attemptKey := ""
	if action == actionLinkToken || action == actionCodeLink || (action == methodCode && hasCode) {
		attemptKey = res.Flow.IdentityID
		if attemptKey == "" {
			attemptKey = "address:" + val(keyAddress, res.Stash)
		}
		if err := s.checkAttempt(r, ratelimit.Code, attemptKey); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	si := &stepInfo{r: r, typ: typ}
	retryTyp := typ
	if r.Method == http.MethodGet {
		retryTyp = "browser" // a link from a message, opened in a browser
	}
	afterHooks := s.addressAfterHooks(kind)
	hooked := s.webhooks != nil && webhook.Has(afterHooks, webhook.SelectAll)
	// Kratos runs the after-verification hooks once the code is known to
	// be right and before the address is marked verified, so a hook can
	// stop the verification. The step does both in one transaction, which
	// must not wait for a web hook: the secret is checked here first on a
	// copy (no attempt counted), the synchronous hooks run, then the step
	// checks and counts it for real; after an interrupt it uses the code
	// up, as Kratos does, without verifying (proveAddress).
	var hookIdent *core.Identity
	if hooked && kind == core.FlowVerification && secret != "" {
		if hookIdent = s.secretProves(r, kind, res, secretMethod, secret); hookIdent != nil {
			_, err := s.runWebHooks(r, afterHooks, func() *webhook.Context {
				return s.hookContext(r, s.renderAddress(r, kind, res, nil), s.hookIdentity(hookIdent), nil)
			}, webhook.SelectAll|webhook.SelectSync)
			if !errors.As(err, &si.interrupt) && err != nil {
				s.writeError(w, r, jsonAnswer, webHookError(err))
				return
			}
		}
	}
	// The asynchronous (response.ignore) after hooks are queued in the
	// transaction of the step that recovers or verifies, so that the step
	// never commits without its calls; the answer calls the others.
	var inTx func(context.Context, store.Tx, *flow.Result) error
	if hooked {
		inTx = func(ctx context.Context, tx store.Tx, res *flow.Result) error {
			si.hooksQueued = false
			if !res.Ended || si.provenIdentity == "" {
				return nil
			}
			ident := hookIdent // what the synchronous hooks saw
			if ident == nil || kind == core.FlowRecovery {
				var err error
				if ident, err = tx.GetIdentity(ctx, si.provenIdentity); err != nil {
					return fmt.Errorf("load identity for web hooks: %w", err)
				}
			}
			hr := withTransient(r, transient)
			c := s.hookContext(hr, s.renderAddress(hr, kind, res, nil), s.hookIdentity(ident), nil)
			if err := s.webhooks.Enqueue(ctx, tx, afterHooks, c, webhook.SelectAll); err != nil {
				return err
			}
			si.hooksQueued = true
			return nil
		}
	}
	ctx := context.WithValue(r.Context(), stepInfoKey{}, si)
	res2, err := s.engine.Submit(ctx, def, flow.Submission{FlowID: id, Action: action, CSRFToken: res.Flow.CSRFToken, Input: input, InTx: inTx})
	if err == nil && attemptKey != "" && si.provenIdentity != "" {
		if serr := s.attempts.Succeed(r.Context(), ratelimit.Code, attemptKey, clientIP(r)); serr != nil && s.errs.Log != nil {
			// The code was right and the step is done; the count only
			// stays one too high.
			s.errs.Log.ErrorContext(r.Context(), "kratos: record a right code", "error", serr)
		}
	}
	switch {
	case errors.Is(err, flow.ErrExpired):
		s.replaceExpired(w, r, kind, id, jsonHint)
		return
	case errors.Is(err, flow.ErrEnded):
		s.showAddress(w, r, kind, res, tok, jsonAnswer, http.StatusBadRequest, addressRetryText(kind))
		return
	case errors.Is(err, flow.ErrConflict), errors.Is(err, flow.ErrCSRF):
		s.writeError(w, r, jsonAnswer, &core.Error{Code: core.CodeConflict, Message: "The flow was submitted twice at the same time; reload it and try again.", Cause: err})
		return
	case errors.Is(err, flow.ErrActionNotAllowed):
		s.showAddress(w, r, kind, res, tok, jsonAnswer, http.StatusBadRequest, noStrategyText(string(kind)))
		return
	case err != nil:
		s.writeError(w, r, jsonAnswer, &core.Error{Code: core.CodeInternal, Message: "Submitting the flow failed.", Cause: err})
		return
	}
	if si.interrupted {
		s.retryAddressFlow(w, r, kind, retryTyp, res, si.interrupt, jsonAnswer)
		return
	}
	if res2.Error == nil {
		r = withTransient(r, transient)
	}
	switch {
	case res2.Error != nil:
		s.showAddress(w, r, kind, res2, tok, jsonAnswer, http.StatusBadRequest)
	case !res2.Ended:
		s.showAddress(w, r, kind, res2, tok, jsonAnswer, http.StatusOK)
	case kind == core.FlowRecovery:
		s.finishRecovery(w, r, res2, si, jsonAnswer, action == actionLinkToken)
	default:
		s.showAddress(w, r, kind, res2, tok, jsonAnswer, http.StatusOK)
	}
}

// secretProves returns the identity whose address res's flow is about when
// submitted is its current code or link token (of method), nil otherwise.
// It checks a copy of the stored secret, so nothing is counted or used: the
// step checks it again, for real.
func (s *SelfService) secretProves(r *http.Request, kind core.FlowKind, res *flow.Result, method, submitted string) *core.Identity {
	if res.Ended || !s.now().Before(res.Flow.ExpiresAt) {
		return nil // the step refuses it
	}
	st := res.Stash
	addr := val(keyAddress, st)
	stored, ok := keyAddrCode.Get(st)
	if !ok || addr == "" || res.Flow.IdentityID == "" || val(keyAddrMethod, st) != method {
		return nil
	}
	issuer := s.addr.codes
	if method == methodLink {
		issuer = s.addr.links
	}
	probe := stored
	if issuer.Check(&probe, binding(kind, res.Flow.ID, addr), submitted) != nil {
		return nil
	}
	i, err := s.st.GetIdentity(r.Context(), res.Flow.IdentityID)
	if err != nil {
		return nil // the step answers as it does for a vanished identity
	}
	return i
}

// showAddress answers with the flow: browsers are sent to its UI, JSON
// clients get it with status (200 after a step that went well, 400 when the
// form shows errors). extra messages are shown, not stored.
func (s *SelfService) showAddress(w http.ResponseWriter, r *http.Request, kind core.FlowKind, res *flow.Result, tok []byte, jsonAnswer bool, status int, extra ...Text) {
	if !jsonAnswer {
		redirect(w, r, s.uiURL(kind, res.Flow.ID))
		return
	}
	api.WriteJSON(w, status, s.renderAddress(r, kind, res, tok, extra...))
}

// renderAddress renders a recovery or verification flow. A verified flow's
// UI is replaced by a GET form with one "continue" link to where the user
// goes next, as Kratos does.
func (s *SelfService) renderAddress(r *http.Request, kind core.FlowKind, res *flow.Result, tok []byte, extra ...Text) flowJSON {
	out := s.render(r, kind, res, nil, tok, extra...)
	if kind == core.FlowVerification && res.State == statePassedChallenge {
		ret := s.returnOrDefault(val(keyReturnTo, res.Stash), s.cfg.Flows.Verification.After.DefaultBrowserReturnURL)
		group := val(keyAddrMethod, res.Stash)
		if group == "" {
			group = methodCode
		}
		label := labelContinue
		out.UI.Method = http.MethodGet
		out.UI.Action = ret
		out.UI.Nodes = []Node{{Type: "a", Group: group, Messages: []Text{}, Meta: Meta{Label: &label},
			Attributes: Attributes{NodeType: "a", Href: ret, Title: &label, AnchorID: "continue"}}}
	}
	return out
}

// allowSend counts one code or link to addr requested by r's client under
// the shared send limits (ratelimit.send: per address, whichever face or
// flow sends, and per client IP).
func (s *SelfService) allowSend(r *http.Request, addr string) error {
	err := s.attempts.Send(r.Context(), schema.Normalize(core.ViaEmail, addr), clientIP(r))
	var ex *ratelimit.ExceededError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ex):
		return &rateLimited{retryAfter: ex.RetryAfter}
	default:
		return &core.Error{Code: core.CodeInternal, Message: "Checking the send limit failed.", Cause: err}
	}
}

// linkURL returns the URL of a link sent in a message: the flow's submit
// endpoint with the flow id and the token or code, on link.config.base_url
// when set.
func (s *SelfService) linkURL(kind core.FlowKind, flowID, param, value string) string {
	base := s.public
	if b := s.cfg.Methods.Link.Config.BaseURL; b != "" {
		base = b
		if base[len(base)-1] != '/' {
			base += "/"
		}
	}
	return base + "self-service/" + string(kind) + "?" + url.Values{"flow": {flowID}, param: {value}}.Encode()
}
