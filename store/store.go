package store

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/core"
)

// Errors every backend returns, wrapped or bare; test them with errors.Is.
var (
	// ErrNotFound means the record asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique constraint was violated (an identifier, an
	// external id, an address) or an optimistic-lock version did not match.
	ErrConflict = errors.New("store: conflict")
)

// Store is Latchkey's storage. All times it returns are UTC. Methods called on
// a Store run in their own transaction each; Update runs many in one.
type Store interface {
	Tx
	// Update runs fn in one transaction, passing a Tx bound to it. If fn
	// returns an error the transaction rolls back and Update returns that
	// error. fn must use only the Tx it is given, never the outer Store (on
	// SQLite that would deadlock), and may be retried on serialisation
	// failures, so it must have no side effects outside the store.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database handles.
	Close() error
}

// Tx is the set of operations available both on a Store and inside one
// transaction.
type Tx interface {
	Identities
	Sessions
	Flows
	Messages
	Keys
	Counters
	AuditLogs
	Webhooks
	WebAuthnCredentials
	TrustedDevices
}

// Identities stores identities with their addresses, credentials and the
// identifier index.
type Identities interface {
	// CreateIdentity inserts the identity with its addresses and credentials
	// and indexes every credential identifier. IDs of the identity, its
	// addresses and credentials must be set by the caller. It returns
	// ErrConflict when an identifier (per credential type), an address (per
	// via and value) or the external id is taken.
	CreateIdentity(ctx context.Context, i *core.Identity) error
	// GetIdentity returns the identity with its addresses and credentials, or
	// ErrNotFound.
	GetIdentity(ctx context.Context, id string) (*core.Identity, error)
	// GetIdentityByExternalID returns the identity whose external id is
	// externalID, or ErrNotFound.
	GetIdentityByExternalID(ctx context.Context, externalID string) (*core.Identity, error)
	// FindIdentityByIdentifier returns the identity owning a credential of
	// type t with the (already normalised) identifier, or ErrNotFound. It is
	// one indexed lookup.
	FindIdentityByIdentifier(ctx context.Context, t core.CredentialType, identifier string) (*core.Identity, error)
	// FindIdentityByAddress returns the identity owning the address (via,
	// value), or ErrNotFound.
	FindIdentityByAddress(ctx context.Context, via core.AddressVia, value string) (*core.Identity, error)
	// UpdateIdentity replaces the stored identity, its addresses, credentials
	// and identifiers with i. It returns ErrNotFound when the identity does
	// not exist and ErrConflict on a unique violation (nothing is written).
	UpdateIdentity(ctx context.Context, i *core.Identity) error
	// DeleteIdentity removes the identity with its addresses, credentials,
	// identifiers, WebAuthn credentials and sessions, or returns
	// ErrNotFound. (UpdateIdentity leaves WebAuthn credentials alone: they
	// are not part of core.Identity.)
	DeleteIdentity(ctx context.Context, id string) error
	// ListIdentities returns identities in ascending id order as q says.
	ListIdentities(ctx context.Context, q IdentityQuery) ([]core.Identity, error)
	// CountIdentities returns how many identities match q's filters (its
	// paging fields are ignored).
	CountIdentities(ctx context.Context, q IdentityQuery) (int, error)
}

// IdentityQuery selects identities. Zero fields do not filter.
type IdentityQuery struct {
	IDs                  []string            // only these ids
	CredentialIdentifier string              // exact (normalised) identifier of any credential type
	IdentifierPrefix     string              // identifiers starting with this (Kratos' "similar" preview)
	CredentialType       core.CredentialType // restricts both identifier filters to one type
	OrganizationID       string
	AfterID              string // keyset: ids strictly greater than this
	Offset               int    // legacy page pagination; used only when AfterID is empty
	Limit                int    // 0 means no limit
	WithCredentials      bool   // load credentials; addresses are always loaded
}

