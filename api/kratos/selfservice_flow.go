package kratos

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

// strategy is a credential method taking part in one kind of flow (Kratos'
// selfservice/strategy/*). Adding a method to a flow is adding a strategy
// to the kind's list: its nodes, the body fields it reads and its prepare
// step; the engine action that records its outcome is derived from it.
type strategy struct {
	// method is the body's "method" value that selects the strategy.
	method string
	// inputs are the body fields handed to the engine (besides method and
	// csrf_token, which the face consumes).
	inputs []flow.Input
	// nodes renders the strategy's nodes for the flow as it stands.
	nodes func(v *view) []Node
	// prepare does the work outside the step's transaction (password
	// hashing, identity writes) and decides the outcome the engine records.
	// An error is answered as an error envelope (or error page) without
	// touching the flow; problems to show in the form go into the outcome.
	prepare func(sub *submission) (*outcome, error)
	// fields, when set, are body fields whose non-empty value selects the
	// strategy when the body names no method: the WebAuthn script submits
	// its form natively, without a submit button, and Kratos' passkey and
	// webauthn strategies take such a submission by their result field.
	fields []string
	// begin, when set, runs before a flow of the kind is created and
	// returns what to seed its stash with (a WebAuthn ceremony's challenge,
	// which lives in the flow).
	begin func(ctx context.Context, b beginInfo) (func(st *flow.Stash), error)
}

// beginInfo is what a strategy's begin step knows about the flow being
// created.
type beginInfo struct {
	typ     string         // browser or api
	ident   *core.Identity // settings: the identity; login refresh or aal2: the caller's
	refresh bool           // login: ?refresh=true
	aal     core.AAL       // login: the requested level
}

// submission is one POST of a flow, as a strategy's prepare step sees it.
type submission struct {
	r     *http.Request
	res   *flow.Result
	body  map[string]any
	sess  *core.Session  // the caller's session, when there is one
	ident *core.Identity // its identity
}

// str returns a string field of the body ("" when missing or not a string).
func (sub *submission) str(name string) string {
	v, _ := sub.body[name].(string)
	return v
}

// view is what node renderers see.
type view struct {
	ctx    context.Context
	kind   core.FlowKind
	res    *flow.Result
	ident  *core.Identity // settings: the identity; login refresh: the caller's
	values map[string]json.RawMessage
}

// value returns a kept node value.
func (v *view) value(name string) json.RawMessage { return v.values[name] }

// flowJSON is the JSON of a login, registration or settings flow (the
// kind-specific fields are left out where they do not apply).
type flowJSON struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	ExpiresAt    time.Time      `json:"expires_at"`
	IssuedAt     time.Time      `json:"issued_at"`
	RequestURL   string         `json:"request_url"`
	ReturnTo     string         `json:"return_to,omitempty"`
	Active       string         `json:"active,omitempty"`
	UI           UI             `json:"ui"`
	CreatedAt    *time.Time     `json:"created_at,omitempty"`
	UpdatedAt    *time.Time     `json:"updated_at,omitempty"`
	Refresh      *bool          `json:"refresh,omitempty"`
	RequestedAAL core.AAL       `json:"requested_aal,omitempty"`
	Identity     *IdentityJSON  `json:"identity,omitempty"`
	ContinueWith []ContinueWith `json:"continue_with,omitempty"`
	State        string         `json:"state"`
	// TransientPayload echoes the submission's transient_payload in the
	// answer to a step that went through (transientOf).
	TransientPayload json.RawMessage `json:"transient_payload,omitempty"`
	// SessionTokenExchangeCode is the init code of the browser-to-app
	// hand-over, in the answer that creates the flow only.
	SessionTokenExchangeCode string `json:"session_token_exchange_code,omitempty"`
}

type transientKey struct{}

// withTransient returns r carrying the transient_payload to echo in the
// flow rendered for its answer.
func withTransient(r *http.Request, raw json.RawMessage) *http.Request {
	if len(raw) == 0 {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), transientKey{}, raw))
}

// transientPayload returns the body's transient_payload as JSON: nil when
// absent, an error message when it is not an object (Kratos' body schema
// types it as an object; UIs send it as JSON or as dotted form fields,
// transient_payload.x=…).
func transientPayload(body map[string]any) (json.RawMessage, *Text) {
	v, ok := body["transient_payload"]
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		t := genericText("transient_payload must be a JSON object.")
		return nil, &t
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t := genericText("transient_payload must be a JSON object.")
		return nil, &t
	}
	return raw, nil
}

// strategies returns the enabled strategies of a kind of flow. They
// depend only on the handler's configuration, so each kind's list is built
// once (a flow's render, submission and actions each ask for it); the
// slice is shared and must not be modified.
func (s *SelfService) strategies(kind core.FlowKind) []strategy {
	if v, ok := s.stratCache.Load(kind); ok {
		return v.([]strategy)
	}
	out := slices.Clip(s.buildStrategies(kind))
	s.stratCache.Store(kind, out)
	return out
}

