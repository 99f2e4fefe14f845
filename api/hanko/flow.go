package hanko

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store"
)

// The Flow API: POST /login, /registration and /profile (flow*.go, login*.go,
// registration*.go, profile*.go, passcode*.go). Each flow is a definition on
// package flow, built once in New; this file turns HTTP requests into engine
// calls and engine results into Hanko's flowpilot response
// (backend/flowpilot/response.go).

func init() {
	addPart(part{name: "flow API", setup: setupFlows, mountPublic: mountFlows})
}

// flows holds the built flow definitions and the engine that runs them.
type flows struct {
	engine       *flow.Engine
	cache        *flowCache // the flows as this server's last step left them
	login        *flow.Definition
	registration *flow.Definition
	profile      *flow.Definition
}

// setupFlows builds the three definitions from the handler's configuration.
func setupFlows(h *Handler) error {
	f := &flows{engine: flow.NewEngine(stepStore{h.store}, h.now, nil), cache: newFlowCache()}
	var err error
	if f.login, err = h.loginDefinition(); err != nil {
		return fmt.Errorf("login flow: %w", err)
	}
	if f.registration, err = h.registrationDefinition(); err != nil {
		return fmt.Errorf("registration flow: %w", err)
	}
	if f.profile, err = h.profileDefinition(); err != nil {
		return fmt.Errorf("profile flow: %w", err)
	}
	flowsMu.Lock()
	flowsOf[h] = f
	flowsMu.Unlock()
	return nil
}

// flowsOf holds each Handler's flows. Handler is P's type (handler.go) and
// knows the Flow API only as a part, so the part keeps its state here; a
// Handler is built once per process.
var (
	flowsMu sync.Mutex
	flowsOf = map[*Handler]*flows{}
)

// flowsFor returns h's flows, set up by New.
func flowsFor(h *Handler) *flows {
	flowsMu.Lock()
	defer flowsMu.Unlock()
	return flowsOf[h]
}

// mountFlows registers the Flow API routes.
func mountFlows(h *Handler, mux *http.ServeMux) {
	f := flowsFor(h)
	for _, def := range []*flow.Definition{f.login, f.registration, f.profile} {
		mux.HandleFunc("POST /"+def.Name(), func(w http.ResponseWriter, r *http.Request) { h.serveFlow(w, r, f, def) })
	}
	// POST /token_exchange is Hanko's flow for SAML IdP-initiated logins,
	// "only available if SAML is enabled": Latchkey has no SAML, so it
	// answers as Hanko does then. Third-party sign-ins exchange their
	// token inside their own flow (exchange_token).
	mux.HandleFunc("POST /token_exchange", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.writeFlowError(w, f.login, errOperationNotPermitted)
	})
	mux.HandleFunc("GET /thirdparty/callback", h.thirdPartyCallback)
	mux.HandleFunc("POST /thirdparty/callback", h.thirdPartyCallback)
}

// flowTTL is the flow lifetime Hanko uses (backend/flow_api/flow/flows.go).
const flowTTL = 24 * time.Hour

// flowRequest is what a step's actions and hooks may know of the HTTP
// request: it travels in the context passed to the engine.
type flowRequest struct {
	r        *http.Request
	language string // X-Language, for mails
	authn    *Authn // the caller's session (profile flow only)
	// user caches the profile flow's user for the Suspended predicates of
	// one response; profile_init's BeforeState hook reloads it.
	user *core.Identity
	// cookies are set on the response (thirdparty_oauth's state cookie).
	cookies []*http.Cookie
	// providerCallback marks the internal step of /thirdparty/callback.
	providerCallback bool
	// completion is the session a step that reached success issued in its
	// transaction (completeInTx).
	completion *completion
	// profile is profile_init's payload as the step's transaction read it
	// (profileInTx).
	profile *profileView
	// caps is capabilitiesOf's last decoded client_capabilities and the
	// stored bytes it came from.
	caps struct {
		raw   []byte
		value clientCapabilities
	}
}

type flowRequestKey struct{}

// requestOf returns the flowRequest of a step's context.
func requestOf(ctx context.Context) *flowRequest {
	fr, _ := ctx.Value(flowRequestKey{}).(*flowRequest)
	if fr == nil {
		return &flowRequest{}
	}
	return fr
}

// flowBody is the body of an action request.
type flowBody struct {
	InputData json.RawMessage `json:"input_data"`
	CSRFToken string          `json:"csrf_token"`
}

