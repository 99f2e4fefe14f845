package hanko

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
)

// A flow is not stored at its start (POST /login, /registration,
// /profile) but with its first step: the flow a start makes is the same
// for everyone but for its id, its time and (profile) the identity of the
// session that started it, so the step's transaction creates it instead of
// updating it, and a start costs no transaction.
// Whichever replica the first step reaches opens the flow again from what
// the client sends back, its id (in the action's href) and its CSRF token,
// which carries the start's time and an HMAC (secrets.default) of the
// definition, the id, that time and the identity: only this server makes
// it, and only for that flow (a profile flow's first step opens it for the
// identity of the step's session, so another user's session opens
// nothing). Once the first step stored the flow, the token no longer
// matches the stored one (each step rotates it), so it cannot open the
// flow again; a flow past its lifetime opens expired.

// openTokenLen is the length of an opened flow's CSRF token: that of
// every other flow token (flow.csrfTokenLength), from the same alphabet.
const openTokenLen = 32

// openTimeLen is the number of characters of the token that carry the
// start's Unix time in milliseconds (62^8 ms is about 6,900 years).
const openTimeLen = 8

const openTokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// opens reports whether flows of def start without being stored.
func (h *Handler) opens(def *flow.Definition) bool {
	return h.signer != nil && def.Openable()
}

// openMessage is what an opened flow's token authenticates; identityID is
// the profile flow's identity, empty for the others.
func openMessage(def *flow.Definition, id string, ms int64, identityID string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, "latchkey hanko flow start\x00"...)
	b = append(b, def.Name()...)
	b = append(b, 0)
	b = append(b, id...)
	b = append(b, 0)
	b = time.UnixMilli(ms).UTC().AppendFormat(b, time.RFC3339Nano)
	if identityID != "" {
		b = append(append(b, 0), identityID...)
	}
	return b
}

// encodeOpenToken is the token of a flow opened at ms with tag, the HMAC
// of its openMessage: the time in base 62, then a character of the
// alphabet for each of the tag's first bytes.
func encodeOpenToken(ms int64, tag []byte) string {
	var b [openTokenLen]byte
	v := uint64(ms)
	for i := openTimeLen - 1; i >= 0; i-- {
		b[i] = openTokenAlphabet[v%uint64(len(openTokenAlphabet))]
		v /= uint64(len(openTokenAlphabet))
	}
	for i := openTimeLen; i < openTokenLen; i++ {
		b[i] = openTokenAlphabet[int(tag[i-openTimeLen])%len(openTokenAlphabet)]
	}
	return string(b[:])
}

// openTime returns the start time a token of encodeOpenToken's shape
// carries.
func openTime(token string) (int64, bool) {
	if len(token) != openTokenLen {
		return 0, false
	}
	var v int64
	for i := range openTimeLen {
		d := strings.IndexByte(openTokenAlphabet, token[i])
		if d < 0 {
			return 0, false
		}
		v = v*int64(len(openTokenAlphabet)) + int64(d)
	}
	return v, true
}

// openFlow starts a flow of def (about identityID for a profile flow)
// without storing it.
func (h *Handler) openFlow(ctx context.Context, f *flows, def *flow.Definition, identityID string) (*flow.Result, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	ms := h.now().UnixMilli()
	token := encodeOpenToken(ms, h.signer.MAC(openMessage(def, id.String(), ms, identityID)))
	return f.engine.Open(ctx, def, flow.Init{Face: "hanko", IdentityID: identityID}, id.String(), token, time.UnixMilli(ms))
}

// reopened returns flow id of def as openFlow made it, when token is the
// token it gave that flow about identityID (under any of the secrets),
// else nil.
func (h *Handler) reopened(ctx context.Context, f *flows, def *flow.Definition, id, token, identityID string) *core.Flow {
	if !h.opens(def) || !core.IsID(id) {
		return nil
	}
	ms, ok := openTime(token)
	if !ok {
		return nil
	}
	match := 0
	for _, tag := range h.signer.MACs(openMessage(def, id, ms, identityID)) {
		match |= subtle.ConstantTimeCompare([]byte(encodeOpenToken(ms, tag)), []byte(token))
	}
	if match != 1 {
		return nil
	}
	res, err := f.engine.Open(ctx, def, flow.Init{Face: "hanko", IdentityID: identityID}, id, token, time.UnixMilli(ms))
	if err != nil {
		return nil
	}
	return &res.Flow
}
