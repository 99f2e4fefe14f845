package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// ErrTxAborted is in the chain of every error a TxService method returns
// after a database statement failed inside the caller's transaction (a
// unique violation only the insert could see because a concurrent
// transaction committed the same identifier meanwhile, a broken
// connection, a cancelled context). The transaction may then hold partial
// writes and, on PostgreSQL, refuses further statements: the caller must
// roll it back (return the error from its store.Update function). Errors
// without it (CodeInvalid, CodeNotFound, and CodeConflict found by the
// look-ups that run before anything is written) leave the transaction as it
// was, so the caller may go on and record the failure.
var ErrTxAborted = errors.New("identity: a statement failed, the transaction must be rolled back")

// Prepared is a draft that Prepare validated and whose cleartext password it
// hashed, ready to be stored inside a transaction by TxService.CreatePrepared
// (or to replace an identity by TxService.UpdatePrepared). It holds no
// cleartext password. A Prepared may be stored again after the transaction
// that stored it rolled back (a retried transaction); the identity id and
// timestamps are fixed when Prepare runs.
type Prepared struct {
	ident *core.Identity // the identity Create would insert
	draft Draft          // d with the cleartext password replaced by hash
	hash  string         // the password hash (or the imported hash), "" without one
}

// ID returns the id the prepared identity is created under.
func (p *Prepared) ID() string {
	if p == nil || p.ident == nil {
		return ""
	}
	return p.ident.ID
}

// Identity returns a copy of the identity Create would insert, for a
// caller that inserts it itself (store.Tx.CreateIdentity) in a transaction
// it owns after adding what a Draft cannot say: Hanko's admin create adds
// e-mail addresses the traits do not name and may set the id and creation
// time, all in one transaction with its audit log and web-hook event.
func (p *Prepared) Identity() *core.Identity {
	if p == nil || p.ident == nil {
		return nil
	}
	return p.ident.Clone()
}

// Prepare does the work of Create that needs no database, outside any
// transaction: it hashes a cleartext password (the slow part, which must not
// hold a transaction, least of all SQLite's single writer), checks an
// imported hash's format, validates the traits, state, metadata and
// organization id, and derives identifiers and addresses. Errors:
// CodeInvalid (bad traits, unknown schema, bad state, metadata or hash
// format), CodeInternal (hashing failed) and CodeUnavailable (ctx ended
// while hashing).
func (s *Service) Prepare(ctx context.Context, d Draft) (*Prepared, error) {
	hash, err := s.hashDraft(ctx, d)
	if err != nil {
		return nil, err
	}
	i, err := s.build(nil, d, hash)
	if err != nil {
		return nil, err
	}
	if d.Credentials != nil && d.Credentials.Password != nil {
		cd := *d.Credentials
		pd := *cd.Password
		pd.Password, pd.HashedPassword = "", hash
		cd.Password = &pd
		d.Credentials = &cd
	}
	return &Prepared{ident: i, draft: d, hash: hash}, nil
}

// TxService runs the identity service's operations inside a transaction the
// caller owns (a flow step's, for example), with the same validation,
// extraction and hashing rules as Service. Its writes look up every
// identifier, address and external id they would take before writing, so a
// value another identity holds is reported as CodeConflict with the
// transaction untouched; see ErrTxAborted for the errors after which the
// transaction must be rolled back. A TxService is valid only while its
// transaction is open and, like the transaction, is not safe for
// concurrent use.
type TxService struct {
	s  *Service
	tx store.Tx
}

// WithTx returns the service bound to tx, a transaction the caller opened
// (inside store.Update). It uses the Service's schemas, hasher, id
// generator and clock.
func (s *Service) WithTx(tx store.Tx) *TxService { return &TxService{s: s, tx: tx} }

// errNoTx is returned by the methods of a TxService without a transaction.
var errNoTx = &core.Error{Code: core.CodeInternal, Message: "The identity store failed.",
	Cause: errors.New("identity: TxService used without a transaction")}

// Create validates d, hashes a cleartext password and stores the new
// identity in the transaction. Hashing here holds the transaction: callers
// with a cleartext password should call Service.Prepare before opening it
// and CreatePrepared inside. Errors: as Prepare and CreatePrepared.
func (t *TxService) Create(ctx context.Context, d Draft) (*core.Identity, error) {
	if t.tx == nil {
		return nil, errNoTx
	}
	p, err := t.s.Prepare(ctx, d)
	if err != nil {
		return nil, err
	}
	return t.CreatePrepared(ctx, p)
}