// buildStrategies builds the list strategies returns.
func (s *SelfService) buildStrategies(kind core.FlowKind) []strategy {
	switch kind {
	case core.FlowLogin:
		out := append(s.loginStrategies(), s.codeStrategies(kind)...)
		for n := range out {
			out[n] = s.linkAfterProof(out[n])
		}
		return append(out, s.oidcStrategies(kind)...)
	case core.FlowRegistration:
		return append(append(s.registrationStrategies(), s.codeStrategies(kind)...), s.oidcStrategies(kind)...)
	case core.FlowSettings:
		return s.settingsStrategies()
	case core.FlowRecovery, core.FlowVerification:
		return s.addressStrategies(kind)
	}
	return nil
}

// actions returns the engine actions of a kind's strategies plus the
// internal message action.
func (s *SelfService) actions(kind core.FlowKind, targets ...string) []flow.Action {
	var out []flow.Action
	for _, st := range s.strategies(kind) {
		out = append(out, outcomeAction(st.method, st.inputs, targets...))
	}
	return append(out, messageAction())
}

// render builds the flow's JSON. csrfToken is the anti-CSRF cookie token to
// mask into the csrf_token node (browser flows).
func (s *SelfService) render(r *http.Request, kind core.FlowKind, res *flow.Result, ident *core.Identity, csrfToken []byte, extra ...Text) flowJSON {
	st := res.Stash
	f := res.Flow
	reqURL, _ := keyRequestURL.Get(st)
	ret, _ := keyReturnTo.Get(st)
	active, _ := keyActive.Get(st)
	values, _ := keyValues.Get(st)
	out := flowJSON{ID: f.ID, Type: f.Type, ExpiresAt: f.ExpiresAt, IssuedAt: f.CreatedAt, RequestURL: reqURL,
		ReturnTo: ret, Active: active, State: res.State}
	if out.Active == errorAction {
		out.Active = ""
	}
	if out.Active == "" && (kind == core.FlowRecovery || kind == core.FlowVerification) {
		// Kratos names the flow's one method from the start (recovery.use,
		// verification.use); Ory Elements refuses a recovery or
		// verification flow without it.
		if strats := s.addressStrategies(kind); len(strats) > 0 {
			out.Active = strats[0].method
		}
	}
	out.ContinueWith, _ = keyContinueWith.Get(st)
	out.TransientPayload, _ = r.Context().Value(transientKey{}).(json.RawMessage)
	v := &view{ctx: r.Context(), kind: kind, res: res, ident: ident, values: values}
	ui := UI{Action: s.url("self-service/"+string(kind), url.Values{"flow": {f.ID}}), Method: "POST", Nodes: []Node{}}
	var nodes []Node
	if f.Type == "browser" {
		n := inputNode(groupDefault, "csrf_token", "hidden", true, nil)
		n.Attributes.Value = s.csrf.mask(csrfToken)
		nodes = append(nodes, n)
	}
	if !res.Ended {
		for _, strat := range s.strategies(kind) {
			if only := s.onlyMethod(kind, res); only != "" && strat.method != only {
				continue // one method's screen: a passwordless key was asked for
			}
			if onlyCodeNodes(kind, res.State) && strat.method != methodCode && !keptBesideMFACode(st, strat.method) {
				continue // a login or registration code was sent: only its form shows
			}
			nodes = append(nodes, strat.nodes(v)...)
		}
	}
	if link, ok := keyOIDCLink.Get(st); ok && kind == core.FlowLogin && link.IdentityID != "" && !res.Ended {
		linkLabels(nodes)
	}
	if nodes = orderNodes(kind, dedupeNodes(nodes)); nodes != nil {
		ui.Nodes = nodes
	}
	switch kind {
	case core.FlowLogin:
		refresh := val(keyRefresh, st)
		out.Refresh = &refresh
		out.RequestedAAL = core.AAL(val(keyAAL, st))
		if out.RequestedAAL == "" {
			out.RequestedAAL = core.AAL1
		}
		c, u := f.CreatedAt, f.UpdatedAt
		out.CreatedAt, out.UpdatedAt = &c, &u
		ui.Messages = append(ui.Messages, s.loginMessages(v)...)
	case core.FlowSettings:
		if ident != nil {
			iv := publicIdentity(ident, s.public)
			out.Identity = &iv
		}
	}
	msgs, _ := keyMessages.Get(st)
	ui.Messages = append(ui.Messages, msgs...)
	ui.Messages = append(ui.Messages, extra...)
	nm, _ := keyNodeMessages.Get(st)
	attachMessages(&ui, nm)
	out.UI = ui
	return out
}

// publicIdentity is the identity as self-service responses show it: no
// credentials and no admin metadata.
func publicIdentity(i *core.Identity, public string) IdentityJSON {
	v := NewIdentityJSON(i, public, false, nil, nil)
	v.MetadataAdmin = nil
	return v
}