// flowBodies holds the buffers decodeFlowBody reads bodies into.
var flowBodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// decodeFlowBody decodes an action request's body as api.DecodeJSONLax
// does: its first JSON value, whatever follows it. The body is read into a
// pooled buffer and decoded from there (json.Unmarshal, which copies what
// it keeps), instead of through a json.Decoder, whose buffers (it grows
// them to hold the whole value, an assertion of a kilobyte or more) were a
// few kilobytes of garbage per step; a body that is not one JSON value
// alone goes to a json.Decoder as before.
func decodeFlowBody(r *http.Request, body *flowBody) error {
	buf := flowBodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			flowBodies.Put(buf)
		}
	}()
	_, rerr := buf.ReadFrom(r.Body)
	if rerr == nil && json.Unmarshal(buf.Bytes(), body) == nil {
		return nil
	}
	// Trailing data, invalid JSON, or a read error (a body over the
	// limit): what a json.Decoder reading the body makes of what was read.
	*body = flowBody{}
	if err := json.NewDecoder(bytes.NewReader(buf.Bytes())).Decode(body); err != nil {
		if rerr != nil {
			return rerr
		}
		return err
	}
	return nil
}

// serveFlow starts (no action query) or advances (?action=name@flow_id) a
// flow of def and writes the state it ends in.
func (h *Handler) serveFlow(w http.ResponseWriter, r *http.Request, f *flows, def *flow.Definition) {
	h.limitBody(w, r)
	w.Header().Set("Cache-Control", "no-store")
	fr := &flowRequest{r: r, language: r.Header.Get("X-Language")}
	if def == f.profile {
		a, err := h.sessionFromRequest(r)
		if err != nil {
			if core.ErrorCode(err) != core.CodeUnauthorized {
				h.writeFlowFailure(w, r, def, err)
				return
			}
			h.writeFlowError(w, def, errUnauthorized)
			return
		}
		// A disabled identity's sessions end in both faces (Kratos' whoami
		// refuses them): it may not change its profile either.
		i, err := h.ids.Get(r.Context(), a.Session.IdentityID)
		switch {
		case core.ErrorCode(err) == core.CodeNotFound || (err == nil && i.State != core.IdentityActive):
			h.writeFlowError(w, def, errUnauthorized)
			return
		case err != nil:
			h.writeFlowFailure(w, r, def, err)
			return
		}
		fr.authn = a
	}
	ctx := context.WithValue(r.Context(), flowRequestKey{}, fr)
	param := r.URL.Query().Get("action")
	if param == "" {
		init := flow.Init{Face: "hanko"}
		if fr.authn != nil {
			init.IdentityID = fr.authn.Session.IdentityID
		}
		var res *flow.Result
		var err error
		if h.opens(def) {
			res, err = h.openFlow(ctx, f, def, init.IdentityID) // stored by its first step
		} else {
			res, err = f.engine.Start(ctx, def, init)
		}
		if err != nil {
			h.writeFlowFailure(w, r, def, err)
			return
		}
		f.cache.keep(res)
		h.writeFlowResult(w, r.WithContext(ctx), def, res)
		return
	}
	name, id, ok := strings.Cut(param, "@")
	if !ok || name == "" || id == "" || strings.HasPrefix(name, internalPrefix) {
		h.writeFlowError(w, def, errOperationNotPermitted)
		return
	}
	var body flowBody
	if err := decodeFlowBody(r, &body); err != nil {
		h.writeFlowError(w, def, errFormDataInvalid)
		return
	}
	sub := flow.Submission{FlowID: id, Action: name, CSRFToken: body.CSRFToken, Input: body.InputData,
		InTx: h.completeInTx(def, r), Flow: f.cache.get(id, h.now())}
	res, err := f.engine.Submit(ctx, def, sub)
	if err != nil && sub.Flow != nil && retryFromStore(err) {
		sub.Flow = nil
		res, err = f.engine.Submit(ctx, def, sub)
	}
	if errors.Is(err, flow.ErrNotFound) && sub.Flow == nil {
		// Not stored: the first step of a flow opened here or on another
		// replica (openFlow), when its token says so.
		identityID := ""
		if fr.authn != nil {
			identityID = fr.authn.Session.IdentityID
		}
		if sub.Flow = h.reopened(ctx, f, def, id, body.CSRFToken, identityID); sub.Flow != nil {
			res, err = f.engine.Submit(ctx, def, sub)
		}
	}
	if err != nil {
		f.cache.forget(id)
		h.writeFlowFailure(w, r, def, err)
		return
	}
	f.cache.keep(res)
	h.recordOutcome(def, name, res)
	h.writeFlowResult(w, r.WithContext(ctx), def, res)
}

