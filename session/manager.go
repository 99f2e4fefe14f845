package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// Store is the part of store.Store the Manager uses; *store.Store values
// satisfy it.
type Store interface {
	CreateSession(ctx context.Context, s *core.Session) error
	GetSession(ctx context.Context, id string) (*core.Session, error)
	GetSessionByTokenHash(ctx context.Context, h []byte) (*core.Session, error)
	GetSessionWithIdentityByTokenHash(ctx context.Context, h []byte) (*core.Session, *core.Identity, error)
	GetSessionWithIdentity(ctx context.Context, id string, withCredentials bool) (*core.Session, *core.Identity, error)
	GetSessionWithCredentialsByTokenHash(ctx context.Context, h []byte) (*core.Session, *core.Identity, error)
	GetSessionProfile(ctx context.Context, id string) (*core.Session, *core.Identity, []core.WebAuthnCredential, error)
	GetSessionByLogoutTokenHash(ctx context.Context, h []byte) (*core.Session, error)
	RevokeSessions(ctx context.Context, identityID, exceptID string) (int, error)
	// Update runs fn in one transaction (see store.Store.Update).
	Update(ctx context.Context, fn func(tx store.Tx) error) error
}

// MACer signs values with the secrets.default list; *cipher.Signer
// satisfies it. The Manager derives logout tokens with it.
type MACer interface {
	MAC(msg []byte) []byte
}

// DefaultTouchInterval is how often Touch writes a session at most.
const DefaultTouchInterval = 5 * time.Minute

// maxDevices bounds the devices remembered per session; the least recently
// seen is dropped first.
const maxDevices = 32

// Options configures a Manager. Zero fields take the defaults.
type Options struct {
	Now           func() time.Time // default time.Now
	Rand          io.Reader        // token and id randomness; default crypto/rand.Reader
	TouchInterval time.Duration    // default DefaultTouchInterval
	// Cache, when set, answers the session checks (VerifyWithIdentity,
	// SessionWithIdentity, Session) it has seen; nil reads the store every
	// time.
	Cache *Cache
}

// Manager issues, verifies, extends and revokes sessions. Its only state is
// the optional Cache of session checks, which every write through the store
// keeps correct (see Cache), so any number of replicas can share one store;
// it is safe for concurrent use.
type Manager struct {
	st            Store
	mac           MACer
	now           func() time.Time
	rand          io.Reader
	touchInterval time.Duration
	cache         *Cache
}

