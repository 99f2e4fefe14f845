package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
)

// Hasher hashes cleartext passwords (method/password.Hasher satisfies it).
type Hasher interface {
	// Hash returns the encoded hash of password, or an error when hashing
	// fails or ctx ends first.
	Hash(ctx context.Context, password []byte) (string, error)
}

// Options are the dependencies of a Service.
type Options struct {
	Store   store.Store
	Schemas *schema.Registry
	Hasher  Hasher
	// DefaultSchemaID is used when a draft names no schema ("default" when
	// empty).
	DefaultSchemaID string
	// NewID returns a new canonical UUID string (uuid.NewString when nil).
	NewID func() string
	// Now returns the current time (time.Now when nil).
	Now func() time.Time
	// HashFormat checks that an imported hash is in a supported format
	// without verifying anything (password.Scheme when nil).
	HashFormat func(encoded string) error
	// Concurrency bounds parallel password hashing in BatchCreate
	// (GOMAXPROCS when 0).
	Concurrency int
}

// Service manages identities. It is safe for concurrent use.
type Service struct {
	store      store.Store
	schemas    *schema.Registry
	hasher     Hasher
	defaultID  string
	newID      func() string
	now        func() time.Time
	hashFormat func(string) error
	workers    int
}

// New returns a Service over o. It fails when Store, Schemas or Hasher is
// missing.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Schemas == nil || o.Hasher == nil {
		return nil, errors.New("identity: Store, Schemas and Hasher are required")
	}
	s := &Service{store: o.Store, schemas: o.Schemas, hasher: o.Hasher, defaultID: o.DefaultSchemaID,
		newID: o.NewID, now: o.Now, hashFormat: o.HashFormat, workers: o.Concurrency}
	if s.defaultID == "" {
		s.defaultID = schema.DefaultID
	}
	if s.newID == nil {
		s.newID = uuid.NewString
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hashFormat == nil {
		s.hashFormat = func(encoded string) error { _, err := password.Scheme(encoded); return err }
	}
	if s.workers <= 0 {
		s.workers = runtime.GOMAXPROCS(0)
	}
	return s, nil
}

// Schemas returns the schema registry the service validates against.
func (s *Service) Schemas() *schema.Registry { return s.schemas }

// DefaultSchemaID returns the schema id used when a draft names none.
func (s *Service) DefaultSchemaID() string { return s.defaultID }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Create validates d, hashes a cleartext password and stores the new
// identity. Errors: CodeInvalid (bad traits, unknown schema, bad state,
// metadata or hash format), CodeConflict (identifier, address or external id
// taken), CodeInternal otherwise.
func (s *Service) Create(ctx context.Context, d Draft) (*core.Identity, error) {
	p, err := s.Prepare(ctx, d)
	if err != nil {
		return nil, err
	}
	if len(webauthnDrafts(d)) > 0 {
		err := s.store.Update(ctx, func(tx store.Tx) error {
			if err := tx.CreateIdentity(ctx, p.ident); err != nil {
				return storeError("create identity", err, "")
			}
			return writeWebAuthn(ctx, tx, p.ident.ID, webauthnDrafts(d), p.ident.CreatedAt)
		})
		if err != nil {
			return nil, s.idTaken(ctx, d, asCoreError("create identity", err))
		}
		return p.ident, nil
	}
	if err := s.store.CreateIdentity(ctx, p.ident); err != nil {
		return nil, s.idTaken(ctx, d, storeError("create identity", err, ""))
	}
	return p.ident, nil
}

// idTaken refines a conflict on creating the draft d: when d asked for its
// own id and an identity already has it, the 409 names the id (Kratos'
// generic "conflicts with another identity" would leave an importer
// guessing which field clashed). Other errors come back unchanged.
func (s *Service) idTaken(ctx context.Context, d Draft, err error) error {
	var ce *core.Error
	if d.ID == "" || !errors.As(err, &ce) || ce.Code != core.CodeConflict {
		return err
	}
	cid, ok := core.ParseID(d.ID)
	if !ok {
		return err
	}
	if _, gerr := s.store.GetIdentity(ctx, cid); gerr != nil {
		return err
	}
	return &core.Error{Code: core.CodeConflict, Field: "id",
		Message: fmt.Sprintf("An identity with the id %q already exists.", cid), Cause: ce.Cause}
}