// Sessions stores sessions.
type Sessions interface {
	// CreateSession inserts s. ErrConflict when the token hash exists.
	CreateSession(ctx context.Context, s *core.Session) error
	// GetSession returns the session, or ErrNotFound.
	GetSession(ctx context.Context, id string) (*core.Session, error)
	// GetSessionByTokenHash returns the session whose token hash is h, or
	// ErrNotFound. One indexed lookup: this is the hottest query.
	GetSessionByTokenHash(ctx context.Context, h []byte) (*core.Session, error)
	// GetSessionWithIdentityByTokenHash returns the session whose token hash
	// is h together with its identity and the identity's addresses (not its
	// credentials), or ErrNotFound. It is one statement: the session check of
	// both faces.
	GetSessionWithIdentityByTokenHash(ctx context.Context, h []byte) (*core.Session, *core.Identity, error)
	// GetSessionWithCredentialsByTokenHash is
	// GetSessionWithIdentityByTokenHash that also loads the identity's
	// credentials, in the same statement: a self-service flow's session and
	// identity, as GetIdentity loads it.
	GetSessionWithCredentialsByTokenHash(ctx context.Context, h []byte) (*core.Session, *core.Identity, error)
	// GetSessionWithIdentity is GetSessionWithIdentityByTokenHash for the
	// session with the id (a session JWT's session_id); withCredentials also
	// loads the identity's credentials, in the same statement.
	GetSessionWithIdentity(ctx context.Context, id string, withCredentials bool) (*core.Session, *core.Identity, error)
	// GetSessionProfile is GetSessionWithIdentity with credentials that
	// also returns the identity's WebAuthn credentials as
	// ListWebAuthnCredentials lists them (an empty list when there are
	// none), all in one statement: the load of Hanko's /me.
	GetSessionProfile(ctx context.Context, id string) (*core.Session, *core.Identity, []core.WebAuthnCredential, error)
	// GetSessionByLogoutTokenHash returns the session whose logout token hash
	// is h, or ErrNotFound.
	GetSessionByLogoutTokenHash(ctx context.Context, h []byte) (*core.Session, error)
	// UpdateSession stores every field of s, or returns ErrNotFound.
	UpdateSession(ctx context.Context, s *core.Session) error
	// UpdateSessionMethodsIf stores s's AAL, methods, AuthenticatedAt and
	// UpdatedAt (a step-up), leaving its other columns as they are, on the
	// condition that the stored session is active and was last updated at
	// seen: s as its caller read it is still current. It reports whether it
	// stored them; a session gone, revoked or changed since is false, nil.
	// One statement besides the session change it logs.
	UpdateSessionMethodsIf(ctx context.Context, s *core.Session, seen time.Time) (bool, error)
	// ListSessions returns sessions as q says, newest first (created_at
	// descending, then id descending).
	ListSessions(ctx context.Context, q SessionQuery) ([]core.Session, error)
	// CountSessions returns how many sessions match q's filters.
	CountSessions(ctx context.Context, q SessionQuery) (int, error)
	// RevokeSessions sets active=false on every active session of the
	// identity except exceptID (may be empty) and returns how many changed.
	RevokeSessions(ctx context.Context, identityID, exceptID string) (int, error)
	// DeleteSession removes the session, or returns ErrNotFound.
	DeleteSession(ctx context.Context, id string) error
	// DeleteIdentitySessions removes all sessions of the identity and returns
	// how many there were.
	DeleteIdentitySessions(ctx context.Context, identityID string) (int, error)
}

// SessionQuery selects sessions. Zero fields do not filter.
type SessionQuery struct {
	IdentityID string
	ExceptID   string
	Active     *bool     // true: active and unexpired at Now; false: the others
	Now        time.Time // reference time for Active
	// Keyset cursor: sessions strictly after (BeforeCreatedAt, BeforeID) in
	// the descending order. Both zero means from the start.
	BeforeCreatedAt time.Time
	BeforeID        string
	Offset          int // offset pagination; used only without a cursor
	Limit           int // 0 means no limit
}

// Flows stores flow records with optimistic locking.
type Flows interface {
	// CreateFlow inserts f with Version 1 (set on f).
	CreateFlow(ctx context.Context, f *core.Flow) error
	// GetFlow returns the flow, or ErrNotFound.
	GetFlow(ctx context.Context, id string) (*core.Flow, error)
	// UpdateFlow stores f if the stored version equals f.Version, then sets
	// f.Version to the next version. It returns ErrConflict when the version
	// does not match and ErrNotFound when the flow does not exist.
	UpdateFlow(ctx context.Context, f *core.Flow) error
	// DeleteFlow removes the flow, or returns ErrNotFound.
	DeleteFlow(ctx context.Context, id string) error
	// DeleteExpiredFlows removes flows that expired before t and returns how
	// many.
	DeleteExpiredFlows(ctx context.Context, t time.Time) (int, error)
}

