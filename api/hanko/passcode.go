package hanko

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/store"
)

// Passcodes: the passcode_confirmation state shared by the login,
// registration and profile flows. An action that needs a passcode calls
// startPasscode and continues to passcode_confirmation; the state's
// BeforeState hook issues the code (6 digits, hanko.passcode.ttl, at most
// hanko.passcode.max_attempts submissions; only a keyed hash is kept, in the
// stash) and mails it through SendEmail; verify_passcode checks it and does
// what the purpose says.

// passcodePurpose says what a confirmed passcode does.
type passcodePurpose string

const (
	passcodeLogin             passcodePurpose = "login"              // log the user in
	passcodeRecovery          passcodePurpose = "recovery"           // allow login_password_recovery
	passcodeEmailVerification passcodePurpose = "email_verification" // verify the address
)

// passcodeState is the passcode in play. It is sticky: stepping back and
// forth does not reset the attempt counter.
type passcodeState struct {
	Purpose passcodePurpose `json:"purpose"`
	Email   string          `json:"email"`
	// Genuine is false when the mail is an enumeration-safe notice
	// (email_login_attempted, email_registration_attempted) that carries no
	// code: every submission then fails as a wrong code would.
	Genuine bool      `json:"genuine"`
	Code    code.Code `json:"code"`
}

var keyPasscode = flow.NewStickyKey[passcodeState]("passcode")

// passcodeSubFlow declares passcode_confirmation.
func (h *Handler) passcodeSubFlow() *flow.SubFlow {
	return flow.NewSubFlow("passcode").
		State(statePasscodeConfirmation,
			flow.Action{
				Name:        "verify_passcode",
				Description: "Enter a passcode.",
				Inputs:      []flow.Input{{Name: "code", Type: flow.TypeString, Required: true, MinLength: 6, MaxLength: 6, TrimSpace: true}},
				Execute:     h.verifyPasscode,
			},
			flow.Action{
				Name:        "resend_passcode",
				Description: "Send the passcode again.",
				Execute: func(c *flow.ActionContext) error {
					b := c.Base()
					p, ok := keyPasscode.Get(b.Stash())
					if !ok {
						return fmt.Errorf("resend passcode: %w", flow.ErrDiscontinuity)
					}
					if err := h.startPasscodeFor(b, p.Purpose, p.Email, p.Genuine); err != nil {
						return c.Error(err)
					}
					return c.Continue(statePasscodeConfirmation)
				},
			},
			flow.BackAction("back", "Navigate one step back."),
		).
		Hook(flow.BeforeState(statePasscodeConfirmation, h.sendPasscode))
}

// passcodeBinding binds a code to its flow, purpose and address.
func passcodeBinding(flowID string, p passcodeState) string {
	return "hanko-passcode:" + flowID + ":" + string(p.Purpose) + ":" + p.Email
}

// startPasscode prepares a genuine passcode for purpose to email; the flow
// must then continue to passcode_confirmation, whose hook sends it. It
// returns a *core.Error (rate_limit_exceeded, with payload retry_after)
// when the send limits allow no mail now: hanko.rate_limiter.passcode_limits
// per address and client IP, and the shared ratelimit.send limits per
// address and per client IP, all counted across flows.
func (h *Handler) startPasscode(c *flow.Context, purpose passcodePurpose, email string) error {
	return h.startPasscodeFor(c, purpose, email, true)
}

// startPasscodeFor is startPasscode with the choice of a genuine code or an
// enumeration-safe notice (which counts the same, so the answer does not
// tell them apart).
func (h *Handler) startPasscodeFor(c *flow.Context, purpose passcodePurpose, email string, genuine bool) error {
	if h.codes == nil {
		return errors.New("passcodes need a code issuer (Options.Codes)")
	}
	if err := h.allowPasscodeSend(c, email); err != nil {
		return err
	}
	keyPasscode.Set(c.Stash(), passcodeState{Purpose: purpose, Email: email, Genuine: genuine})
	return nil
}

// passcodeRule is hanko.rate_limiter.passcode_limits, keyed like Hanko's
// CreateRateLimitPasscodeKey by client address and e-mail address.
func (h *Handler) passcodeRule() (ratelimit.Rule, bool) {
	rl := h.cfg.RateLimiter
	if !rl.Enabled || h.limiter == nil || rl.PasscodeLimits.Tokens < 1 || rl.PasscodeLimits.Interval <= 0 {
		return ratelimit.Rule{}, false
	}
	return ratelimit.Rule{Name: "hanko_passcode", Limit: rl.PasscodeLimits.Tokens, Window: rl.PasscodeLimits.Interval}, true
}