// Get returns the identity with its addresses and credentials. Errors:
// CodeNotFound when id is unknown or not a UUID, CodeInternal otherwise.
func (s *Service) Get(ctx context.Context, id string) (*core.Identity, error) {
	cid, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	i, err := s.store.GetIdentity(ctx, cid)
	if err != nil {
		return nil, storeError("get identity", err, cid)
	}
	return i, nil
}

// GetByExternalID returns the identity whose external id is ext. Errors:
// CodeNotFound, CodeInternal.
func (s *Service) GetByExternalID(ctx context.Context, ext string) (*core.Identity, error) {
	if ext == "" {
		return nil, core.Errorf(core.CodeNotFound, "No identity has an empty external id.")
	}
	if !storableText(ext) {
		return nil, core.Errorf(core.CodeNotFound, "No identity has the external id %q.", ext)
	}
	i, err := s.store.GetIdentityByExternalID(ctx, ext)
	if errors.Is(err, store.ErrNotFound) {
		return nil, core.Errorf(core.CodeNotFound, "No identity has the external id %q.", ext)
	}
	if err != nil {
		return nil, storeError("get identity by external id", err, "")
	}
	return i, nil
}

// List returns the identities q selects, in ascending id order. Identifier
// filters are normalised like identifiers in traits. Errors: CodeInvalid (a
// filter with a NUL character or invalid UTF-8), CodeInternal.
func (s *Service) List(ctx context.Context, q store.IdentityQuery) ([]core.Identity, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	q = normalizeQuery(q)
	out, err := s.store.ListIdentities(ctx, q)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInternal, Message: "Listing identities failed.", Cause: fmt.Errorf("list identities: %w", err)}
	}
	return out, nil
}

// Count returns how many identities q's filters select. Errors:
// CodeInvalid (as List), CodeInternal.
func (s *Service) Count(ctx context.Context, q store.IdentityQuery) (int, error) {
	if err := checkQuery(q); err != nil {
		return 0, err
	}
	n, err := s.store.CountIdentities(ctx, normalizeQuery(q))
	if err != nil {
		return 0, &core.Error{Code: core.CodeInternal, Message: "Counting identities failed.", Cause: fmt.Errorf("count identities: %w", err)}
	}
	return n, nil
}

// storableText reports whether v can be compared with stored text on every
// backend: PostgreSQL refuses a NUL character and invalid UTF-8 outright
// (an error, not "no row"), and no stored identifier contains them.
func storableText(v string) bool {
	return utf8.ValidString(v) && !strings.ContainsRune(v, 0)
}

// checkQuery refuses text filters that no stored value can match and some
// databases cannot compare.
func checkQuery(q store.IdentityQuery) error {
	for field, v := range map[string]string{"credentials_identifier": q.CredentialIdentifier,
		"preview_credentials_identifier_similar": q.IdentifierPrefix, "organization_id": q.OrganizationID,
		"page_token": q.AfterID} {
		if !storableText(v) {
			return &core.Error{Code: core.CodeInvalid, Field: field,
				Message: fmt.Sprintf("The filter %s contains a NUL character or invalid UTF-8.", field)}
		}
	}
	for _, id := range q.IDs {
		if !storableText(id) {
			return &core.Error{Code: core.CodeInvalid, Field: "ids", Message: "An id contains a NUL character or invalid UTF-8."}
		}
	}
	return nil
}