// NewManager returns a Manager over st that derives logout tokens with mac.
// It returns an error when st or mac is nil.
func NewManager(st Store, mac MACer, o Options) (*Manager, error) {
	if st == nil || mac == nil {
		return nil, errors.New("session: NewManager needs a store and a MACer")
	}
	m := &Manager{st: st, mac: mac, now: o.Now, rand: o.Rand, touchInterval: o.TouchInterval, cache: o.Cache}
	if m.now == nil {
		m.now = time.Now
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	if m.touchInterval <= 0 {
		m.touchInterval = DefaultTouchInterval
	}
	return m, nil
}

// clock returns the current time in UTC at the precision every store keeps.
func (m *Manager) clock() time.Time { return m.now().UTC().Truncate(time.Microsecond) }

func (m *Manager) newID() (string, error) {
	id, err := uuid.NewRandomFromReader(m.rand)
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// Issue creates an active session for the identity, authenticated by
// method and used from device (a zero Device records none), that expires
// after lifespan. It returns the stored session and its opaque token, which
// exists nowhere else: only its SHA-256 is stored. method.CompletedAt
// defaults to now and method.AAL to aal1. It returns a *core.Error with
// CodeInvalid for an empty identity id or method or a non-positive
// lifespan, and a wrapped store error otherwise (store.ErrConflict cannot
// happen short of a broken random source).
func (m *Manager) Issue(ctx context.Context, identityID string, method core.AuthMethod, device core.Device, lifespan time.Duration) (*core.Session, string, error) {
	return m.IssueIn(ctx, m.st, identityID, []core.AuthMethod{method}, device, lifespan)
}

// SessionCreator is what IssueIn writes the session through: a store.Tx,
// or the Manager's store.
type SessionCreator interface {
	CreateSession(ctx context.Context, s *core.Session) error
}

// IssueIn is Issue writing through st (a caller's transaction, so the
// session commits with the step that authenticated the identity) with
// every method of methods: the first as Issue takes it, each further one
// as AddMethod adds it, without a write of its own. It returns Issue's
// errors; an empty methods is CodeInvalid.
func (m *Manager) IssueIn(ctx context.Context, st SessionCreator, identityID string, methods []core.AuthMethod, device core.Device, lifespan time.Duration) (*core.Session, string, error) {
	switch {
	case identityID == "":
		return nil, "", core.Errorf(core.CodeInvalid, "A session needs an identity.")
	case len(methods) == 0 || methods[0].Method == "":
		return nil, "", core.Errorf(core.CodeInvalid, "A session needs an authentication method.")
	case lifespan <= 0:
		return nil, "", core.Errorf(core.CodeInvalid, "A session needs a positive lifespan.")
	}
	now := m.clock()
	stamped := make([]core.AuthMethod, len(methods))
	for k, am := range methods {
		if am.Method == "" {
			return nil, "", core.Errorf(core.CodeInvalid, "An authentication method is required.")
		}
		stamped[k] = stampMethod(am, now)
	}
	id, err := m.newID()
	if err != nil {
		return nil, "", fmt.Errorf("issue session: %w", err)
	}
	token, err := newToken(m.rand, SessionTokenPrefix)
	if err != nil {
		return nil, "", fmt.Errorf("issue session: token: %w", err)
	}
	th := HashToken(token)
	lh := HashToken(logoutToken(m.mac, id))
	s := &core.Session{
		ID:              id,
		IdentityID:      identityID,
		TokenHash:       th[:],
		LogoutTokenHash: lh[:],
		Active:          true,
		Methods:         stamped,
		IssuedAt:        now,
		AuthenticatedAt: stamped[len(stamped)-1].CompletedAt,
		ExpiresAt:       now.Add(lifespan),
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	s.AAL = s.ComputeAAL()
	if device != (core.Device{}) {
		if device.ID == "" {
			if device.ID, err = m.newID(); err != nil {
				return nil, "", fmt.Errorf("issue session: %w", err)
			}
		}
		s.Devices = []core.Device{device}
	}
	if err := st.CreateSession(ctx, s); err != nil {
		return nil, "", fmt.Errorf("issue session: %w", err)
	}
	return s, token, nil
}

// Verify returns the session the opaque token belongs to if it is active and
// unexpired. It is one indexed lookup and writes nothing. It returns a
// *core.Error with CodeUnauthorized whose cause is ErrNoSession (empty or
// unknown token), ErrRevoked or ErrExpired, and a wrapped store error when
// the store fails. Verify does not look at the identity: the faces load it
// and check its state when they need it.
func (m *Manager) Verify(ctx context.Context, token string) (*core.Session, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, errNoSession()
	}
	h := HashToken(token)
	s, err := m.st.GetSessionByTokenHash(ctx, h[:])
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNoSession()
		}
		return nil, fmt.Errorf("verify session: %w", err)
	}
	if err := check(s, m.now()); err != nil {
		return nil, err
	}
	return s, nil
}

// VerifyWithCredentials is Verify that also returns the session's
// identity with its addresses and credentials, read from the store in one
// statement (never from the session cache): a self-service flow's session.
// The identity's state is not checked. A session whose identity is gone is
// ErrNoSession.
func (m *Manager) VerifyWithCredentials(ctx context.Context, token string) (*core.Session, *core.Identity, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, nil, errNoSession()
	}
	h := HashToken(token)
	s, i, err := m.st.GetSessionWithCredentialsByTokenHash(ctx, h[:])
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, errNoSession()
		}
		return nil, nil, fmt.Errorf("verify session: %w", err)
	}
	if err := check(s, m.now()); err != nil {
		return nil, nil, err
	}
	return s, i, nil
}