// writeFlowFailure answers an error Start or Submit returned: the engine's
// refusals with their Hanko codes, anything else as technical_error (logged
// here, never shown).
func (h *Handler) writeFlowFailure(w http.ResponseWriter, r *http.Request, def *flow.Definition, err error) {
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return
	case core.ErrorCode(err) == core.CodeUnavailable:
		// The database is down: the error state with 503 and Retry-After;
		// the store logs the outage once.
		w.Header().Set("Retry-After", retryAfterUnavailable)
		h.writeFlowError(w, def, errUnavailable)
	case errors.Is(err, flow.ErrExpired):
		h.writeFlowError(w, def, errFlowExpired)
	case errors.Is(err, flow.ErrNotFound), errors.Is(err, flow.ErrCSRF), errors.Is(err, flow.ErrActionNotAllowed),
		errors.Is(err, flow.ErrEnded):
		h.writeFlowError(w, def, errOperationNotPermitted)
	case errors.Is(err, flow.ErrMalformedInput):
		h.writeFlowError(w, def, errFormDataInvalid)
	case errors.Is(err, flow.ErrConflict):
		// Another request advanced the flow first; the client must use the
		// state that request got.
		h.writeFlowError(w, def, errOperationNotPermitted)
	case errors.Is(err, flow.ErrDiscontinuity):
		h.log.ErrorContext(r.Context(), "hanko: flow cannot continue", "flow", def.Name(), "path", r.URL.Path,
			"request_id", api.RequestID(r.Context()), "error", err)
		h.writeFlowError(w, def, errFlowDiscontinuity)
	default:
		var fe *flowError
		if errors.As(err, &fe) {
			h.writeFlowError(w, def, fe)
			return
		}
		h.log.ErrorContext(r.Context(), "hanko: flow step failed", "flow", def.Name(), "path", r.URL.Path,
			"request_id", api.RequestID(r.Context()), "error", err)
		h.writeFlowError(w, def, errTechnical)
	}
}

// writeFlowError writes the error state with e.
func (h *Handler) writeFlowError(w http.ResponseWriter, def *flow.Definition, e *flowError) {
	resp := flowResponse{Name: def.ErrorState(), Status: e.status, Payload: map[string]any{}, Actions: map[string]actionJSON{},
		Error: &errorJSON{Code: e.code, Message: e.message}}
	api.WriteJSON(w, e.status, resp)
}

// writeFlowResult renders res. Reaching success issues the session first;
// reaching account_deleted expires the cookie.
func (h *Handler) writeFlowResult(w http.ResponseWriter, r *http.Request, def *flow.Definition, res *flow.Result) {
	payload := make(map[string]any, len(res.Payload)+3)
	for k, v := range res.Payload {
		payload[k] = v
	}
	switch res.State {
	case stateSuccess:
		c := requestOf(r.Context()).completion
		if c == nil || c.flowID != res.Flow.ID {
			var err error
			if c, err = h.completeFlow(r.Context(), h.store, r, def, res); err != nil {
				h.writeFlowFailure(w, r, def, err)
				return
			}
		}
		h.writeCompletion(w, c, payload)
	case stateAccountDeleted:
		h.clearSessionCookie(w)
	case stateMFAOTPSecretCreation:
		if err := h.otpPayload(res.Flow.ID, res.Stash, payload); err != nil {
			h.writeFlowFailure(w, r, def, err)
			return
		}
	}
	status := http.StatusOK
	var ej *errorJSON
	if res.Error != nil {
		fe := flowErrorOf(res.Error)
		status = fe.status
		ej = &errorJSON{Code: fe.code, Message: fe.message}
		if h.debug && res.Error.Cause != nil {
			ej.Cause = res.Error.Cause.Error()
		}
	}
	resp := flowResponse{Name: res.State, Status: status, Payload: payload, CSRFToken: res.Flow.CSRFToken, Error: ej}
	if res.Ended {
		resp.CSRFToken = ""
	}
	if res.State == stateProfileInit {
		// The user and sessions are rendered, not stored (profileView):
		// as the step's transaction read them, or read now for an answer
		// given without one.
		fr := requestOf(r.Context())
		v := fr.profile
		if v == nil || v.flowID != res.Flow.ID {
			var err error
			if v, err = h.loadProfileView(r.Context(), h.store, fr, res.Flow.ID, res.Flow.IdentityID); err != nil {
				h.writeFlowFailure(w, r, def, err)
				return
			}
		}
		payload["user"], payload["sessions"] = v.user, v.sessions
		actions := h.actionsMap(def, res)
		h.profileAllowedValues(fr.user, v.sessions, actions)
		resp.Actions = actions
	} else {
		resp.Actions = h.encodeActions(def, res)
	}
	for _, c := range requestOf(r.Context()).cookies {
		http.SetCookie(w, c)
	}
	if status == http.StatusTooManyRequests {
		// The header says what the payload's retry_after says.
		var secs int
		if raw, ok := res.Payload["retry_after"]; ok && json.Unmarshal(raw, &secs) == nil && secs > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
	}
	b, err := encodeFlowResponse(&resp)
	if err != nil {
		http.Error(w, `{"error":"encoding failed"}`, http.StatusInternalServerError)
		return
	}
	api.WriteRawJSON(w, status, b)
}