func normalizeQuery(q store.IdentityQuery) store.IdentityQuery {
	if q.CredentialIdentifier != "" {
		q.CredentialIdentifier = normalizeIdentifier(q.CredentialIdentifier)
	}
	if q.IdentifierPrefix != "" {
		q.IdentifierPrefix = normalizeIdentifier(q.IdentifierPrefix)
	}
	return q
}

// normalizeIdentifier normalises a lookup value the way identifiers are
// normalised when stored: addresses as e-mail, other identifiers by
// schema.NormalizeIdentifier.
func normalizeIdentifier(v string) string {
	if strings.Contains(v, "@") {
		return schema.Normalize(core.ViaEmail, v)
	}
	return schema.NormalizeIdentifier(v)
}

// Update replaces the identity with d (Kratos' PUT semantics): schema id and
// traits are replaced and re-validated, metadata and external id are set to
// d's values (nil clears them), an empty State keeps the state, nil
// Credentials keep the credentials, and verification state of addresses that
// remain is kept. Errors: CodeNotFound, CodeInvalid, CodeConflict,
// CodeInternal.
func (s *Service) Update(ctx context.Context, id string, d Draft) (*core.Identity, error) {
	cid, err := canonicalID(id)
	if err != nil {
		return nil, err
	}
	hash, err := s.hashDraft(ctx, d)
	if err != nil {
		return nil, err
	}
	var out *core.Identity
	err = s.store.Update(ctx, func(tx store.Tx) error {
		i, err := s.WithTx(tx).update(ctx, cid, d, hash)
		out = i
		return err
	})
	if err != nil {
		return nil, asCoreError("update identity", err)
	}
	return out, nil
}

// Delete removes the identity with its addresses, credentials and sessions.
// Errors: CodeNotFound, CodeInternal.
func (s *Service) Delete(ctx context.Context, id string) error {
	cid, err := canonicalID(id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteIdentity(ctx, cid); err != nil {
		return storeError("delete identity", err, cid)
	}
	return nil
}

// DeleteCredential removes a credential of the identity as Kratos' admin API
// does: password keeps its entry with an empty config; oidc and saml need
// identifier ("provider:subject") and remove that one link (the credential
// goes when no link is left); totp, lookup_secret, webauthn and passkey are
// removed entirely; code credentials derive from the traits and cannot be
// removed. Errors: CodeInvalid (unknown type, missing identifier, code),
// CodeNotFound (unknown identity, no such credential or link),
// CodeInternal.
func (s *Service) DeleteCredential(ctx context.Context, id string, t core.CredentialType, identifier string) error {
	cid, err := checkDeleteCredential(id, t, identifier)
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		return s.WithTx(tx).deleteCredential(ctx, cid, t, identifier)
	})
	return asCoreError("delete credential", err)
}

// checkDeleteCredential checks the arguments of DeleteCredential and returns
// the canonical identity id.
func checkDeleteCredential(id string, t core.CredentialType, identifier string) (string, error) {
	if !t.Valid() {
		return "", &core.Error{Code: core.CodeInvalid, Field: "type",
			Message: fmt.Sprintf("%q is not a credential type; use one of %s.", t, typeList())}
	}
	if t == core.CredentialCode {
		return "", &core.Error{Code: core.CodeInvalid, Field: "type",
			Message: "Code credentials follow the identity's traits and cannot be removed; change the traits instead."}
	}
	if (t == core.CredentialOIDC || t == core.CredentialSAML) && identifier == "" {
		return "", &core.Error{Code: core.CodeInvalid, Field: "identifier",
			Message: fmt.Sprintf("Removing %s credentials needs the identifier query parameter (provider:subject).", t)}
	}
	return canonicalID(id)
}