// CreatePrepared stores the identity p describes in the transaction and
// returns it (a copy: p stays reusable if the transaction is retried).
// Errors: CodeConflict when an identifier (per credential type), an address
// or the external id belongs to another identity, CodeInternal when p is
// nil or the store fails, CodeUnavailable when ctx ended; errors after a
// failed statement match ErrTxAborted.
func (t *TxService) CreatePrepared(ctx context.Context, p *Prepared) (*core.Identity, error) {
	if t.tx == nil {
		return nil, errNoTx
	}
	if p == nil || p.ident == nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "The identity store failed.",
			Cause: errors.New("identity: CreatePrepared without a Prepared from Service.Prepare")}
	}
	i := p.ident.Clone()
	if err := checkFree(ctx, t.tx, nil, i); err != nil {
		return nil, err
	}
	if err := t.tx.CreateIdentity(ctx, i); err != nil {
		return nil, txStoreError("create identity", err, "")
	}
	if err := writeWebAuthn(ctx, t.tx, i.ID, webauthnDrafts(p.draft), i.CreatedAt); err != nil {
		return nil, err
	}
	return i, nil
}

// Get returns the identity with its addresses and credentials as the
// transaction sees it. Errors: CodeNotFound when id is unknown or not a
// UUID, CodeInternal otherwise (matching ErrTxAborted).
func (t *TxService) Get(ctx context.Context, id string) (*core.Identity, error) {
	if t.tx == nil {
		return nil, errNoTx
	}
	cid, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	i, err := t.tx.GetIdentity(ctx, cid)
	if err != nil {
		return nil, txStoreError("get identity", err, cid)
	}
	return i, nil
}

// Update replaces the identity with d in the transaction, with Service.Update's
// PUT semantics. A cleartext password in d is hashed here, holding the
// transaction: prefer Service.Prepare outside and UpdatePrepared inside.
// Errors: CodeNotFound, CodeInvalid, CodeConflict (an identifier, address or
// external id the identity did not have belongs to another identity),
// CodeInternal; errors after a failed statement match ErrTxAborted.
func (t *TxService) Update(ctx context.Context, id string, d Draft) (*core.Identity, error) {
	if t.tx == nil {
		return nil, errNoTx
	}
	cid, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	hash, err := t.s.hashDraft(ctx, d)
	if err != nil {
		return nil, err
	}
	return t.update(ctx, cid, d, hash)
}

// UpdatePrepared replaces the identity with the draft p was prepared from,
// as Update does, using the hash Prepare made. Errors: as Update.
func (t *TxService) UpdatePrepared(ctx context.Context, id string, p *Prepared) (*core.Identity, error) {
	if t.tx == nil {
		return nil, errNoTx
	}
	if p == nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "The identity store failed.",
			Cause: errors.New("identity: UpdatePrepared without a Prepared from Service.Prepare")}
	}
	cid, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	return t.update(ctx, cid, p.draft, p.hash)
}

// update replaces the identity cid with d (hash is d's password hash).
func (t *TxService) update(ctx context.Context, cid string, d Draft, hash string) (*core.Identity, error) {
	old, err := t.tx.GetIdentity(ctx, cid)
	if err != nil {
		return nil, txStoreError("update identity", err, cid)
	}
	if d.OrganizationID == "" {
		d.OrganizationID = old.OrganizationID
	}
	i, err := t.s.build(old, d, hash)
	if err != nil {
		return nil, err
	}
	if err := checkFree(ctx, t.tx, old, i); err != nil {
		return nil, err
	}
	if err := t.tx.UpdateIdentity(ctx, i); err != nil {
		return nil, txStoreError("update identity", err, cid)
	}
	if err := writeWebAuthn(ctx, t.tx, i.ID, webauthnDrafts(d), i.UpdatedAt); err != nil {
		return nil, err
	}
	if err := endSessionsIfDisabled(ctx, t.tx, old, i); err != nil {
		return nil, txStoreError("update identity", err, cid)
	}
	return i, nil
}