// Messages stores the courier queue.
type Messages interface {
	// CreateMessage inserts m (status queued unless set) without dispatches.
	CreateMessage(ctx context.Context, m *core.Message) error
	// GetMessage returns the message with its dispatches (oldest first), or
	// ErrNotFound.
	GetMessage(ctx context.Context, id string) (*core.Message, error)
	// ListMessages returns messages as q says, newest first (created_at
	// descending, then id descending), without dispatches.
	ListMessages(ctx context.Context, q MessageQuery) ([]core.Message, error)
	// ClaimMessages atomically moves up to limit messages that are queued
	// with NextAttempt <= now, or processing with UpdatedAt <= now-lease
	// (a worker died holding them), to processing and returns them. Two
	// concurrent callers never receive the same message.
	ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]core.Message, error)
	// UpdateMessage stores m's status, send count, next attempt and
	// updated_at, or returns ErrNotFound.
	UpdateMessage(ctx context.Context, m *core.Message) error
	// AddDispatch records a delivery attempt of a message.
	AddDispatch(ctx context.Context, d *core.Dispatch) error
}

// MessageQuery selects messages. Zero fields do not filter.
type MessageQuery struct {
	Status    core.MessageStatus
	Recipient string
	// Keyset cursor, as in SessionQuery.
	BeforeCreatedAt time.Time
	BeforeID        string
	Limit           int
}

// Keys stores JWT signing keys.
type Keys interface {
	// CreateKey inserts k. ErrConflict when the id exists.
	CreateKey(ctx context.Context, k *core.SigningKey) error
	// ListKeys returns all keys, newest first.
	ListKeys(ctx context.Context) ([]core.SigningKey, error)
	// DeleteKey removes the key, or returns ErrNotFound.
	DeleteKey(ctx context.Context, id string) error
}

// CounterWindow names a counter and the length of its windows, for the
// counters' batch operations.
type CounterWindow struct {
	Key    string
	Window time.Duration
}

// CounterWindowOf returns the start and end of the counter window of
// length w that holds now: windows start at multiples of w since the Unix
// epoch, on every backend.
func CounterWindowOf(now time.Time, w time.Duration) (start, end time.Time) {
	ns := now.UnixNano()
	off := ns % int64(w)
	if off < 0 {
		off += int64(w)
	}
	start = time.Unix(0, ns-off).UTC()
	return start, start.Add(w)
}

// Counters stores fixed-window rate-limit counters shared by replicas.
type Counters interface {
	// Hit atomically adds one to the counter key in the window of length
	// window that contains now (windows start at multiples of window since
	// the Unix epoch) and returns the new count and when the window ends.
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (count int64, resetAt time.Time, err error)
	// CountHits returns the count of key in the window of length window
	// that contains now (zero when nothing was counted there) and when that
	// window ends, without changing it.
	CountHits(ctx context.Context, key string, window time.Duration, now time.Time) (count int64, resetAt time.Time, err error)
	// Unhit takes one back from the counter key in the window of length
	// window that contains now, never below zero; a window with nothing
	// counted stays as it is.
	Unhit(ctx context.Context, key string, window time.Duration, now time.Time) error
	// ResetCounter takes every window of key back to zero hits (it may
	// keep their rows, at zero, until DeleteExpiredCounters removes them).
	ResetCounter(ctx context.Context, key string) error
	// HitAll is Hit of several counters at once: each of hits, in the
	// window of its length that contains now. It is one statement on
	// SQLite and PostgreSQL (an upsert and a read under its row locks on
	// MySQL) and returns the new counts in the order of hits. The counters
	// must be distinct; none is counted when it fails.
	HitAll(ctx context.Context, hits []CounterWindow, now time.Time) ([]int64, error)
	// UnhitAll is Unhit of several counters in one statement.
	UnhitAll(ctx context.Context, hits []CounterWindow, now time.Time) error
	// HitAllSeeing is HitAll that also returns what RecentHits of seen
	// (a counter not among hits) returns, read in HitAll's statement on
	// SQLite and PostgreSQL (before it, in the same transaction, on
	// MySQL). hits must not be empty.
	HitAllSeeing(ctx context.Context, hits []CounterWindow, seen CounterWindow, now time.Time) (counts []int64, current, previous int64, err error)
	// RecentHits returns the count of key in the window of length window
	// that contains now and in the window just before it, in one read.
	RecentHits(ctx context.Context, key string, window time.Duration, now time.Time) (current, previous int64, err error)
	// DeleteExpiredCounters removes windows that ended before t and returns
	// how many.
	DeleteExpiredCounters(ctx context.Context, t time.Time) (int, error)
}