// dedupeNodes drops repeated default-group inputs (two strategies both
// contributing the identifier node), keeping the first.
//
// A repeated identifier that offers passkey autofill ("username webauthn")
// lends that to the one kept, as Kratos' passkey strategy upserts it; the
// WebAuthn script node is kept once too.
func dedupeNodes(nodes []Node) []Node {
	seen := map[string]int{}
	script := false
	out := nodes[:0]
	for _, n := range nodes {
		if n.Type == "script" {
			if script {
				continue
			}
			script = true
		}
		if n.Group == groupDefault {
			if at, ok := seen[n.Attributes.Name]; ok {
				if n.Attributes.Autocomplete == "username webauthn" {
					out[at].Attributes.Autocomplete = n.Attributes.Autocomplete
				}
				continue
			}
			seen[n.Attributes.Name] = len(out)
		}
		out = append(out, n)
	}
	return out
}

// registrationGroupOrder is the order of node groups in a registration
// flow (Kratos' registration SortNodes, as its snapshots show: the
// profile_first "Back" button comes last, after every credential method).
// Groups not listed sort after password, before profile.
var registrationGroupOrder = []string{"oidc", "saml", groupDefault, "webauthn", "passkey", methodCode, groupPassword, groupProfile}

// orderNodes orders a registration flow's nodes by group (stable within a
// group) and puts login's identifier before the csrf_token node, as
// Kratos' login sort does; other flows keep the order of their strategies.
func orderNodes(kind core.FlowKind, nodes []Node) []Node {
	if kind == core.FlowRegistration {
		rank := func(g string) int {
			if i := slices.Index(registrationGroupOrder, g); i >= 0 {
				return 2 * i
			}
			return 2*slices.Index(registrationGroupOrder, groupPassword) + 1
		}
		slices.SortStableFunc(nodes, func(a, b Node) int { return rank(a.Group) - rank(b.Group) })
		return nodes
	}
	if kind != core.FlowLogin || len(nodes) < 2 || nodes[0].Attributes.Name != "csrf_token" {
		return nodes
	}
	for i := 1; i < len(nodes); i++ {
		if nodes[i].Group == groupDefault && nodes[i].Attributes.Name == "identifier" {
			id := nodes[i]
			copy(nodes[1:i+1], nodes[0:i])
			nodes[0] = id
			break
		}
	}
	return nodes
}

// decodeBody reads a submission body: JSON, or a form whose dotted names
// (traits.email) become nested objects (notes §1). Query parameters are not
// read (GET submissions carry no body).
func (s *SelfService) decodeBody(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	if r.Method == http.MethodGet || r.Body == nil {
		return map[string]any{}, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, &core.Error{Code: core.CodeInvalid, Message: "The request body could not be read.", Cause: err}
		}
		if len(strings.TrimSpace(string(raw))) == 0 {
			return map[string]any{}, nil
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			return nil, &core.Error{Code: core.CodeInvalid, Message: "The request body must be a JSON object.", Cause: err}
		}
		return cleanBody(m)
	case mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data" || mt == "":
		if err := r.ParseForm(); err != nil {
			return nil, &core.Error{Code: core.CodeInvalid, Message: "The form body could not be parsed.", Cause: err}
		}
		return cleanBody(formToJSON(r.PostForm))
	default:
		return nil, core.Errorf(core.CodeInvalid, "The request body must be application/json or application/x-www-form-urlencoded, not %q.", mt)
	}
}

// cleanBody refuses a body with a NUL byte or invalid UTF-8 in any name or
// text value: no identifier, address, code or password has them, and some
// databases refuse to even compare them (a 500 instead of a 400).
func cleanBody(m map[string]any) (map[string]any, error) {
	var clean func(v any) bool
	clean = func(v any) bool {
		switch x := v.(type) {
		case string:
			return utf8.ValidString(x) && !strings.ContainsRune(x, 0)
		case map[string]any:
			for k, e := range x {
				if !clean(k) || !clean(e) {
					return false
				}
			}
		case []any:
			for _, e := range x {
				if !clean(e) {
					return false
				}
			}
		}
		return true
	}
	if !clean(m) {
		return nil, core.Errorf(core.CodeInvalid, "The request body contains a NUL character or invalid UTF-8.")
	}
	return m, nil
}

// formToJSON maps form fields with dotted names into nested objects. The
// last value of a repeated field wins, as in Kratos' decoder for scalars.
func formToJSON(form url.Values) map[string]any {
	out := map[string]any{}
	for name, vals := range form {
		if len(vals) == 0 {
			continue
		}
		// A browser sends "" for every input left empty; an optional trait
		// left empty is absent, not an empty string that fails its format
		// (an empty required trait then reports "required").
		if strings.HasPrefix(name, "traits.") && vals[len(vals)-1] == "" {
			continue
		}
		parts := strings.Split(name, ".")
		cur := out
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = vals[len(vals)-1]
	}
	return out
}