// VerifyWithIdentity is Verify that also returns the session's identity
// with its addresses (not its credentials), read in the same statement as
// the session: the session check of both faces. The identity's state is
// not checked. A session whose identity is gone is ErrNoSession.
func (m *Manager) VerifyWithIdentity(ctx context.Context, token string) (*core.Session, *core.Identity, error) {
	s, i, _, err := m.VerifyWithIdentityMemo(ctx, token)
	return s, i, err
}

// VerifyWithIdentityMemo is VerifyWithIdentity that also returns the memo
// of the cache entry that answered or was made (the zero Memo when the
// cache is off or kept nothing).
func (m *Manager) VerifyWithIdentityMemo(ctx context.Context, token string) (*core.Session, *core.Identity, Memo, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, nil, Memo{}, errNoSession()
	}
	k := cacheKey{kind: kindToken, hash: HashToken(token)}
	now := m.now()
	if e := m.cache.get(k, now); e != nil {
		if err := check(e.sess, now); err != nil {
			return nil, nil, Memo{}, err
		}
		return copySession(e.sess), copyIdentity(e.ident), Memo{e}, nil
	}
	gen := m.cache.generation()
	s, i, err := m.st.GetSessionWithIdentityByTokenHash(ctx, k.hash[:])
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, Memo{}, errNoSession()
		}
		return nil, nil, Memo{}, fmt.Errorf("verify session: %w", err)
	}
	if err := check(s, m.now()); err != nil {
		return nil, nil, Memo{}, err
	}
	return s, i, Memo{m.cache.put(k, gen, s, i, now)}, nil
}

// SessionWithIdentity is Session that also returns the session's identity
// with its addresses, in one statement, and with its credentials when
// withCredentials is set (a second one).
func (m *Manager) SessionWithIdentity(ctx context.Context, id string, withCredentials bool) (*core.Session, *core.Identity, error) {
	s, i, _, err := m.SessionWithIdentityMemo(ctx, id, withCredentials)
	return s, i, err
}

// SessionWithIdentityMemo is SessionWithIdentity that also returns the
// memo of the cache entry that answered or was made (the zero Memo when
// the cache is off or kept nothing, as for a session that is not usable).
func (m *Manager) SessionWithIdentityMemo(ctx context.Context, id string, withCredentials bool) (*core.Session, *core.Identity, Memo, error) {
	k := cacheKey{kind: kindIDIdentity, id: id}
	if withCredentials {
		k.kind = kindIDCredential
	}
	now := m.now()
	if e := m.cache.get(k, now); e != nil {
		return copySession(e.sess), copyIdentity(e.ident), Memo{e}, nil
	}
	gen := m.cache.generation()
	s, i, err := m.st.GetSessionWithIdentity(ctx, id, withCredentials)
	if err != nil {
		return nil, nil, Memo{}, m.notFound("session", err)
	}
	return s, i, Memo{m.cache.put(k, gen, s, i, now)}, nil
}

// SessionProfileMemo is SessionWithIdentityMemo with credentials that,
// when the cache does not answer, reads the identity's WebAuthn
// credentials in the same statement (store.Store.GetSessionProfile) and
// returns them too: Hanko's /me needs them only to encode an answer its
// memo does not hold yet. webauthn is nil when the cache answered (the
// store's list is never nil); the WebAuthn credentials are not cached.
func (m *Manager) SessionProfileMemo(ctx context.Context, id string) (s *core.Session, i *core.Identity, webauthn []core.WebAuthnCredential, memo Memo, err error) {
	k := cacheKey{kind: kindIDCredential, id: id}
	now := m.now()
	if e := m.cache.get(k, now); e != nil {
		return copySession(e.sess), copyIdentity(e.ident), nil, Memo{e}, nil
	}
	gen := m.cache.generation()
	s, i, webauthn, err = m.st.GetSessionProfile(ctx, id)
	if err != nil {
		return nil, nil, nil, Memo{}, m.notFound("session", err)
	}
	return s, i, webauthn, Memo{m.cache.put(k, gen, s, i, now)}, nil
}

// check returns the unauthorized error for a session that is not usable at
// now, or nil.
func check(s *core.Session, now time.Time) error {
	if !s.Active {
		return errRevoked()
	}
	if !now.Before(s.ExpiresAt) {
		return errExpired()
	}
	return nil
}