// Patch applies a JSON Patch to the identity in the transaction, with
// Service.Patch's rules. Errors: as Service.Patch; errors after a failed
// statement match ErrTxAborted.
func (t *TxService) Patch(ctx context.Context, id string, patchJSON []byte) (*core.Identity, error) {
	if t.tx == nil {
		return nil, errNoTx
	}
	cid, p, err := decodePatch(id, patchJSON)
	if err != nil {
		return nil, err
	}
	return t.patch(ctx, cid, p)
}

// patch applies p to the identity cid.
func (t *TxService) patch(ctx context.Context, cid string, p jsonpatch.Patch) (*core.Identity, error) {
	old, err := t.tx.GetIdentity(ctx, cid)
	if err != nil {
		return nil, txStoreError("patch identity", err, cid)
	}
	d, keepOrg, err := patchedDraft(old, p)
	if err != nil {
		return nil, err
	}
	i, err := t.s.build(old, d, "")
	if err != nil {
		return nil, err
	}
	if !keepOrg {
		i.OrganizationID = ""
	}
	if err := checkFree(ctx, t.tx, old, i); err != nil {
		return nil, err
	}
	if err := t.tx.UpdateIdentity(ctx, i); err != nil {
		return nil, txStoreError("patch identity", err, cid)
	}
	if err := endSessionsIfDisabled(ctx, t.tx, old, i); err != nil {
		return nil, txStoreError("patch identity", err, cid)
	}
	return i, nil
}

// endSessionsIfDisabled revokes every session of an identity whose state
// just became inactive, in the same transaction: a disabled account then
// holds no usable session on either face, whichever check a face makes
// (Kratos' whoami reads the identity; Hanko's /sessions/validate reads only
// the session row, its hot path).
func endSessionsIfDisabled(ctx context.Context, tx store.Tx, old, i *core.Identity) error {
	if old.State == core.IdentityInactive || i.State != core.IdentityInactive {
		return nil
	}
	if _, err := tx.RevokeSessions(ctx, i.ID, ""); err != nil {
		return fmt.Errorf("end the sessions of the disabled identity: %w", err)
	}
	return nil
}

// Delete removes the identity with its addresses, credentials and sessions
// in the transaction. Errors: CodeNotFound, CodeInternal (matching
// ErrTxAborted).
func (t *TxService) Delete(ctx context.Context, id string) error {
	if t.tx == nil {
		return errNoTx
	}
	cid, err := canonicalID(id)
	if err != nil {
		return err
	}
	if err := t.tx.DeleteIdentity(ctx, cid); err != nil {
		return txStoreError("delete identity", err, cid)
	}
	return nil
}

// DeleteCredential removes a credential of the identity in the transaction,
// with Service.DeleteCredential's rules. Errors: as
// Service.DeleteCredential; errors after a failed statement match
// ErrTxAborted.
func (t *TxService) DeleteCredential(ctx context.Context, id string, ct core.CredentialType, identifier string) error {
	if t.tx == nil {
		return errNoTx
	}
	cid, err := checkDeleteCredential(id, ct, identifier)
	if err != nil {
		return err
	}
	return t.deleteCredential(ctx, cid, ct, identifier)
}

// txStoreError maps an error of a store call inside the caller's
// transaction: not found as storeError does (no statement failed), anything
// else with ErrTxAborted in the chain.
func txStoreError(op string, err error, id string) error {
	var ce *core.Error
	if errors.As(err, &ce) || errors.Is(err, store.ErrNotFound) {
		return storeError(op, err, id)
	}
	return storeError(op, fmt.Errorf("%w: %w", ErrTxAborted, err), id)
}