// engineInput returns the body fields a strategy declares, as the engine's
// input document.
func engineInput(body map[string]any, inputs []flow.Input) json.RawMessage {
	m := map[string]any{}
	for _, in := range inputs {
		v, ok := body[in.Name]
		if !ok || v == nil {
			continue
		}
		if in.Type == flow.TypeJSON {
			if _, isObj := v.(map[string]any); !isObj {
				continue
			}
		} else if _, isStr := v.(string); !isStr {
			continue
		}
		m[in.Name] = v
	}
	raw, _ := json.Marshal(m)
	return raw
}

// flowID parses the flow (or id) query parameter.
func flowIDParam(r *http.Request, name string) (string, error) {
	raw := r.URL.Query().Get(name)
	id, ok := core.ParseID(raw)
	if !ok {
		return "", &kratosError{status: http.StatusBadRequest,
			reason: "The flow query parameter is missing or malformed."}
	}
	return id, nil
}

// initFlow serves GET /self-service/<kind>/{browser,api}.
func (s *SelfService) initFlow(w http.ResponseWriter, r *http.Request, kind core.FlowKind, typ string) {
	jsonAnswer := typ == "api" || isJSONRequest(r)
	if kind == core.FlowRegistration && !s.cfg.Flows.Registration.Enabled {
		s.writeError(w, r, jsonAnswer, flowDisabled(kind))
		return
	}
	ret, err := s.returnTo.check(r.URL.Query().Get("return_to"))
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	sess, ident := s.optionalSession(r)
	pre, err := s.initChecks(w, r, kind, typ, jsonAnswer, ret, sess, ident)
	if err != nil || pre.handled {
		if err != nil {
			s.writeError(w, r, jsonAnswer, err)
		}
		return
	}
	var tok []byte
	if typ == "browser" {
		if tok, err = s.csrf.ensure(w, r); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	var initCode string
	if s.wantsExchange(r, kind, typ) && pre.ident == nil {
		var exID string
		if exID, initCode, err = s.newExchange(r.Context()); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		seed := pre.seed
		pre.seed = func(st *flow.Stash) {
			if seed != nil {
				seed(st)
			}
			keyExchange.Set(st, exID)
		}
	}
	res, err := s.start(r.Context(), kind, typ, requestURL(r, s.public), ret, tok, pre)
	if err == nil && kind == core.FlowLogin {
		res, err = s.fastCodeMFA(r, res, pre)
	}
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	if _, err := s.runWebHooks(r, s.beforeHooks(kind), func() *webhook.Context {
		return s.hookContext(r, s.render(r, kind, res, pre.ident, tok), nil, nil)
	}, webhook.SelectAll); err != nil {
		s.writeError(w, r, jsonAnswer, webHookError(err))
		return
	}
	if !jsonAnswer {
		redirect(w, r, s.uiURL(kind, res.Flow.ID))
		return
	}
	out := s.render(r, kind, res, pre.ident, tok)
	out.SessionTokenExchangeCode = initCode // shown once, to the app that asked
	api.WriteJSON(w, http.StatusOK, out)
}

// initState is what a kind's init checks hand to the flow's start.
type initState struct {
	handled bool           // the checks answered the request already
	ident   *core.Identity // the identity the flow is about (settings, refresh)
	seed    func(st *flow.Stash)
	refresh bool     // login: ?refresh=true
	aal     core.AAL // login: the requested level
}

// initChecks runs a kind's preconditions at flow creation.
func (s *SelfService) initChecks(w http.ResponseWriter, r *http.Request, kind core.FlowKind, typ string, jsonAnswer bool, ret string, sess *core.Session, ident *core.Identity) (initState, error) {
	switch kind {
	case core.FlowLogin:
		return s.loginInit(w, r, typ, jsonAnswer, ret, sess, ident)
	case core.FlowRegistration:
		if sess != nil {
			if !jsonAnswer {
				redirect(w, r, s.returnOrDefault(ret, s.cfg.Flows.Registration.After.DefaultBrowserReturnURL))
				return initState{handled: true}, nil
			}
			return initState{}, sessionAlreadyAvailable()
		}
	case core.FlowSettings:
		if sess == nil {
			if !jsonAnswer {
				redirect(w, r, s.url("self-service/login/browser", url.Values{"return_to": {requestURL(r, s.public)}}))
				return initState{handled: true}, nil
			}
			return initState{}, noSession()
		}
		if handled, err := s.settingsAAL(w, r, sess, ident, requestURL(r, s.public), jsonAnswer); err != nil || handled {
			return initState{handled: handled}, err
		}
		seed, err := s.settingsSeed(ident)
		if err != nil {
			return initState{}, err
		}
		return initState{ident: ident, seed: seed}, nil
	}
	return initState{}, nil
}

// start creates a flow.
func (s *SelfService) start(ctx context.Context, kind core.FlowKind, typ, reqURL, ret string, csrfToken []byte, pre initState) (*flow.Result, error) {
	var begun []func(st *flow.Stash)
	for _, strat := range s.strategies(kind) {
		if strat.begin == nil {
			continue
		}
		seed, err := strat.begin(ctx, beginInfo{typ: typ, ident: pre.ident, refresh: pre.refresh, aal: pre.aal})
		if err != nil {
			return nil, &core.Error{Code: core.CodeInternal, Message: "Creating the flow failed.", Cause: err}
		}
		if seed != nil {
			begun = append(begun, seed)
		}
	}
	init := flow.Init{Face: "kratos", Type: typ, Seed: func(st *flow.Stash) {
		for _, seed := range begun {
			seed(st)
		}
		keyRequestURL.Set(st, reqURL)
		if ret != "" {
			keyReturnTo.Set(st, ret)
		}
		if csrfToken != nil {
			keyCSRF.Set(st, csrfHash(csrfToken))
		}
		if pre.seed != nil {
			pre.seed(st)
		}
	}}
	if pre.ident != nil {
		init.IdentityID = pre.ident.ID
	}
	res, err := s.engine.Start(ctx, s.defs[kind], init)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Creating the flow failed.", Cause: err}
	}
	return res, nil
}