// allowPasscodeSend counts one passcode mail to email from the step's
// client in the step's transaction, or returns rate_limit_exceeded with
// payload retry_after.
func (h *Handler) allowPasscodeSend(c *flow.Context, email string) error {
	ip := clientIP(c)
	email = strings.ToLower(strings.TrimSpace(email))
	rule, hankoOn := h.passcodeRule()
	var lim ratelimit.Limiter
	if hankoOn {
		lim = ratelimit.InTx(h.limiter, c.Tx())
		d, err := lim.Allow(c.Context(), rule, ip+"/"+email)
		if err != nil {
			return fmt.Errorf("passcode send limit: %w", err)
		}
		if !d.Allowed {
			return h.rateLimited(c, max(d.RetryAfter, time.Second))
		}
	}
	err := h.attempts.In(c.Tx()).Send(c.Context(), email, ip)
	if err == nil {
		return nil
	}
	if hankoOn {
		if uerr := lim.Undo(c.Context(), rule, ip+"/"+email); uerr != nil {
			return fmt.Errorf("passcode send limit: %w", uerr)
		}
	}
	var ex *ratelimit.ExceededError
	if errors.As(err, &ex) {
		return h.rateLimited(c, ex.RetryAfter)
	}
	return fmt.Errorf("passcode send limit: %w", err)
}

// rateLimited is Hanko's rate_limit_exceeded with payload retry_after.
func (h *Handler) rateLimited(c *flow.Context, wait time.Duration) error {
	c.SetPayload("retry_after", seconds(wait))
	return errRateLimitExceeded.core()
}

// resendAfter is how long a client should wait before offering a resend:
// the time one token of the passcode limit takes to come back.
func (h *Handler) resendAfter() time.Duration {
	rl := h.cfg.RateLimiter
	if !rl.Enabled || rl.PasscodeLimits.Tokens < 1 {
		return 0
	}
	return rl.PasscodeLimits.Interval / time.Duration(rl.PasscodeLimits.Tokens)
}

func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// sendPasscode is the BeforeState hook of passcode_confirmation: it issues
// the prepared passcode and mails it (or the enumeration-safe notice) in the
// step's transaction.
func (h *Handler) sendPasscode(c *flow.Context) error {
	p, ok := keyPasscode.Get(c.Stash())
	if !ok {
		return fmt.Errorf("send passcode: nothing prepared: %w", flow.ErrDiscontinuity)
	}
	plain, stored, err := h.codes.IssueWithTTL(passcodeBinding(c.FlowID(), p), h.cfg.Passcode.TTL)
	if err != nil {
		return fmt.Errorf("issue passcode: %w", err)
	}
	stored.MaxAttempts = h.cfg.Passcode.MaxAttempts
	p.Code = stored
	keyPasscode.Set(c.Stash(), p)

	fr := requestOf(c.Context())
	var locale string
	if i, err := c.Tx().FindIdentityByAddress(c.Context(), core.ViaEmail, p.Email); err == nil {
		locale = i.Locale
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("send passcode: look up recipient: %w", err)
	}
	acceptLanguage := ""
	if fr.r != nil {
		acceptLanguage = fr.r.Header.Get("Accept-Language")
	}
	lang := courier.Language(fr.language, acceptLanguage, locale)
	template, data := passcodeMail(c.Definition().Kind(), p, plain, h.cfg.Passcode.TTL)
	if err := h.SendEmail(c.Context(), c.Tx(), template, p.Email, lang, data); err != nil {
		return fmt.Errorf("send passcode: %w", err)
	}
	if d := h.resendAfter(); d > 0 {
		c.SetPayload("resend_after", seconds(d))
	}
	return nil
}

// passcodeMail picks the template and data of the mail for p.
func passcodeMail(kind core.FlowKind, p passcodeState, plain string, ttl time.Duration) (string, map[string]any) {
	if !p.Genuine {
		if kind == core.FlowRegistration {
			return courier.TypeHankoEmailRegistrationAttempted, map[string]any{}
		}
		return courier.TypeHankoEmailLoginAttempted, map[string]any{}
	}
	data := map[string]any{"Code": plain, "TTL": int(ttl / time.Minute)}
	switch p.Purpose {
	case passcodeLogin:
		return courier.TypeHankoLogin, data
	case passcodeRecovery:
		return courier.TypeHankoRecovery, data
	default:
		return courier.TypeHankoEmailVerification, data
	}
}

