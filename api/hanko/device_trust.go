package hanko

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/store"
)

// Trusted devices (hanko.mfa.device_trust_*): after a second factor at
// login, the device may be trusted (policy always, or trust_device in the
// device_trust state with policy prompt). Success then sets a cookie
// "<device id>.<32 random bytes, base64url>"; the server keeps the device
// id, the user it belongs to, the SHA-256 of the random part and the
// expiry. A later login of the same user from that device skips the second
// factor until the expiry. A cookie that names no device, another user's
// device or an expired one, or whose secret does not match (compared in
// constant time) is ignored: the second factor is asked as usual.

// maxTrustedDevices is how many trusted devices a user keeps: trusting one
// more forgets the oldest.
const maxTrustedDevices = 10

// keyTrustDevice marks a login whose device is trusted at success.
var keyTrustDevice = flow.NewStickyKey[bool]("trust_device")

// deviceTrustOn reports whether devices can be trusted.
func (h *Handler) deviceTrustOn() bool { return h.cfg.MFA.DeviceTrustPolicy != "never" }

// afterFirstFactor returns the states a user passes after a first factor
// other than a passkey, as Hanko's ScheduleOnboardingStates orders them:
// the second factor (unless the device is trusted), onboarding, then
// device_trust when the policy prompts and a second factor is asked.
func (h *Handler) afterFirstFactor(c *flow.Context, i *core.Identity) ([]string, error) {
	mfa := h.loginMFA(c, i)
	asked := len(mfa) > 0 && (mfa[0] == stateLoginOTP || mfa[0] == stateLoginSecurityKey)
	if asked {
		trusted, err := h.deviceTrusted(c.Context(), c.Tx(), i.ID)
		if err != nil {
			return nil, err
		}
		if trusted {
			mfa, asked = nil, false
		}
	}
	next := append(mfa, h.loginOnboarding(c, i)...)
	if asked && h.cfg.MFA.DeviceTrustPolicy == "prompt" {
		// device_trust comes last, before success when that is scheduled.
		at := len(next)
		if at > 0 && next[at-1] == stateSuccess {
			at--
		}
		next = slices.Insert(next, at, stateDeviceTrust)
	}
	return next, nil
}

// continueAfterFirstFactor continues a login to afterFirstFactor's states.
func (h *Handler) continueAfterFirstFactor(c *flow.ActionContext, i *core.Identity) error {
	if !hasOTP(i) && len(h.userSecurityKeys(c.Base(), i.ID)) == 0 && h.mfaSetupImpossible(c.Base(), h.cfg.MFA.AcquireOnLogin) {
		return c.Error(errPlatformAuthenticatorRequired.core())
	}
	next, err := h.afterFirstFactor(c.Base(), i)
	if err != nil {
		return err
	}
	return c.Continue(next...)
}

// secondFactorPassed is called after a second factor at login: with policy
// always the device is trusted at success.
func (h *Handler) secondFactorPassed(c *flow.Context) {
	if h.cfg.MFA.DeviceTrustPolicy == "always" {
		keyTrustDevice.Set(c.Stash(), true)
	}
}

// trustDevice is device_trust's trust_device action.
func (h *Handler) trustDevice(c *flow.ActionContext) error {
	if !h.deviceTrustOn() {
		return c.Error(errOperationNotPermitted.core())
	}
	keyTrustDevice.Set(c.Base().Stash(), true)
	return c.Continue()
}

// deviceTrusted reports whether the request carries the cookie of a device
// userID trusted and whose trust has not expired.
func (h *Handler) deviceTrusted(ctx context.Context, tx store.Tx, userID string) (bool, error) {
	r := requestOf(ctx).r
	if !h.deviceTrustOn() || r == nil {
		return false, nil
	}
	ck, err := r.Cookie(h.cfg.MFA.DeviceTrustCookieName)
	if err != nil {
		return false, nil
	}
	id, raw, ok := parseDeviceCookie(ck.Value)
	if !ok {
		return false, nil
	}
	d, err := tx.GetTrustedDevice(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("trusted device: %w", err)
	}
	sum := sha256.Sum256(raw)
	match := subtle.ConstantTimeCompare(sum[:], d.TokenHash) == 1
	return match && d.IdentityID == userID && h.now().Before(d.ExpiresAt), nil
}

// parseDeviceCookie splits a device cookie "<device id>.<secret>" into the
// id (a UUID) and the 32 bytes of the secret; ok is false for anything else.
func parseDeviceCookie(v string) (id string, secret []byte, ok bool) {
	id, enc, found := strings.Cut(v, ".")
	if !found || !core.IsID(id) {
		return "", nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(raw) != 32 {
		return "", nil, false
	}
	return id, raw, true
}

// issueDeviceTrust stores a trusted device of userID through tx and
// returns its cookie, for the response.
func (h *Handler) issueDeviceTrust(ctx context.Context, tx store.Tx, userID string) (*http.Cookie, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	now := h.now().UTC()
	d := &store.TrustedDevice{ID: uuid.NewString(), IdentityID: userID, TokenHash: sum[:],
		ExpiresAt: now.Add(h.cfg.MFA.DeviceTrustDuration), CreatedAt: now}
	if err := tx.CreateTrustedDevice(ctx, d, maxTrustedDevices); err != nil {
		return nil, fmt.Errorf("trust device: %w", err)
	}
	ck := h.cookie(d.ID + "." + base64.RawURLEncoding.EncodeToString(raw))
	ck.Name = h.cfg.MFA.DeviceTrustCookieName
	ck.HttpOnly = true
	ck.MaxAge = int(h.cfg.MFA.DeviceTrustDuration.Seconds())
	ck.Expires = d.ExpiresAt
	return ck, nil
}