// requestURL returns the URL the client requested, on the public base URL.
func requestURL(r *http.Request, public string) string {
	u := strings.TrimRight(public, "/") + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// returnOrDefault returns ret, else the configured default, else
// selfservice.default_browser_return_url.
func (s *SelfService) returnOrDefault(ret string, defaults ...string) string {
	if ret != "" {
		return ret
	}
	for _, d := range defaults {
		if d != "" {
			return d
		}
	}
	if s.cfg.DefaultBrowserReturnURL != "" {
		return s.cfg.DefaultBrowserReturnURL
	}
	return s.public
}

// fetchFlow loads the flow that GET /self-service/<kind>/flows?id= names.
// Its error is ready for writeError: the id is malformed (400), the flow is
// unknown (404), it expired (410, naming a new flow to start), or loading
// it failed (500).
func (s *SelfService) fetchFlow(r *http.Request, kind core.FlowKind) (*flow.Result, error) {
	id, err := flowIDParam(r, "id")
	if err != nil {
		return nil, err
	}
	def := s.defs[kind]
	res, err := s.engine.Fetch(r.Context(), def, id)
	switch {
	case errors.Is(err, flow.ErrNotFound):
		return nil, flowNotFound(kind)
	case errors.Is(err, flow.ErrExpired):
		p, perr := s.engine.Peek(r.Context(), def, id)
		if perr != nil {
			return nil, flowNotFound(kind)
		}
		ret, _ := keyReturnTo.Get(p.Stash)
		return nil, s.expiredOnFetch(kind, p.Flow.Type, ret)
	case err != nil:
		return nil, &core.Error{Code: core.CodeInternal, Message: "Loading the flow failed.", Cause: err}
	}
	return res, nil
}

// getFlow serves GET /self-service/<kind>/flows?id=.
func (s *SelfService) getFlow(w http.ResponseWriter, r *http.Request, kind core.FlowKind) {
	res, err := s.fetchFlow(r, kind)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	var tok []byte
	if res.Flow.Type == "browser" {
		stored, _ := keyCSRF.Get(res.Stash)
		if err := s.csrf.verifyFlow(r, stored); err != nil {
			s.writeError(w, r, true, err)
			return
		}
		tok = s.csrf.token(r)
	}
	var ident *core.Identity
	switch {
	case kind == core.FlowSettings:
		sess, i, err := s.currentSession(r)
		if err != nil {
			s.writeError(w, r, true, err)
			return
		}
		if res.Flow.IdentityID != "" && i.ID != res.Flow.IdentityID {
			s.writeError(w, r, true, identityMismatch())
			return
		}
		if _, err := s.settingsAAL(w, r, sess, i, s.url("self-service/settings/browser", nil), true); err != nil {
			s.writeError(w, r, true, err)
			return
		}
		ident = i
	case kind == core.FlowLogin && res.Flow.IdentityID != "":
		// Kratos fetches login flows without looking at the caller's session
		// (it stored a refresh flow's UI when it created it), so a finished
		// native flow, whose client holds no session yet, can be fetched
		// too: the flow's own identity renders it.
		i, err := s.st.GetIdentity(r.Context(), res.Flow.IdentityID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, true, &core.Error{Code: core.CodeInternal, Message: "Loading the identity failed.", Cause: err})
			return
		}
		ident = i
	}
	api.WriteJSON(w, http.StatusOK, s.render(r, kind, res, ident, tok))
}