// deleteCredential removes the credential of type ct (the link identifier
// for oidc and saml) of the identity cid.
func (t *TxService) deleteCredential(ctx context.Context, cid string, ct core.CredentialType, identifier string) error {
	i, err := t.tx.GetIdentity(ctx, cid)
	if err != nil {
		return txStoreError("delete credential", err, cid)
	}
	c, ok := i.Credential(ct)
	if !ok {
		return core.Errorf(core.CodeNotFound, "You tried to remove a %s credential but this identity has no %s credential set up.", ct, ct)
	}
	now := t.s.clock()
	switch ct {
	case core.CredentialPassword:
		c.Config = json.RawMessage(`{}`)
		c.UpdatedAt = now
		i.SetCredential(c)
	case core.CredentialOIDC, core.CredentialSAML:
		var cfg OIDCConfig
		if len(c.Config) > 0 {
			if err := json.Unmarshal(c.Config, &cfg); err != nil {
				return &core.Error{Code: core.CodeInternal, Message: "The stored credential is corrupt.", Cause: fmt.Errorf("decode %s config: %w", ct, err)}
			}
		}
		kept := cfg.Providers[:0]
		found := false
		for _, p := range cfg.Providers {
			if p.Provider+":"+p.Subject == identifier {
				found = true
				continue
			}
			kept = append(kept, p)
		}
		if !found {
			return core.Errorf(core.CodeNotFound, "This identity has no %s credential with the identifier %q.", ct, identifier)
		}
		if len(kept) == 0 {
			delete(i.Credentials, ct)
			break
		}
		cfg.Providers = kept
		c.Config = mustJSON(cfg)
		c.Identifiers = oidcIdentifiers(kept)
		c.UpdatedAt = now
		i.SetCredential(c)
	default:
		delete(i.Credentials, ct)
	}
	i.UpdatedAt = now
	if err := t.tx.UpdateIdentity(ctx, i); err != nil {
		return txStoreError("delete credential", err, cid)
	}
	switch ct {
	case core.CredentialTOTP, core.CredentialLookupSecret, core.CredentialWebAuthn:
		// A removed second factor leaves no session claiming it (and the
		// aal2 that came with it).
		if _, err := DropSessionMethod(ctx, t.tx, cid, string(ct), now); err != nil {
			return txStoreError("delete credential", err, cid)
		}
	}
	return nil
}