// Check returns nil when s is active and unexpired now and otherwise the
// same *core.Error Verify would. The Hanko face calls it on the row a JWT's
// session_id names.
func (m *Manager) Check(s *core.Session) error { return check(s, m.now()) }

// Session returns the session with the given id whatever its state, or a
// *core.Error with CodeNotFound (cause ErrNoSession).
func (m *Manager) Session(ctx context.Context, id string) (*core.Session, error) {
	s, _, err := m.SessionMemo(ctx, id)
	return s, err
}

// SessionMemo is Session that also returns the memo of the cache entry
// that answered or was made (the zero Memo when the cache is off or kept
// nothing, as for a session that is not usable).
func (m *Manager) SessionMemo(ctx context.Context, id string) (*core.Session, Memo, error) {
	k := cacheKey{kind: kindID, id: id}
	now := m.now()
	if e := m.cache.get(k, now); e != nil {
		return copySession(e.sess), Memo{e}, nil
	}
	gen := m.cache.generation()
	s, err := m.st.GetSession(ctx, id)
	if err != nil {
		return nil, Memo{}, m.notFound("session", err)
	}
	return s, Memo{m.cache.put(k, gen, s, nil, now)}, nil
}

// notFound turns store.ErrNotFound into a *core.Error with CodeNotFound and
// wraps any other error with op.
func (m *Manager) notFound(op string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &core.Error{Code: core.CodeNotFound, Message: "The session does not exist.", Cause: ErrNoSession}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// modify runs fn on the stored session id inside one transaction and stores
// the result when fn reports a change. It returns the stored session.
func (m *Manager) modify(ctx context.Context, op, id string, fn func(s *core.Session) (changed bool, err error)) (*core.Session, error) {
	var out *core.Session
	err := m.st.Update(ctx, func(tx store.Tx) error {
		var err error
		out, err = modifyTx(ctx, tx, id, fn)
		return err
	})
	if err != nil {
		return nil, m.modifyError(op, err)
	}
	return out, nil
}

// SessionModifier is what AddMethodIn reads and writes the session
// through: a store.Tx.
type SessionModifier interface {
	GetSession(ctx context.Context, id string) (*core.Session, error)
	UpdateSession(ctx context.Context, s *core.Session) error
	UpdateSessionMethodsIf(ctx context.Context, s *core.Session, seen time.Time) (bool, error)
}

// modifyTx is modify's work inside tx.
func modifyTx(ctx context.Context, tx SessionModifier, id string, fn func(s *core.Session) (changed bool, err error)) (*core.Session, error) {
	s, err := tx.GetSession(ctx, id)
	if err != nil {
		return nil, err
	}
	changed, err := fn(s)
	if err != nil {
		return nil, err
	}
	if changed {
		if err := tx.UpdateSession(ctx, s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// modifyError is modify's error for op: domain errors as they are, a
// missing session CodeNotFound, others wrapped.
func (m *Manager) modifyError(op string, err error) error {
	if err != nil {
		var ce *core.Error
		if errors.As(err, &ce) {
			return err
		}
		return m.notFound(op, err)
	}
	return nil
}

// Extend moves the expiry of session id to now+lifespan (Kratos' session
// refresh / admin extend); it never shortens a session. It returns the
// stored session, a *core.Error with CodeNotFound for an unknown id,
// CodeConflict (cause ErrRevoked) for a revoked session, CodeInvalid for a
// non-positive lifespan, or a wrapped store error.
func (m *Manager) Extend(ctx context.Context, id string, lifespan time.Duration) (*core.Session, error) {
	if lifespan <= 0 {
		return nil, core.Errorf(core.CodeInvalid, "A session needs a positive lifespan.")
	}
	now := m.clock()
	return m.modify(ctx, "extend session", id, func(s *core.Session) (bool, error) {
		if !s.Active {
			return false, &core.Error{Code: core.CodeConflict, Message: "A revoked session cannot be extended.", Cause: ErrRevoked}
		}
		exp := now.Add(lifespan)
		if !exp.After(s.ExpiresAt) {
			return false, nil
		}
		s.ExpiresAt = exp
		s.UpdatedAt = now
		return true, nil
	})
}

// AddMethod records that the holder of s completed method (a second factor,
// or a re-authentication): it appends the amr entry, recomputes the AAL and
// moves authenticated_at to the method's completion time (now when zero;
// method.AAL defaults to aal1). The session is re-read and written in one
// transaction, and *s is set to the stored result. It returns a *core.Error
// with CodeUnauthorized when the session is revoked or expired, CodeNotFound
// when it no longer exists, CodeInvalid for an empty method, or a wrapped
// store error.
func (m *Manager) AddMethod(ctx context.Context, s *core.Session, method core.AuthMethod) error {
	return m.addMethod(ctx, nil, s, method)
}

// AddMethodIn is AddMethod re-reading and writing the session through tx, a
// caller's transaction, so the step-up commits with the step that proved
// the method. It returns AddMethod's errors.
func (m *Manager) AddMethodIn(ctx context.Context, tx SessionModifier, s *core.Session, method core.AuthMethod) error {
	return m.addMethod(ctx, tx, s, method)
}

// stampMethod is method as a session records it: completed now unless
// it says when (in UTC), at aal1 unless it says otherwise.
func stampMethod(method core.AuthMethod, now time.Time) core.AuthMethod {
	if method.CompletedAt.IsZero() {
		method.CompletedAt = now
	}
	method.CompletedAt = method.CompletedAt.UTC()
	if method.AAL == "" {
		method.AAL = core.AAL1
	}
	return method
}

// addMethod is AddMethod in tx, or in a transaction of its own when tx is
// nil.
func (m *Manager) addMethod(ctx context.Context, tx SessionModifier, s *core.Session, method core.AuthMethod) error {
	if method.Method == "" {
		return core.Errorf(core.CodeInvalid, "An authentication method is required.")
	}
	now := m.clock()
	method = stampMethod(method, now)
	add := func(cur *core.Session) (bool, error) {
		if err := check(cur, now); err != nil {
			return false, err
		}
		cur.Methods = append(cur.Methods, method)
		cur.AAL = cur.ComputeAAL()
		cur.AuthenticatedAt = method.CompletedAt
		cur.UpdatedAt = now
		return true, nil
	}
	var out *core.Session
	var err error
	if tx != nil && check(s, now) == nil {
		// s as the caller read it: when the stored session is still that
		// one (active, not updated since), the step-up is one conditional
		// update instead of a read and a write. Otherwise it is read again
		// below, which also answers a revocation or expiry in between.
		// UpdateSessionMethodsIf stores aal, methods, authenticated_at and
		// updated_at only: the columns add changes. A column add comes to
		// change must be stored there too.
		cur := *s
		cur.Methods = slices.Clip(cur.Methods)
		if _, err := add(&cur); err != nil {
			return err
		}
		ok, err := tx.UpdateSessionMethodsIf(ctx, &cur, s.UpdatedAt)
		if err != nil {
			return m.modifyError("add session method", err)
		}
		if ok {
			*s = cur
			return nil
		}
	}
	if tx != nil {
		out, err = modifyTx(ctx, tx, s.ID, add)
		err = m.modifyError("add session method", err)
	} else {
		out, err = m.modify(ctx, "add session method", s.ID, add)
	}
	if err != nil {
		return err
	}
	*s = *out
	return nil
}

// Revoke deactivates session id; revoking a revoked session is a no-op. It
// returns a *core.Error with CodeNotFound for an unknown id or a wrapped
// store error.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	now := m.clock()
	_, err := m.modify(ctx, "revoke session", id, func(s *core.Session) (bool, error) {
		if !s.Active {
			return false, nil
		}
		s.Active = false
		s.UpdatedAt = now
		return true, nil
	})
	return err
}

// RevokeOthers deactivates every active session of the identity except
// exceptID (empty revokes all) and returns how many it revoked, or a
// wrapped store error.
func (m *Manager) RevokeOthers(ctx context.Context, identityID, exceptID string) (int, error) {
	n, err := m.st.RevokeSessions(ctx, identityID, exceptID)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	return n, nil
}

// LogoutToken returns the logout token ("ory_lo_…") of s: the same value on
// every call for as long as secrets.default keeps its first entry. After that
// secret rotates, it stores the new token's hash (so older logout URLs stop
// working) and sets s.LogoutTokenHash. It returns a wrapped store error, or
// a *core.Error with CodeNotFound when the session no longer exists.
func (m *Manager) LogoutToken(ctx context.Context, s *core.Session) (string, error) {
	tok := logoutToken(m.mac, s.ID)
	h := HashToken(tok)
	if bytes.Equal(h[:], s.LogoutTokenHash) {
		return tok, nil
	}
	out, err := m.modify(ctx, "logout token", s.ID, func(cur *core.Session) (bool, error) {
		if bytes.Equal(h[:], cur.LogoutTokenHash) {
			return false, nil
		}
		cur.LogoutTokenHash = h[:]
		return true, nil
	})
	if err != nil {
		return "", err
	}
	*s = *out
	return tok, nil
}

// RevokeByLogoutToken revokes the session the logout token belongs to and
// returns it as stored after the revocation. The caller compares its id
// with the session the request carries when Kratos demands it. It returns a
// *core.Error with CodeForbidden (cause ErrNoSession) for an empty or
// unknown token, or a wrapped store error.
func (m *Manager) RevokeByLogoutToken(ctx context.Context, token string) (*core.Session, error) {
	forbidden := &core.Error{Code: core.CodeForbidden, Message: "The logout token is invalid.", Cause: ErrNoSession}
	if token == "" || len(token) > maxTokenLen {
		return nil, forbidden
	}
	h := HashToken(token)
	s, err := m.st.GetSessionByLogoutTokenHash(ctx, h[:])
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, forbidden
		}
		return nil, fmt.Errorf("revoke by logout token: %w", err)
	}
	if err := m.Revoke(ctx, s.ID); err != nil {
		return nil, err
	}
	s.Active = false
	return s, nil
}

// Touch records that s was used from device, at most once per
// TouchInterval per session (the interval is measured from s.UpdatedAt, so
// it holds across replicas): it adds the device (matched by IP address and
// user agent) or moves it to the end of the list as the most recent, and
// sets updated_at. It reports whether it wrote; within the interval it
// returns false without touching the store. On a write *s is set to the
// stored result. It returns a wrapped store error, or a *core.Error with
// CodeNotFound when the session no longer exists.
func (m *Manager) Touch(ctx context.Context, s *core.Session, device core.Device) (bool, error) {
	now := m.clock()
	if now.Sub(s.UpdatedAt) < m.touchInterval {
		return false, nil
	}
	var newID string
	var err error
	if device.ID == "" {
		if newID, err = m.newID(); err != nil {
			return false, fmt.Errorf("touch session: %w", err)
		}
	}
	wrote := false
	out, err := m.modify(ctx, "touch session", s.ID, func(cur *core.Session) (bool, error) {
		if now.Sub(cur.UpdatedAt) < m.touchInterval {
			return false, nil // another replica touched it meanwhile
		}
		if device != (core.Device{}) {
			cur.Devices = upsertDevice(cur.Devices, device, newID)
		}
		cur.UpdatedAt = now
		wrote = true
		return true, nil
	})
	if err != nil {
		return false, err
	}
	*s = *out
	return wrote, nil
}

// upsertDevice moves the device matching d (same IP and user agent) to the
// end, updating its location, or appends d with id newID; the list is
// capped at maxDevices, dropping the oldest.
func upsertDevice(list []core.Device, d core.Device, newID string) []core.Device {
	for i, old := range list {
		if old.IPAddress == d.IPAddress && old.UserAgent == d.UserAgent {
			if d.Location != "" {
				old.Location = d.Location
			}
			list = append(list[:i], list[i+1:]...)
			return append(list, old)
		}
	}
	if d.ID == "" {
		d.ID = newID
	}
	list = append(list, d)
	if len(list) > maxDevices {
		list = list[len(list)-maxDevices:]
	}
	return list
}