// submittedFlow loads the flow that a submission (?flow=) names. When it
// cannot, it has answered already and returns false: the id is malformed
// (400) or unknown (404), the flow expired (replaceExpired starts a new
// one), or loading it failed (500); jsonHint chooses JSON or a redirect.
func (s *SelfService) submittedFlow(w http.ResponseWriter, r *http.Request, kind core.FlowKind, jsonHint bool) (*flow.Result, bool) {
	id, err := flowIDParam(r, "flow")
	if err != nil {
		s.writeError(w, r, jsonHint, err)
		return nil, false
	}
	res, err := s.engine.Fetch(r.Context(), s.defs[kind], id)
	switch {
	case errors.Is(err, flow.ErrNotFound):
		s.writeError(w, r, jsonHint, flowNotFound(kind))
		return nil, false
	case errors.Is(err, flow.ErrExpired):
		s.replaceExpired(w, r, kind, id, jsonHint)
		return nil, false
	case err != nil:
		s.writeError(w, r, jsonHint, &core.Error{Code: core.CodeInternal, Message: "Loading the flow failed.", Cause: err})
		return nil, false
	}
	return res, true
}

// submitFlow serves POST (and GET) /self-service/<kind>?flow=.
func (s *SelfService) submitFlow(w http.ResponseWriter, r *http.Request, kind core.FlowKind) {
	jsonHint := isJSONRequest(r)
	res, ok := s.submittedFlow(w, r, kind, jsonHint)
	if !ok {
		return
	}
	def, id := s.defs[kind], res.Flow.ID
	typ := res.Flow.Type
	jsonAnswer := typ == "api" || jsonHint
	body, err := s.decodeBody(w, r)
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	var tok []byte
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
		sent, _ := body["csrf_token"].(string)
		if err := s.csrf.verify(r, sent); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		tok = s.csrf.token(r)
	}
	sub := &submission{r: r, res: res, body: body}
	sub.sess, sub.ident = s.optionalSession(r)
	if handled, err := s.submitChecks(w, r, kind, sub, jsonAnswer); err != nil || handled {
		if err != nil {
			s.writeError(w, r, jsonAnswer, err)
		}
		return
	}
	showIdent := sub.ident
	if res.Ended {
		s.showForm(w, r, kind, res, showIdent, tok, jsonAnswer, retryText(string(kind)))
		return
	}
	method, _ := body["method"].(string)
	var strat *strategy
	for _, st := range s.strategies(kind) {
		if st.method == method || method == "" && st.claims(body) {
			strat = &st
			break
		}
	}
	action, inputs := errorAction, []flow.Input(nil)
	transient, bad := transientPayload(body)
	if bad != nil {
		s.showForm(w, r, kind, res, showIdent, tok, jsonAnswer, *bad)
		return
	}
	var o *outcome
	if strat == nil {
		o = &outcome{messages: []Text{noStrategyText(string(kind))}}
	} else {
		if o, err = strat.prepare(sub); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		if kind == core.FlowSettings {
			if o, err = s.preSettings(sub, strat.method, o); err != nil {
				s.writeError(w, r, jsonAnswer, err)
				return
			}
		}
		action, inputs = strat.method, strat.inputs
	}
	if o.unwritten && s.engine.Admits(def, res, action, engineInput(body, inputs)) {
		// Nothing to write (outcome.unwritten): answer from the flow as
		// read, with no write transaction.
		s.oidcFinish(w, r, kind, sub, o, res, tok, jsonAnswer)
		return
	}
	ctx := context.WithValue(r.Context(), outcomeKey{}, &stepOutcome{o: o, prepared: *o})
	plain := r
	hookReq := func() *http.Request {
		if strat != nil && (o.next != "" || o.clearActive) && kind != core.FlowSettings {
			return withTransient(plain, transient)
		}
		return plain
	}
	submit := func() (*flow.Result, error) {
		// The step runs on the flow as read above, not read again: a
		// submission that committed in between (which rotated the flow's
		// token, so a second read would fail with ErrCSRF) fails it with
		// ErrConflict, answered alike.
		return s.engine.Submit(ctx, def, flow.Submission{FlowID: id, Action: action, CSRFToken: res.Flow.CSRFToken,
			Input: engineInput(body, inputs), Flow: &res.Flow, InTx: s.stepInTx(kind, r, sub, o, tok, jsonAnswer, hookReq)})
	}
	res2, err := submit()
	var (
		refused *hookIdentityRefused
		limited *rateLimited
	)
	if lostRace(err) {
		// A concurrent registration committed an identifier the step's
		// identity took, seen only by its insert; the step rolled back. Run
		// it once more: its look-ups now see the winner.
		res2, err = submit()
	}
	if err != nil && o.untx != nil {
		if uerr := o.untx(r.Context()); uerr != nil && s.errs.Log != nil {
			s.errs.Log.ErrorContext(r.Context(), "kratos: a step that did not commit", "error", uerr)
		}
	}
	switch {
	case errors.Is(err, flow.ErrExpired):
		s.replaceExpired(w, r, kind, id, jsonHint)
		return
	case errors.Is(err, flow.ErrEnded):
		s.showForm(w, r, kind, res, showIdent, tok, jsonAnswer, retryText(string(kind)))
		return
	case errors.Is(err, flow.ErrConflict), errors.Is(err, flow.ErrCSRF):
		s.writeError(w, r, jsonAnswer, &core.Error{Code: core.CodeConflict, Message: "The flow was submitted twice at the same time; reload it and try again.", Cause: err})
		return
	case errors.As(err, &refused):
		if jsonAnswer {
			s.showForm(w, r, kind, res, showIdent, tok, jsonAnswer, refused.messages...)
			return
		}
		s.writeError(w, r, jsonAnswer, &core.Error{Code: core.CodeConflict, Message: "The change was not saved: " + textsOf(refused.messages), Cause: err})
		return
	case errors.As(err, &limited): // an attempt counted in the step's transaction was refused
		s.writeError(w, r, jsonAnswer, limited)
		return
	case err != nil:
		s.writeError(w, r, jsonAnswer, &core.Error{Code: core.CodeInternal, Message: "Submitting the flow failed.", Cause: err})
		return
	}
	if o.ident != nil {
		showIdent = o.ident
	}
	// Kratos answers a step that went through with the flow as it holds it
	// in memory, transient_payload included; a failed step's answer, and a
	// saved settings flow, is the flow read back from the database, which
	// never stores it.
	r = hookReq()
	if strat != nil {
		s.recordOutcome(kind, strat.method, res2, o)
	}
	s.finish(w, r, kind, sub, o, res2, showIdent, tok, jsonAnswer)
}