// flowResponseHead and flowResponseTail are the fields of flowResponse
// before and after its actions.
type flowResponseHead struct {
	Name      string         `json:"name"`
	Status    int            `json:"status"`
	Payload   map[string]any `json:"payload"`
	CSRFToken string         `json:"csrf_token"`
}

type flowResponseTail struct {
	Error *errorJSON `json:"error,omitempty"`
	Links []any      `json:"links"`
}

// encodeFlowResponse encodes resp as encoding/json does. Actions encoded
// already (encodeActions) are put between the encodings of the fields
// before and after them: handed to encoding/json as a json.RawMessage they
// were scanned twice more (validated, then compacted), which cost more
// than encoding them from the map had.
func encodeFlowResponse(resp *flowResponse) ([]byte, error) {
	actions, ok := resp.Actions.(json.RawMessage)
	if !ok {
		return json.Marshal(resp)
	}
	head, err := json.Marshal(flowResponseHead{Name: resp.Name, Status: resp.Status, Payload: resp.Payload, CSRFToken: resp.CSRFToken})
	if err != nil {
		return nil, err
	}
	tail, err := json.Marshal(flowResponseTail{Error: resp.Error, Links: resp.Links})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(actions)+len(tail)+len(`,"actions":,`))
	out = append(out, head[:len(head)-1]...) // without its }
	out = append(out, `,"actions":`...)
	out = append(out, actions...)
	out = append(out, ',')
	return append(out, tail[1:]...), nil // without its {
}

// completion is what a flow that reached success adds to its response:
// the session issued (and a trusted device) and the success payload's
// claims, user and last_login.
type completion struct {
	flowID    string
	issued    *Issued
	trust     *http.Cookie // the device trust cookie, or nil
	user      ProfileJSON
	lastLogin *LastLoginJSON
}

// completeFlow issues the session of a flow that reached success through
// tx: the step's transaction (completeInTx), or the store for a result
// reached otherwise.
func (h *Handler) completeFlow(ctx context.Context, tx store.Tx, r *http.Request, def *flow.Definition, res *flow.Result) (*completion, error) {
	userID, _ := keyUserID.Get(res.Stash)
	if userID == "" {
		return nil, errors.New("flow reached success without a user")
	}
	i, err := tx.GetIdentity(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("load user: %w", err)
	}
	amr, _ := keyAMR.Get(res.Stash)
	if len(amr) == 0 {
		return nil, errors.New("flow reached success without an authentication method")
	}
	out := &completion{flowID: res.Flow.ID}
	if trust, _ := keyTrustDevice.Get(res.Stash); trust && def.Kind() == core.FlowLogin {
		if out.trust, err = h.issueDeviceTrust(ctx, tx, i.ID); err != nil {
			return nil, err
		}
	}
	if out.issued, err = h.issueSession(ctx, tx, r, i, amr, h.retention(res.Stash)); err != nil {
		return nil, err
	}
	creds, err := webauthnCredentials(ctx, tx, i.ID)
	if err != nil {
		return nil, err
	}
	out.user = h.profileJSON(i, creds)
	if def.Kind() == core.FlowLogin {
		ll := lastLoginJSON(amr)
		out.lastLogin = &ll
	}
	return out, nil
}

