package kratos

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/webhook"
)

// The browser-to-app hand-over (notes §2.5 Login): an API flow created with
// return_session_token_exchange_code=true carries session_token_exchange_code
// (the init code, shown once); the app sends the user's browser through the
// provider; the callback signs in, keeps the session token sealed and
// redirects to return_to?code=<return_to_code>; the app trades both codes
// at GET /sessions/token-exchange for the session token, once. Without the
// app's init code the browser's code is worth nothing, which is what binds
// the round trip in place of the browser cookie.

// flowTokenExchange is the kind under which exchanges are kept in the flows
// table (like stored errors).
const flowTokenExchange core.FlowKind = "token_exchange"

// exchangeLifespan bounds an exchange from the flow's start to the app's
// collection.
const exchangeLifespan = time.Hour

// keyExchange names the exchange record of an API flow.
var keyExchange = flow.NewStickyKey[string]("kratos.oidc.exchange")

// exchangeRecord is what the flows table keeps of an exchange.
type exchangeRecord struct {
	InitHash    string `json:"init_hash"`
	ReturnCode  string `json:"return_code"`
	SealedToken []byte `json:"sealed_token,omitempty"`
	SessionID   string `json:"session_id,omitempty"`
}

// newExchange stores a fresh exchange and returns its id and init code.
func (s *SelfService) newExchange(ctx context.Context) (id, initCode string, err error) {
	secret, err := randomCode()
	if err != nil {
		return "", "", err
	}
	ret, err := randomCode()
	if err != nil {
		return "", "", err
	}
	id = uuid.NewString()
	initCode = id + "." + secret
	raw, err := json.Marshal(exchangeRecord{InitHash: sha256Hex(initCode), ReturnCode: ret})
	if err != nil {
		return "", "", err
	}
	now := s.now().UTC()
	f := &core.Flow{ID: id, Kind: flowTokenExchange, Face: "kratos", Stash: raw, ExpiresAt: now.Add(exchangeLifespan), CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateFlow(ctx, f); err != nil {
		return "", "", &core.Error{Code: core.CodeInternal, Message: "Creating the flow failed.", Cause: err}
	}
	return id, initCode, nil
}

// wantsExchange reports whether an API flow asks for the hand-over.
func (s *SelfService) wantsExchange(r *http.Request, kind core.FlowKind, typ string) bool {
	on, _ := strconv.ParseBool(r.URL.Query().Get("return_session_token_exchange_code"))
	return on && typ == "api" && s.oidcEnabled() && (kind == core.FlowLogin || kind == core.FlowRegistration)
}

// finishExchange ends an API flow signed in through the browser: the
// session token is kept sealed for the app and the browser goes to
// return_to with the return code. A sign-up runs the registration's oidc
// after-hooks as every other sign-up does: web_hook hooks, the
// verification hook mails the new identity's unverified addresses, and a
// session (so a token for the app) is issued only with the session hook;
// without it the browser goes to return_to without a code.
func (s *SelfService) finishExchange(w http.ResponseWriter, r *http.Request, sub *submission, o *outcome, res *flow.Result, exID string) {
	// The after hooks of the oidc method run as in finishLogin and
	// finishRegistration.
	signUp := o.oidcSignedUp || (res.Flow.Kind == core.FlowRegistration && !o.oidcLogin)
	hooks, sel := s.loginHookList("oidc"), webhook.SelectAll
	if signUp {
		hooks, sel = s.registrationHooks("oidc"), webhook.SelectOthers
	}
	if _, err := s.runWebHooks(r, hooks, func() *webhook.Context {
		return s.hookContext(r, s.render(r, res.Flow.Kind, res, o.ident, nil), s.hookIdentity(o.ident), nil)
	}, afterSel(o, sel)); err != nil {
		if in := (*webhook.Interrupt)(nil); errors.As(err, &in) && !signUp {
			// As after any login: no session (so no code for the app),
			// and the browser goes back to the flow with the messages.
			s.interruptLogin(w, r, sub, res, in, nil, false)
			return
		}
		s.writeError(w, r, false, webHookError(err))
		return
	}
	ctx := r.Context()
	to := s.returnOrDefault(val(keyReturnTo, res.Stash), s.cfg.Flows.Login.After.DefaultBrowserReturnURL)
	if signUp {
		after := s.cfg.Flows.Registration.After
		to = s.returnOrDefault(val(keyReturnTo, res.Stash), methodAfter(after, "oidc").DefaultBrowserReturnURL, after.DefaultBrowserReturnURL)
		if s.verify != nil && s.cfg.Flows.Verification.Enabled {
			if _, err := s.verify(ctx, r, o.ident, "api"); err != nil {
				s.writeError(w, r, false, err)
				return
			}
		}
		if !s.hasHook(hookNames(after.Hooks, methodAfter(after, "oidc").Hooks), "session") {
			redirect(w, r, to)
			return
		}
	}
	out, err := s.issueSession(w, r, o.identityID, "oidc", "api")
	if err != nil {
		s.writeError(w, r, false, err)
		return
	}
	var ret string
	err = s.st.Update(ctx, func(tx store.Tx) error {
		f, err := tx.GetFlow(ctx, exID)
		if err != nil {
			return err
		}
		var rec exchangeRecord
		if err := json.Unmarshal(f.Stash, &rec); err != nil {
			return err
		}
		if rec.SealedToken, err = s.cookie.seal.Encrypt([]byte(out.token), []byte("kratos token exchange "+exID)); err != nil {
			return err
		}
		rec.SessionID, ret = out.session.ID, rec.ReturnCode
		if f.Stash, err = json.Marshal(rec); err != nil {
			return err
		}
		f.UpdatedAt = s.now().UTC()
		return tx.UpdateFlow(ctx, f)
	})
	if err != nil {
		s.writeError(w, r, false, &core.Error{Code: core.CodeInternal, Message: "Completing the sign-in failed.", Cause: err})
		return
	}
	u, err := url.Parse(to)
	if err != nil {
		s.writeError(w, r, false, &core.Error{Code: core.CodeInternal, Message: "The return URL is invalid.", Cause: err})
		return
	}
	q := u.Query()
	q.Set("code", ret)
	u.RawQuery = q.Encode()
	redirect(w, r, u.String())
}

// exchangeSessionToken is GET /sessions/token-exchange.
func (s *SelfService) exchangeSessionToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	initCode, retCode := q.Get("init_code"), q.Get("return_to_code")
	notYet := &kratosError{status: http.StatusNotFound, reason: "No session yet for this code: the sign-in in the browser has not finished, or the codes are wrong or used."}
	id, _, _ := strings.Cut(initCode, ".")
	id, ok := core.ParseID(id)
	if !ok || retCode == "" {
		s.writeError(w, r, true, notYet)
		return
	}
	var token string
	var sessID string
	err := s.st.Update(ctx, func(tx store.Tx) error {
		f, err := tx.GetFlow(ctx, id)
		if err != nil || f.Kind != flowTokenExchange || f.Expired(s.now()) {
			return notYet
		}
		var rec exchangeRecord
		if json.Unmarshal(f.Stash, &rec) != nil ||
			subtle.ConstantTimeCompare([]byte(sha256Hex(initCode)), []byte(rec.InitHash)) != 1 ||
			subtle.ConstantTimeCompare([]byte(retCode), []byte(rec.ReturnCode)) != 1 || len(rec.SealedToken) == 0 {
			return notYet
		}
		pt, err := s.cookie.seal.Decrypt(rec.SealedToken, []byte("kratos token exchange "+id))
		if err != nil {
			return err
		}
		token, sessID = string(pt), rec.SessionID
		return tx.DeleteFlow(ctx, id) // good once
	})
	var ke *kratosError
	if errors.As(err, &ke) {
		s.writeError(w, r, true, err)
		return
	}
	if err != nil {
		s.writeError(w, r, true, &core.Error{Code: core.CodeInternal, Message: "Exchanging the code failed.", Cause: err})
		return
	}
	sess, err := s.sessions.Session(ctx, sessID)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	i, err := s.identityFor(ctx, sess)
	if err != nil {
		s.writeError(w, r, true, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, loginResponse{Session: s.sessionJSON(sess, i), SessionToken: token})
}

func randomCode() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