// claims reports whether a body without a method is the strategy's: one of
// its fields is a non-empty string.
func (st *strategy) claims(body map[string]any) bool {
	for _, f := range st.fields {
		if v, _ := body[f].(string); v != "" {
			return true
		}
	}
	return false
}

// hasNonCloudflareCookie reports whether the request carries cookies other
// than Cloudflare's, which native clients must not send.
func hasNonCloudflareCookie(r *http.Request) bool {
	for _, c := range r.Cookies() {
		n := c.Name
		if strings.HasPrefix(n, "__cf") || strings.HasPrefix(n, "_cf") || strings.HasPrefix(n, "cf_") {
			continue
		}
		return true
	}
	return false
}

// submitChecks runs a kind's preconditions of a submission.
func (s *SelfService) submitChecks(w http.ResponseWriter, r *http.Request, kind core.FlowKind, sub *submission, jsonAnswer bool) (bool, error) {
	switch kind {
	case core.FlowLogin:
		return s.loginSubmitChecks(w, r, sub, jsonAnswer)
	case core.FlowRegistration:
		if sub.sess != nil {
			if !jsonAnswer {
				redirect(w, r, s.returnOrDefault("", s.cfg.DefaultBrowserReturnURL))
				return true, nil
			}
			return false, sessionAlreadyAvailable()
		}
	case core.FlowSettings:
		return s.settingsSubmitChecks(w, r, sub, jsonAnswer)
	}
	return false, nil
}

// finish answers a committed step.
func (s *SelfService) finish(w http.ResponseWriter, r *http.Request, kind core.FlowKind, sub *submission, o *outcome, res *flow.Result, ident *core.Identity, tok []byte, jsonAnswer bool) {
	switch kind {
	case core.FlowLogin:
		s.finishLogin(w, r, sub, o, res, tok, jsonAnswer)
	case core.FlowRegistration:
		s.finishRegistration(w, r, sub, o, res, tok, jsonAnswer)
	case core.FlowSettings:
		s.finishSettings(w, r, sub, o, res, ident, tok, jsonAnswer)
	}
}

// relocateForm answers a step that moved a browser flow to a new screen
// (outcome.relocate): 422 browser_location_change_required to the UI for
// JSON clients, the UI for browsers.
func (s *SelfService) relocateForm(w http.ResponseWriter, r *http.Request, kind core.FlowKind, res *flow.Result, jsonAnswer bool) {
	if !jsonAnswer {
		redirect(w, r, s.uiURL(kind, res.Flow.ID))
		return
	}
	s.writeError(w, r, true, browserLocationChange(s.uiURL(kind, res.Flow.ID)))
}

// showForm answers "show the form again": browsers go back to the UI, JSON
// clients get 400 with the flow (extra messages are shown, not stored).
func (s *SelfService) showForm(w http.ResponseWriter, r *http.Request, kind core.FlowKind, res *flow.Result, ident *core.Identity, tok []byte, jsonAnswer bool, extra ...Text) {
	if !jsonAnswer {
		redirect(w, r, s.uiURL(kind, res.Flow.ID))
		return
	}
	api.WriteJSON(w, http.StatusBadRequest, s.render(r, kind, res, ident, tok, extra...))
}