func typeList() string {
	names := make([]string, len(core.CredentialTypes))
	for i, t := range core.CredentialTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// hashDraft hashes d's cleartext password (when it has one and no imported
// hash) and checks an imported hash's format.
func (s *Service) hashDraft(ctx context.Context, d Draft) (string, error) {
	if d.Credentials == nil || d.Credentials.Password == nil {
		return "", nil
	}
	p := d.Credentials.Password
	if p.HashedPassword != "" {
		if err := s.hashFormat(p.HashedPassword); err != nil {
			return "", &core.Error{Code: core.CodeInvalid, Field: "credentials.password.config.hashed_password",
				Message: "The hashed password is not in a supported format (PHC strings such as $argon2id$…, $2a$…, $pbkdf2-sha256$…, $scrypt$…, {SSHA}…, crypt(3) $1$/$5$/$6$).",
				Cause:   err}
		}
		return p.HashedPassword, nil
	}
	if p.Password == "" {
		return "", nil
	}
	h, err := s.hasher.Hash(ctx, []byte(p.Password))
	if err != nil {
		return "", &core.Error{Code: core.CodeInternal, Message: "Hashing the password failed.", Cause: fmt.Errorf("hash password: %w", err)}
	}
	return h, nil
}

// build turns a draft into the identity to store. old is the stored identity
// on update (nil on create); hash is the password hash hashDraft produced.
func (s *Service) build(old *core.Identity, d Draft, hash string) (*core.Identity, error) {
	now := s.clock()
	schemaID := d.SchemaID
	if schemaID == "" {
		schemaID = s.defaultID
	}
	sch, err := s.schemas.Schema(schemaID)
	if err != nil {
		return nil, &core.Error{Code: core.CodeInvalid, Field: "schema_id",
			Message: fmt.Sprintf("The identity schema %q does not exist.", schemaID), Cause: err}
	}
	traits := d.Traits
	if len(bytes.TrimSpace(traits)) == 0 {
		traits = json.RawMessage(`{}`)
	}
	ex, err := sch.Extract(traits)
	if err != nil {
		return nil, traitsError(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, traits); err != nil {
		return nil, &core.Error{Code: core.CodeInvalid, Field: "traits", Message: "The traits are not valid JSON.", Cause: err}
	}

	i := &core.Identity{}
	if old != nil {
		*i = *old
	} else {
		i.ID = s.newID()
		if d.ID != "" {
			u, err := uuid.Parse(d.ID)
			if err != nil || len(d.ID) != 36 {
				return nil, &core.Error{Code: core.CodeInvalid, Field: "id", Message: fmt.Sprintf("The identity id %q is not a valid UUID.", d.ID)}
			}
			if u == uuid.Nil {
				return nil, &core.Error{Code: core.CodeInvalid, Field: "id", Message: "The identity id may not be the nil UUID; give another id or none."}
			}
			i.ID = u.String()
		}
		i.CreatedAt = now
		i.State = core.IdentityActive
		i.StateChangedAt = now
	}
	i.SchemaID = schemaID
	i.Traits = compact.Bytes()
	i.UpdatedAt = now
	if d.State != "" {
		if !d.State.Valid() {
			return nil, &core.Error{Code: core.CodeInvalid, Field: "state",
				Message: fmt.Sprintf("The state %q is not valid; use active or inactive.", d.State)}
		}
		if d.State != i.State {
			i.State = d.State
			i.StateChangedAt = now
		}
	}
	if i.MetadataPublic, err = metadata("metadata_public", d.MetadataPublic); err != nil {
		return nil, err
	}
	if i.MetadataAdmin, err = metadata("metadata_admin", d.MetadataAdmin); err != nil {
		return nil, err
	}
	i.ExternalID = d.ExternalID
	i.OrganizationID = ""
	if d.OrganizationID != "" {
		oid, err := uuid.Parse(d.OrganizationID)
		if err != nil {
			return nil, &core.Error{Code: core.CodeInvalid, Field: "organization_id",
				Message: fmt.Sprintf("The organization_id %q is not a valid UUID.", d.OrganizationID)}
		}
		i.OrganizationID = oid.String()
	}

	var existing []core.Address
	if old != nil {
		existing = old.Addresses
	}
	i.Addresses = schema.ApplyAddresses(existing, ex, i.ID, now, s.newID)
	if err := applyImportedAddresses(i.Addresses, d, now); err != nil {
		return nil, err
	}

	creds := make(map[core.CredentialType]core.Credential, len(i.Credentials)+2)
	for t, c := range i.Credentials {
		c.Identifiers = append([]string(nil), c.Identifiers...)
		creds[t] = c
	}
	i.Credentials = creds
	if err := s.applyCredentials(i, d.Credentials, hash, now); err != nil {
		return nil, err
	}
	s.applyIdentifiers(i, ex, now)
	if err := checkStorable(i); err != nil {
		return nil, err
	}
	return i, nil
}

// checkStorable refuses an identity whose looked-up text (external id,
// addresses, credential identifiers) has a NUL character or invalid UTF-8:
// PostgreSQL cannot store such text (a 500 instead of a 400), and nobody
// could look it up again.
func checkStorable(i *core.Identity) error {
	bad := func(field string) error {
		return &core.Error{Code: core.CodeInvalid, Field: field,
			Message: fmt.Sprintf("The %s contains a NUL character or invalid UTF-8.", field)}
	}
	if !storableText(i.ExternalID) {
		return bad("external_id")
	}
	for _, a := range i.Addresses {
		if !storableText(a.Value) {
			return bad("traits")
		}
	}
	for t, c := range i.Credentials {
		for _, id := range c.Identifiers {
			if !storableText(id) {
				return bad("credentials." + string(t) + ".identifiers")
			}
		}
	}
	return nil
}

// applyCredentials imports the drafted credentials into i.
func (s *Service) applyCredentials(i *core.Identity, cd *CredentialsDraft, hash string, now time.Time) error {
	if cd == nil {
		return nil
	}
	if err := checkWebAuthnDrafts(cd.WebAuthn); err != nil {
		return err
	}
	upsert := func(t core.CredentialType, cfg json.RawMessage, identifiers []string) {
		c, ok := i.Credential(t)
		if !ok {
			c = core.Credential{ID: s.newID(), Type: t, CreatedAt: now}
		}
		c.Config = cfg
		if identifiers != nil {
			c.Identifiers = identifiers
		}
		c.UpdatedAt = now
		i.SetCredential(c)
	}
	if p := cd.Password; p != nil {
		upsert(core.CredentialPassword, mustJSON(PasswordConfig{HashedPassword: hash, UseMigrationHook: p.UseMigrationHook}), nil)
	}
	for t, cfg := range cd.SecondFactors {
		if t != core.CredentialTOTP && t != core.CredentialLookupSecret {
			return &core.Error{Code: core.CodeInvalid, Field: "credentials." + string(t),
				Message: fmt.Sprintf("%s is not a second factor that can be imported this way.", t)}
		}
		upsert(t, cfg, []string{i.ID})
	}
	for _, pair := range []struct {
		t         core.CredentialType
		providers []OIDCProvider
	}{{core.CredentialOIDC, cd.OIDC}, {core.CredentialSAML, cd.SAML}} {
		if pair.providers == nil {
			continue
		}
		seen := make(map[string]bool)
		for n, p := range pair.providers {
			if strings.TrimSpace(p.Provider) == "" || strings.TrimSpace(p.Subject) == "" {
				return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("credentials.%s.config.providers.%d", pair.t, n),
					Message: fmt.Sprintf("Every %s provider needs both provider and subject (entry %d).", pair.t, n)}
			}
			if p.Organization != "" {
				if _, err := uuid.Parse(p.Organization); err != nil {
					return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("credentials.%s.config.providers.%d.organization", pair.t, n),
						Message: fmt.Sprintf("The organization of %s provider entry %d is not a valid UUID.", pair.t, n)}
				}
			}
			key := p.Provider + ":" + p.Subject
			if seen[key] {
				return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("credentials.%s.config.providers.%d", pair.t, n),
					Message: fmt.Sprintf("The %s provider link %q is listed twice.", pair.t, key)}
			}
			seen[key] = true
		}
		if len(pair.providers) == 0 {
			delete(i.Credentials, pair.t)
			continue
		}
		upsert(pair.t, mustJSON(OIDCConfig{Providers: pair.providers}), oidcIdentifiers(pair.providers))
	}
	return nil
}