// verifyPasscode checks the submitted code and, when it matches, does what
// the passcode was for. A wrong code is passcode_invalid on the input; the
// submission that uses up the attempts, and every later one, is 401
// passcode_max_attempts_reached.
func (h *Handler) verifyPasscode(c *flow.ActionContext) error {
	b := c.Base()
	p, ok := keyPasscode.Get(b.Stash())
	if !ok {
		return fmt.Errorf("verify passcode: %w", flow.ErrDiscontinuity)
	}
	// The shared attempt policy first: wrong codes count per identity and
	// client IP across fresh codes and flows, not only per code.
	key, ip := passcodeKey(b, p), clientIP(b)
	attempts := h.attempts.In(b.Tx())
	if err := attempts.Check(b.Context(), ratelimit.Code, key, ip); err != nil {
		var ex *ratelimit.ExceededError
		if errors.As(err, &ex) {
			h.audit(b, AuditPasscodeLoginFailed, "", p.Email, err, p.Purpose == passcodeLogin)
			return c.Error(h.rateLimited(b, ex.RetryAfter))
		}
		return fmt.Errorf("passcode attempt limit: %w", err)
	}
	err := h.codes.Check(&p.Code, passcodeBinding(b.FlowID(), p), c.String("code"))
	if err == nil && !p.Genuine {
		err = code.ErrInvalid // a notice carries no code; a lucky guess proves nothing
	}
	if err == nil && (p.Purpose == passcodeLogin || p.Purpose == passcodeRecovery) {
		// A disabled account is refused like a wrong code (as password_login
		// refuses it like a wrong password), before the flow can reach
		// success and fail there to issue the session.
		if i, uerr := h.flowUser(b); uerr == nil && i.State != core.IdentityActive {
			err = code.ErrInvalid
		}
	}
	keyPasscode.Set(b.Stash(), p)
	switch {
	case err == nil:
	case errors.Is(err, code.ErrExhausted):
		h.audit(b, AuditPasscodeLoginFailed, "", p.Email, err, p.Purpose == passcodeLogin)
		return c.Error(errPasscodeMaxAttempts.core())
	case errors.Is(err, code.ErrInvalid), errors.Is(err, code.ErrExpired), errors.Is(err, code.ErrUsed):
		h.audit(b, AuditPasscodeLoginFailed, "", p.Email, err, p.Purpose == passcodeLogin)
		return c.Error(inputErr("code", codePasscodeInvalid))
	default:
		return fmt.Errorf("check passcode: %w", err)
	}
	if err := attempts.Succeed(b.Context(), ratelimit.Code, key, ip); err != nil {
		return fmt.Errorf("passcode attempt limit: %w", err)
	}
	keyPasscode.Delete(b.Stash())
	return h.passcodeConfirmed(c, p)
}

// passcodeKey is the attempt policy's key of a passcode check: the user
// when the flow has one (login, recovery, the profile), else the address
// (registration), so guesses at one account count together across flows.
func passcodeKey(c *flow.Context, p passcodeState) string {
	if id := userIDOf(c); id != "" && p.Genuine {
		return id
	}
	return "address:" + strings.ToLower(p.Email)
}

// passcodeConfirmed applies a confirmed passcode.
func (h *Handler) passcodeConfirmed(c *flow.ActionContext, p passcodeState) error {
	b := c.Base()
	kind := b.Definition().Kind()
	switch {
	case p.Purpose == passcodeLogin || p.Purpose == passcodeRecovery:
		i, err := h.flowUser(b)
		if err != nil {
			return err
		}
		if markVerified(i, p.Email, h.now().UTC()) {
			if err := b.Tx().UpdateIdentity(b.Context(), i); err != nil {
				return fmt.Errorf("mark e-mail verified: %w", err)
			}
		}
		if p.Purpose == passcodeRecovery {
			keyRecoveryVerified.Set(b.Stash(), true)
			return c.Continue()
		}
		authenticated(b, i.ID, AMRPasscode)
		h.audit(b, AuditPasscodeLoginSucceeded, i.ID, p.Email, nil, true)
		return h.continueAfterFirstFactor(c, i)
	case kind == core.FlowRegistration:
		keyEmailVerified.Set(b.Stash(), true)
		return c.Continue()
	default: // onboarding_email at login, email_create / email_verify in the profile
		i, err := h.flowUser(b)
		if err != nil {
			return err
		}
		if markVerified(i, p.Email, h.now().UTC()) {
			if err := b.Tx().UpdateIdentity(b.Context(), i); err != nil {
				return fmt.Errorf("mark e-mail verified: %w", err)
			}
			h.audit(b, AuditEmailVerified, i.ID, p.Email, nil, true)
			return c.Continue()
		}
		if err := h.flowAddEmail(b, i, p.Email, true); err != nil {
			if errors.Is(err, identity.ErrTxAborted) {
				return err // the step must roll back
			}
			if core.ErrorCode(err) == core.CodeConflict || errors.Is(err, store.ErrConflict) {
				return c.Error(inputErr("code", codeEmailAlreadyExists))
			}
			return err
		}
		h.audit(b, AuditEmailCreated, i.ID, p.Email, nil, true)
		return c.Continue()
	}
}

// audit records an audit log entry in the step's transaction (or, for
// failures whose step changes nothing else, in it too: the step commits on
// an input error). Failures of the audit log are logged, not fatal. Only
// entries with record set are written.
func (h *Handler) audit(c *flow.Context, typ AuditType, userID, email string, cause error, record bool) {
	if !record {
		return
	}
	fr := requestOf(c.Context())
	if err := h.Audit(c.Context(), c.Tx(), fr.r, typ, userID, email, cause); err != nil {
		h.log.ErrorContext(c.Context(), "hanko: write audit log", "type", typ, "error", err)
	}
}