// checkFree looks up, in tx and before anything is written, every
// identifier, address and the external id i would take and returns
// CodeConflict when another identity holds one. Values old (the stored
// identity on update, nil on create) already had are i's own and are not
// looked up. A failed look-up is returned matching ErrTxAborted.
func checkFree(ctx context.Context, tx store.Identities, old, i *core.Identity) error {
	free := func(what string, owner *core.Identity, err error) error {
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return txStoreError("check "+what, err, i.ID)
		case owner.ID != i.ID:
			return storeError("check "+what, fmt.Errorf("the %s belongs to another identity: %w", what, store.ErrConflict), i.ID)
		}
		return nil
	}
	types := make([]core.CredentialType, 0, len(i.Credentials))
	for ct := range i.Credentials {
		types = append(types, ct)
	}
	slices.Sort(types)
	for _, ct := range types {
		var had []string
		if old != nil {
			had = old.Credentials[ct].Identifiers
		}
		for _, id := range i.Credentials[ct].Identifiers {
			if slices.Contains(had, id) {
				continue
			}
			owner, err := tx.FindIdentityByIdentifier(ctx, ct, id)
			if err := free(string(ct)+" identifier", owner, err); err != nil {
				return err
			}
		}
	}
	for _, a := range i.Addresses {
		if old != nil && slices.ContainsFunc(old.Addresses, func(o core.Address) bool { return o.Via == a.Via && o.Value == a.Value }) {
			continue
		}
		owner, err := tx.FindIdentityByAddress(ctx, a.Via, a.Value)
		if err := free(string(a.Via)+" address", owner, err); err != nil {
			return err
		}
	}
	if i.ExternalID != "" && (old == nil || old.ExternalID != i.ExternalID) {
		owner, err := tx.GetIdentityByExternalID(ctx, i.ExternalID)
		if err := free("external id", owner, err); err != nil {
			return err
		}
	}
	return nil
}

// PutSecondFactor stores a totp or lookup_secret credential of the identity
// in the transaction, replacing one of the same type. config is the
// method's sealed config (method/totp, method/lookup); the credential's
// identifier is the identity id, as Kratos indexes these types. Errors:
// CodeInvalid for another credential type, CodeNotFound, CodeInternal
// (matching ErrTxAborted after a failed statement).
func (t *TxService) PutSecondFactor(ctx context.Context, id string, ct core.CredentialType, config json.RawMessage) (*core.Identity, error) {
	if t.tx == nil {
		return nil, errNoTx
	}
	if ct != core.CredentialTOTP && ct != core.CredentialLookupSecret {
		return nil, core.Errorf(core.CodeInvalid, "%s is not a second factor stored by PutSecondFactor.", ct)
	}
	i, err := t.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := t.s.clock()
	c, ok := i.Credential(ct)
	if !ok {
		c = core.Credential{ID: t.s.newID(), Type: ct, CreatedAt: now}
	}
	c.Identifiers = []string{i.ID}
	c.Config = config
	c.UpdatedAt = now
	i.SetCredential(c)
	i.UpdatedAt = now
	if err := t.tx.UpdateIdentity(ctx, i); err != nil {
		return nil, txStoreError("store second factor", err, i.ID)
	}
	return i, nil
}

// LinkOIDC adds the link op (provider and subject, tokens as the oidc
// method sealed them) to the identity's oidc credential in the
// transaction, replacing an earlier link to the same provider and subject.
// Errors: CodeNotFound (unknown identity), CodeConflict (another identity
// holds the link; nothing is written), CodeInvalid (no provider or
// subject); errors after a failed statement match ErrTxAborted.
func (t *TxService) LinkOIDC(ctx context.Context, id string, op OIDCProvider) (*core.Identity, error) {
	if t.tx == nil {
		return nil, errNoTx
	}
	if strings.TrimSpace(op.Provider) == "" || strings.TrimSpace(op.Subject) == "" {
		return nil, &core.Error{Code: core.CodeInvalid, Message: "An oidc link needs both provider and subject."}
	}
	cid, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	old, err := t.tx.GetIdentity(ctx, cid)
	if err != nil {
		return nil, txStoreError("link oidc", err, cid)
	}
	i := old.Clone()
	var cfg OIDCConfig
	c, ok := i.Credential(core.CredentialOIDC)
	if ok && len(c.Config) > 0 {
		if err := json.Unmarshal(c.Config, &cfg); err != nil {
			return nil, &core.Error{Code: core.CodeInternal, Message: "The stored credential is corrupt.", Cause: fmt.Errorf("decode oidc config: %w", err)}
		}
	}
	kept := make([]OIDCProvider, 0, len(cfg.Providers)+1)
	for _, p := range cfg.Providers {
		if p.Provider != op.Provider || p.Subject != op.Subject {
			kept = append(kept, p)
		}
	}
	now := t.s.clock()
	if err := t.s.applyCredentials(i, &CredentialsDraft{OIDC: append(kept, op)}, "", now); err != nil {
		return nil, err
	}
	i.UpdatedAt = now
	if err := checkFree(ctx, t.tx, old, i); err != nil {
		return nil, err
	}
	if err := t.tx.UpdateIdentity(ctx, i); err != nil {
		return nil, txStoreError("link oidc", err, cid)
	}
	return i, nil
}