// replaceExpired answers a submission of an expired flow: a replacement flow
// of the same type, request URL and return_to carrying the expiry message;
// browsers are sent to it, JSON clients get 410 naming it (notes §2.6).
func (s *SelfService) replaceExpired(w http.ResponseWriter, r *http.Request, kind core.FlowKind, id string, jsonHint bool) {
	old, err := s.engine.Peek(r.Context(), s.defs[kind], id)
	if err != nil {
		s.writeError(w, r, jsonHint, flowNotFound(kind))
		return
	}
	typ := old.Flow.Type
	jsonAnswer := typ == "api" || jsonHint
	now := s.now()
	since := now.Sub(old.Flow.ExpiresAt)
	reqURL, _ := keyRequestURL.Get(old.Stash)
	ret, _ := keyReturnTo.Get(old.Stash)
	var tok []byte
	if typ == "browser" {
		if tok, err = s.csrf.ensure(w, r); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	pre := initState{}
	if kind == core.FlowLogin {
		pre.refresh, pre.aal = val(keyRefresh, old.Stash), core.AAL(val(keyAAL, old.Stash))
	}
	if kind == core.FlowSettings {
		_, ident, err := s.currentSession(r)
		if err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
		pre.ident = ident
		if pre.seed, err = s.settingsSeed(ident); err != nil {
			s.writeError(w, r, jsonAnswer, err)
			return
		}
	}
	msg := expiredText(string(kind), since.Minutes(), old.Flow.ExpiresAt.Unix(), old.Flow.ExpiresAt.UTC().Format(time.RFC3339))
	prevSeed := pre.seed
	pre.seed = func(st *flow.Stash) {
		if prevSeed != nil {
			prevSeed(st)
		}
		keyMessages.Set(st, []Text{msg})
		if kind == core.FlowLogin {
			keyRefresh.Set(st, val(keyRefresh, old.Stash))
			keyAAL.Set(st, val(keyAAL, old.Stash))
			if via := val(keyCodeVia, old.Stash); via != "" {
				keyCodeVia.Set(st, via)
			}
		}
	}
	res, err := s.start(r.Context(), kind, typ, reqURL, ret, tok, pre)
	if err != nil {
		s.writeError(w, r, jsonAnswer, err)
		return
	}
	if !jsonAnswer {
		redirect(w, r, s.uiURL(kind, res.Flow.ID))
		return
	}
	s.writeError(w, r, true, expiredOnSubmit(old.Flow.ExpiresAt, since, res.Flow.ID))
}

// sessionLifespan is session.lifespan, 24h when unset.
func (s *SelfService) sessionLifespan() time.Duration {
	if s.sessCfg.Lifespan <= 0 {
		return 24 * time.Hour
	}
	return s.sessCfg.Lifespan
}

// issueSession issues a session for the identity after a login or a
// registration with the session hook, and sets the cookie for browsers.
func (s *SelfService) issueSession(w http.ResponseWriter, r *http.Request, identityID, method, typ string) (*issued, error) {
	sess, tok, err := s.sessions.Issue(r.Context(), identityID, core.AuthMethod{Method: method, AAL: core.AAL1}, device(r), s.sessionLifespan())
	if err != nil {
		return nil, err
	}
	if typ == "browser" {
		if err := s.cookie.issue(w, tok, sess.ExpiresAt, s.now()); err != nil {
			return nil, &core.Error{Code: core.CodeInternal, Message: "Setting the session cookie failed.", Cause: err}
		}
	}
	return &issued{session: sess, token: tok}, nil
}

// sessionJSON renders a session with its identity and devices.
func (s *SelfService) sessionJSON(sess *core.Session, i *core.Identity) SessionJSON {
	iv := publicIdentity(i, s.public)
	return NewSessionJSON(sess, s.now(), &iv, i.State, true)
}

// keep returns the node values to keep for the next render.
func keep(pairs ...any) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i+1 < len(pairs); i += 2 {
		name, _ := pairs[i].(string)
		if raw, err := json.Marshal(pairs[i+1]); err == nil {
			m[name] = raw
		}
	}
	return m
}

func jsonUnmarshal(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }

// methodAfter returns the after-settings of one method.
func methodAfter(a config.After, method string) config.AfterMethod {
	switch method {
	case "password":
		return a.Password
	case "code":
		return a.Code
	case "profile":
		return a.Profile
	case "webauthn":
		return a.WebAuthn
	case "passkey":
		return a.Passkey
	case "oidc":
		return a.OIDC
	case "totp":
		return a.TOTP
	case "lookup_secret":
		return a.LookupSecret
	}
	return config.AfterMethod{}
}

// hookNames returns the names of the hooks that apply: the method's own when
// it has any, else the flow's.
func hookNames(flowHooks, methodHooks []config.Hook) []string {
	hooks := methodHooks
	if len(hooks) == 0 {
		hooks = flowHooks
	}
	out := make([]string, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, h.Hook)
	}
	return out
}

func (s *SelfService) hasHook(hooks []string, name string) bool { return slices.Contains(hooks, name) }
