package oidc

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/latchkey/latchkey/core"
)

// pendingAAD binds a sealed Pending to its purpose; the flow id follows.
const pendingAAD = "latchkey.oidc.pending\x00"

// maxSealedPending bounds what OpenPending decodes (a sealed Pending is a
// few hundred bytes; cookies are limited to about 4 KiB anyway).
const maxSealedPending = 4096

// SealPending encrypts p for the flow flowID with the Method's Sealer (the
// configured cipher secrets, AES-GCM), so that a browser can carry a
// round trip's pending state in its state cookie instead of the flow
// holding it: any replica that shares the secrets opens it, and only for
// that flow (the flow id is authenticated with it). The result is
// base64url, fit for a cookie value.
func (m *Method) SealPending(flowID string, p Pending) (string, error) {
	plain, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	ct, err := m.sealer.Encrypt(plain, []byte(pendingAAD+flowID))
	if err != nil {
		return "", &core.Error{Code: core.CodeInternal, Message: "An internal error occurred.", Cause: fmt.Errorf("oidc: seal pending: %w", err)}
	}
	return base64.RawURLEncoding.EncodeToString(ct), nil
}

// OpenPending returns the Pending SealPending sealed for the flow flowID,
// and false when sealed is not one (malformed, tampered, sealed for another
// flow or under a secret no longer configured, or a plain state cookie of
// an earlier version, whose flow holds its Pending).
func (m *Method) OpenPending(flowID, sealed string) (Pending, bool) {
	if sealed == "" || len(sealed) > maxSealedPending {
		return Pending{}, false
	}
	ct, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return Pending{}, false
	}
	plain, err := m.sealer.Decrypt(ct, []byte(pendingAAD+flowID))
	if err != nil {
		return Pending{}, false
	}
	var p Pending
	if err := json.Unmarshal(plain, &p); err != nil || p.Provider == "" || p.StateHash == "" {
		return Pending{}, false
	}
	return p, true
}