// applyIdentifiers sets the identifiers the schema derives from the traits:
// password (creating an empty password credential as Kratos does), webauthn
// (only on an existing credential) and code (whose config lists the
// addresses). A password or code credential left without identifiers and
// without a secret is removed.
func (s *Service) applyIdentifiers(i *core.Identity, ex *schema.Extracted, now time.Time) {
	set := func(t core.CredentialType, ids []string, create bool, cfg json.RawMessage) {
		c, ok := i.Credential(t)
		if !ok && (!create || len(ids) == 0) {
			return
		}
		if !ok {
			c = core.Credential{ID: s.newID(), Type: t, Config: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now}
		}
		if !sameStrings(c.Identifiers, ids) {
			c.Identifiers = append([]string(nil), ids...)
			c.UpdatedAt = now
		}
		if cfg != nil {
			c.Config = cfg
		}
		i.SetCredential(c)
	}
	set(core.CredentialPassword, ex.Identifiers[core.CredentialPassword], true, nil)
	set(core.CredentialWebAuthn, ex.Identifiers[core.CredentialWebAuthn], false, nil)
	codes := CodeConfig{Addresses: make([]CodeAddress, 0, len(ex.CodeIdentifiers))}
	for _, a := range ex.CodeIdentifiers {
		codes.Addresses = append(codes.Addresses, CodeAddress{Channel: string(a.Via), Address: a.Value})
	}
	set(core.CredentialCode, ex.Identifiers[core.CredentialCode], true, mustJSON(codes))

	if c, ok := i.Credential(core.CredentialPassword); ok && len(c.Identifiers) == 0 && !hasPasswordSecret(c.Config) {
		delete(i.Credentials, core.CredentialPassword)
	}
	if c, ok := i.Credential(core.CredentialCode); ok && len(c.Identifiers) == 0 {
		delete(i.Credentials, core.CredentialCode)
	}
}