// completeInTx is the Submission.InTx of a Flow API step: a step that
// reaches success issues its session in the step's transaction, so the
// session commits with the step and reads the user the step has just read;
// a profile step reads the payload of profile_init there (profileInTx).
func (h *Handler) completeInTx(def *flow.Definition, r *http.Request) func(ctx context.Context, tx store.Tx, res *flow.Result) error {
	return func(ctx context.Context, tx store.Tx, res *flow.Result) error {
		fr := requestOf(ctx)
		fr.completion = nil
		if def.Kind() == core.FlowProfile {
			return h.profileInTx(ctx, tx, res)
		}
		if res.State != stateSuccess || res.Error != nil {
			return nil
		}
		c, err := h.completeFlow(ctx, tx, r, def, res)
		if err != nil {
			return err
		}
		fr.completion = c
		return nil
	}
}

// writeCompletion puts c on the response: the cookies and session headers,
// and the payload's claims, user and last_login.
func (h *Handler) writeCompletion(w http.ResponseWriter, c *completion, payload map[string]any) {
	if c.trust != nil {
		http.SetCookie(w, c.trust)
	}
	h.writeSession(w, c.issued.Token, c.issued.Session.ExpiresAt, c.issued.Retention)
	payload["claims"] = c.issued.Claims
	payload["user"] = c.user
	if c.lastLogin != nil {
		payload["last_login"] = *c.lastLogin
	}
}

// retention returns the cookie retention for a flow's session: the
// configured one, or with "prompt" what remember_me chose (a session cookie
// unless the user asked to be remembered).
func (h *Handler) retention(s *flow.Stash) Retention {
	switch h.cfg.Session.Cookie.Retention {
	case string(RetentionSession):
		return RetentionSession
	case "prompt":
		if remember, _ := keyRememberMe.Get(s); remember {
			return RetentionPersistent
		}
		return RetentionSession
	default:
		return RetentionPersistent
	}
}

// LastLoginJSON is the login success payload's last_login: the first
// factor, and the second one when one was asked (totp, security_key).
type LastLoginJSON struct {
	LoginMethod string `json:"login_method"`
	MFAMethod   string `json:"mfa_method,omitempty"`
}

func lastLoginJSON(amr []string) LastLoginJSON {
	var out LastLoginJSON
	switch amr[0] {
	case AMRPassword:
		out.LoginMethod = "password"
	case AMRPasskey:
		out.LoginMethod = "passkey"
	case AMRPasscode:
		out.LoginMethod = "passcode"
	default:
		out.LoginMethod = "third_party"
	}
	for _, m := range amr[1:] {
		if m == AMRTOTP || m == AMRSecurityKey {
			out.MFAMethod = m
		}
	}
	return out
}

// flowResponse is Hanko's flowpilot PublicResponse.
type flowResponse struct {
	Name      string         `json:"name"`
	Status    int            `json:"status"`
	Payload   map[string]any `json:"payload"`
	CSRFToken string         `json:"csrf_token"`
	Actions   any            `json:"actions"` // map[string]actionJSON, or encodeActions' encoding of one
	Error     *errorJSON     `json:"error,omitempty"`
	Links     []any          `json:"links"`
}

// actionJSON is Hanko's PublicAction.
type actionJSON struct {
	Action      string               `json:"action"`
	Href        string               `json:"href"`
	Inputs      map[string]inputJSON `json:"inputs"`
	Description string               `json:"description"`
}

// inputJSON is Hanko's PublicInput.
type inputJSON struct {
	Name          string              `json:"name"`
	Type          string              `json:"type"`
	Value         any                 `json:"value,omitempty"`
	MinLength     int                 `json:"min_length,omitempty"`
	MaxLength     int                 `json:"max_length,omitempty"`
	Required      bool                `json:"required,omitempty"`
	Hidden        bool                `json:"hidden,omitempty"`
	Error         *errorJSON          `json:"error,omitempty"`
	AllowedValues []flow.AllowedValue `json:"allowed_values,omitempty"`
}

// errorJSON is Hanko's PublicError.
type errorJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Cause   string `json:"cause,omitempty"`
}