func hasPasswordSecret(cfg json.RawMessage) bool {
	var pc PasswordConfig
	_ = json.Unmarshal(cfg, &pc)
	return pc.HashedPassword != "" || pc.UseMigrationHook
}

// applyImportedAddresses overlays imported verification state onto the
// addresses the traits produced.
func applyImportedAddresses(addrs []core.Address, d Draft, now time.Time) error {
	for n, a := range d.VerifiableAddresses {
		if a.Via != core.ViaEmail && a.Via != core.ViaSMS {
			return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("verifiable_addresses.%d.via", n),
				Message: fmt.Sprintf("The verifiable address %d has via %q; use email or sms.", n, a.Via)}
		}
		switch a.Status {
		case "", core.AddressPending, core.AddressSent, core.AddressCompleted:
		default:
			return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("verifiable_addresses.%d.status", n),
				Message: fmt.Sprintf("The verifiable address %d has status %q; use pending, sent or completed.", n, a.Status)}
		}
		value := schema.Normalize(a.Via, a.Value)
		for k := range addrs {
			if addrs[k].Via != a.Via || addrs[k].Value != value || !addrs[k].Verifiable {
				continue
			}
			addrs[k].Verified = a.Verified
			addrs[k].VerifiedAt = nil
			if a.Verified {
				at := now
				if a.VerifiedAt != nil && !a.VerifiedAt.IsZero() {
					at = a.VerifiedAt.UTC().Truncate(time.Microsecond)
				}
				addrs[k].VerifiedAt = &at
			}
			switch {
			case a.Status != "":
				addrs[k].Status = a.Status
			case a.Verified:
				addrs[k].Status = core.AddressCompleted
			default:
				addrs[k].Status = core.AddressPending
			}
			addrs[k].UpdatedAt = now
		}
	}
	for n, a := range d.RecoveryAddresses {
		if a.Via != core.ViaEmail && a.Via != core.ViaSMS {
			return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("recovery_addresses.%d.via", n),
				Message: fmt.Sprintf("The recovery address %d has via %q; use email or sms.", n, a.Via)}
		}
	}
	return nil
}

func oidcIdentifiers(ps []OIDCProvider) []string {
	out := make([]string, len(ps))
	for n, p := range ps {
		out[n] = p.Provider + ":" + p.Subject
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for n := range a {
		if a[n] != b[n] {
			return false
		}
	}
	return true
}

// metadata checks that raw is JSON and compacts it; JSON null and empty
// input mean unset.
func metadata(field string, raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, t); err != nil {
		return nil, &core.Error{Code: core.CodeInvalid, Field: field, Message: fmt.Sprintf("The %s is not valid JSON.", field), Cause: err}
	}
	return b.Bytes(), nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("identity: marshal %T: %v", v, err)) // only fixed struct types reach here
	}
	return b
}

// traitsError turns a schema error into a *core.Error whose message names
// every failing JSON pointer, Kratos style ("#/traits/email: ...").
func traitsError(err error) error {
	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		parts := make([]string, 0, len(ve.Causes))
		field := "traits"
		for n, c := range ve.Causes {
			if n == 0 {
				field = c.NodeName()
			}
			parts = append(parts, c.KratosPointer()+": "+c.Message)
		}
		return &core.Error{Code: core.CodeInvalid, Field: field,
			Message: "The traits do not match the identity schema: " + strings.Join(parts, "; "), Cause: err}
	}
	var ce *core.Error
	if errors.As(err, &ce) {
		return err
	}
	return &core.Error{Code: core.CodeInternal, Message: "Validating the traits failed.", Cause: err}
}

// canonicalID parses id as a UUID; a malformed id is reported as not found,
// as Kratos does (its lookup of the nil UUID finds nothing).
func canonicalID(id string) (string, error) {
	cid, ok := core.ParseID(id)
	if !ok {
		return "", core.Errorf(core.CodeNotFound, "The identity id %q is not a valid UUID, so no identity has it.", id)
	}
	return cid, nil
}

// storeError maps store errors to *core.Error.
func storeError(op string, err error, id string) error {
	var ce *core.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, store.ErrNotFound):
		return &core.Error{Code: core.CodeNotFound, Message: fmt.Sprintf("The identity %q does not exist.", id), Cause: fmt.Errorf("%s: %w", op, err)}
	case errors.Is(err, store.ErrConflict):
		return &core.Error{Code: core.CodeConflict, Message: "This identity conflicts with another identity that already exists.", Cause: fmt.Errorf("%s: %w", op, err)}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &core.Error{Code: core.CodeUnavailable, Message: "The request was cancelled or timed out.", Cause: fmt.Errorf("%s: %w", op, err)}
	default:
		return &core.Error{Code: core.CodeInternal, Message: "The identity store failed.", Cause: fmt.Errorf("%s: %w", op, err)}
	}
}

func asCoreError(op string, err error) error {
	if err == nil {
		return nil
	}
	return storeError(op, err, "")
}

// BatchResult is the outcome of one draft of BatchCreate: the stored
// identity, or the *core.Error that kept it out.
type BatchResult struct {
	Identity *core.Identity
	Err      error
}

// bulkChunk is how many prepared identities BatchCreate inserts per
// transaction before falling back to one transaction per row.
const bulkChunk = 250

// BatchCreate creates every draft independently and returns one result per
// draft, in order: a bad draft never fails the others. Cleartext passwords
// are hashed in parallel (Options.Concurrency); prepared identities are then
// inserted in chunks, each in one transaction, and a chunk that meets a
// conflict is retried row by row so only the conflicting rows fail.
func (s *Service) BatchCreate(ctx context.Context, drafts []Draft) []BatchResult {
	res := make([]BatchResult, len(drafts))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(s.workers, max(len(drafts), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range next {
				hash, err := s.hashDraft(ctx, drafts[n])
				if err == nil {
					res[n].Identity, err = s.build(nil, drafts[n], hash)
				}
				res[n].Err = err
			}
		}()
	}
	for n := range drafts {
		next <- n
	}
	close(next)
	wg.Wait()

	ready := make([]int, 0, len(drafts))
	for n := range res {
		if res[n].Err == nil {
			ready = append(ready, n)
		}
	}
	for start := 0; start < len(ready); start += bulkChunk {
		chunk := ready[start:min(start+bulkChunk, len(ready))]
		err := s.store.Update(ctx, func(tx store.Tx) error {
			for _, n := range chunk {
				if err := tx.CreateIdentity(ctx, res[n].Identity); err != nil {
					return err
				}
				if err := writeWebAuthn(ctx, tx, res[n].Identity.ID, webauthnDrafts(drafts[n]), res[n].Identity.CreatedAt); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			continue
		}
		for _, n := range chunk {
			i := res[n].Identity
			err := s.store.Update(ctx, func(tx store.Tx) error {
				if err := tx.CreateIdentity(ctx, i); err != nil {
					return storeError("create identity", err, "")
				}
				return writeWebAuthn(ctx, tx, i.ID, webauthnDrafts(drafts[n]), i.CreatedAt)
			})
			if err != nil {
				res[n].Err = s.idTaken(ctx, drafts[n], asCoreError("create identity", err))
				res[n].Identity = nil
			}
		}
	}
	return res
}