// actionsMap returns the actions res offers (internal ones left out) by
// name.
func (h *Handler) actionsMap(def *flow.Definition, res *flow.Result) map[string]actionJSON {
	out := make(map[string]actionJSON, len(res.Actions))
	for _, a := range res.Actions {
		if strings.HasPrefix(a.Name, internalPrefix) {
			continue
		}
		out[a.Name] = h.actionJSON(def, res.Flow.ID, a)
	}
	return out
}

// actionKey names an action as a state of a definition offers it.
type actionKey struct {
	def           *flow.Definition
	state, action string
}

// actionTemplate is the encoding of an action (its key in the actions
// object, a colon, its actionJSON) cut around the flow id in its href.
type actionTemplate struct{ head, tail []byte }

// actionTemplates holds the templates of the actions offered with neither
// a value nor an error in any input: those are fixed by the definition
// (and the configuration it was built from) but for the flow id.
var actionTemplates sync.Map // actionKey → *actionTemplate

// templateFlowID stands for the flow id in an action template; flow ids are
// canonical UUIDs (core.IsID), which neither url.QueryEscape nor JSON
// escapes.
const templateFlowID = "00000000-0000-4000-8000-000000000000"

// encodeActions returns the actions object of res as encoding/json encodes
// actionsMap's map (keys sorted, byte for byte the same): an action
// offered with neither a value nor an error in any input is its state's
// template with the flow id put in, encoded once per process instead of
// once per response.
func (h *Handler) encodeActions(def *flow.Definition, res *flow.Result) json.RawMessage {
	views := make([]*flow.ActionView, 0, len(res.Actions))
	for i := range res.Actions {
		if !strings.HasPrefix(res.Actions[i].Name, internalPrefix) {
			views = append(views, &res.Actions[i])
		}
	}
	// Names are unique in a state (flow.Definition refuses an action
	// declared twice).
	slices.SortFunc(views, func(a, b *flow.ActionView) int { return strings.Compare(a.Name, b.Name) })
	fixedID := core.IsID(res.Flow.ID)
	out := make([]byte, 0, 1024)
	out = append(out, '{')
	for n, a := range views {
		if n > 0 {
			out = append(out, ',')
		}
		if t := h.actionTemplate(def, res.State, a); t != nil && fixedID {
			out = append(out, t.head...)
			out = append(out, res.Flow.ID...)
			out = append(out, t.tail...)
			continue
		}
		key, _ := json.Marshal(a.Name)
		val, _ := json.Marshal(h.actionJSON(def, res.Flow.ID, *a))
		out = append(append(append(out, key...), ':'), val...)
	}
	return append(out, '}')
}

// actionTemplate returns the template of action a in state, or nil when an
// input of a has a value or an error (a form shown again).
func (h *Handler) actionTemplate(def *flow.Definition, state string, a *flow.ActionView) *actionTemplate {
	for _, in := range a.Inputs {
		if in.Value != nil || in.Error != nil {
			return nil
		}
	}
	k := actionKey{def: def, state: state, action: a.Name}
	if t, ok := actionTemplates.Load(k); ok {
		return t.(*actionTemplate)
	}
	key, err := json.Marshal(a.Name)
	if err != nil {
		return nil
	}
	val, err := json.Marshal(h.actionJSON(def, templateFlowID, *a))
	if err != nil {
		return nil
	}
	enc := append(append(key, ':'), val...)
	if bytes.Count(enc, []byte(templateFlowID)) != 1 {
		return nil
	}
	head, tail, _ := bytes.Cut(enc, []byte(templateFlowID))
	t, _ := actionTemplates.LoadOrStore(k, &actionTemplate{head: head, tail: tail})
	return t.(*actionTemplate)
}

func (h *Handler) actionJSON(def *flow.Definition, flowID string, a flow.ActionView) actionJSON {
	out := actionJSON{Action: a.Name, Description: a.Description, Inputs: make(map[string]inputJSON, len(a.Inputs)),
		Href: "/" + def.Name() + "?action=" + url.QueryEscape(a.Name+"@"+flowID)}
	for _, in := range a.Inputs {
		ij := inputJSON{Name: in.Name, Type: string(in.Type), Value: in.Value, MinLength: in.MinLength,
			MaxLength: in.MaxLength, Required: in.Required, Hidden: in.Hidden, AllowedValues: in.AllowedValues}
		if in.Error != nil {
			fe := inputErrorOf(in.Error)
			ij.Error = &errorJSON{Code: fe.code, Message: fe.message}
		}
		out.Inputs[in.Name] = ij
	}
	return out
}
