package webauthn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	gowa "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/latchkey/latchkey/core"
)

// Store is the part of the store the ceremonies use; store.Tx satisfies it.
// Pass the flow step's transaction, so the credential written or the
// counter updated commits or rolls back with the step.
type Store interface {
	GetWebAuthnCredential(ctx context.Context, id string) (*core.WebAuthnCredential, error)
	ListWebAuthnCredentials(ctx context.Context, identityID string) ([]core.WebAuthnCredential, error)
	CreateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error
	UpdateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error
}

// Config configures the relying party and the ceremonies.
type Config struct {
	// RPID is the relying party identifier (WebAuthn §5.1.2, "RP ID"): a
	// registrable domain suffix of every origin's host, never an IP
	// address. Required.
	RPID string
	// RPDisplayName is shown by authenticators (§5.4.2 rp.name). Required.
	RPDisplayName string
	// RPOrigins are the origins whose ceremonies are accepted (§7.1 step
	// 9, §7.2 step 13). At least one.
	RPOrigins []string
	// UserVerification for passkeys (§5.8.6): "required", "preferred"
	// (default) or "discouraged".
	UserVerification string
	// SecurityKeyUserVerification for mfa_only security keys; default
	// "discouraged".
	SecurityKeyUserVerification string
	// SecurityKeyAttachment is the authenticator attachment asked for when
	// a security key is created (§5.4.5): "cross-platform" (default),
	// "platform", or "no_preference" (none asked for).
	SecurityKeyAttachment string
	// Attestation conveyance preference at registration (§5.4.7): "none"
	// (default), "indirect", "direct" or "enterprise".
	Attestation string
	// Timeout is the ceremony timeout sent to clients (§5.4 timeout);
	// default 5 minutes. The challenge itself lives as long as the flow
	// that holds it.
	Timeout time.Duration
	// Now is the clock for created/last-used times; default time.Now.
	Now func() time.Time
	// NotFound is the store's not-found error (store.ErrNotFound), told
	// apart from failures of the store.
	NotFound error
	// Conflict is the store's unique-violation error (store.ErrConflict).
	Conflict error
}

// Method runs WebAuthn ceremonies for one relying party. It is safe for
// concurrent use and keeps no state between calls: everything a ceremony
// needs between Begin and Finish is in the Session the caller stores in its
// flow.
type Method struct {
	wa  *gowa.WebAuthn
	cfg Config
}

// CheckRPID returns an error saying how to fix id when browsers would refuse
// it as an RP ID: empty, or an IP address (WebAuthn §5.1.2 requires a valid
// domain).
func CheckRPID(id string) error {
	if id == "" {
		return errors.New("the relying party id is empty; set it to the site's host name (for example localhost or example.com)")
	}
	host := strings.Trim(id, "[]")
	if isIP(host) {
		return fmt.Errorf("the relying party id %q is an IP address, which browsers refuse for WebAuthn; set it to a host name such as localhost and open the site under that name", id)
	}
	if strings.ContainsAny(id, "/:") {
		return fmt.Errorf("the relying party id %q must be a bare host name (no scheme, port or path)", id)
	}
	return nil
}

// New returns a Method for cfg. It returns an error when the relying party
// is unusable (see CheckRPID), has no origins, or an option is unknown.
func New(cfg Config) (*Method, error) {
	if err := CheckRPID(cfg.RPID); err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	if len(cfg.RPOrigins) == 0 {
		return nil, errors.New("webauthn: no relying party origins")
	}
	for _, o := range cfg.RPOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("webauthn: origin %q is not an http(s) origin", o)
		}
		if !hostWithin(u.Hostname(), cfg.RPID) {
			return nil, fmt.Errorf("webauthn: origin %q is not on the relying party id %q or one of its subdomains (WebAuthn §5.1.2)", o, cfg.RPID)
		}
	}
	if cfg.UserVerification == "" {
		cfg.UserVerification = string(protocol.VerificationPreferred)
	}
	if cfg.SecurityKeyUserVerification == "" {
		cfg.SecurityKeyUserVerification = string(protocol.VerificationDiscouraged)
	}
	for _, uv := range []string{cfg.UserVerification, cfg.SecurityKeyUserVerification} {
		switch protocol.UserVerificationRequirement(uv) {
		case protocol.VerificationRequired, protocol.VerificationPreferred, protocol.VerificationDiscouraged:
		default:
			return nil, fmt.Errorf("webauthn: user verification %q is not one of required, preferred, discouraged", uv)
		}
	}
	switch cfg.SecurityKeyAttachment {
	case "":
		cfg.SecurityKeyAttachment = string(protocol.CrossPlatform)
	case string(protocol.CrossPlatform), string(protocol.Platform), "no_preference":
	default:
		return nil, fmt.Errorf("webauthn: authenticator attachment %q is not one of cross-platform, platform, no_preference", cfg.SecurityKeyAttachment)
	}
	if cfg.Attestation == "" {
		cfg.Attestation = string(protocol.PreferNoAttestation)
	}
	switch protocol.ConveyancePreference(cfg.Attestation) {
	case protocol.PreferNoAttestation, protocol.PreferIndirectAttestation, protocol.PreferDirectAttestation, protocol.PreferEnterpriseAttestation:
	default:
		return nil, fmt.Errorf("webauthn: attestation %q is not one of none, indirect, direct, enterprise", cfg.Attestation)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NotFound == nil || cfg.Conflict == nil {
		return nil, errors.New("webauthn: the store's NotFound and Conflict errors are required")
	}
	wa, err := gowa.New(&gowa.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPDisplayName,
		RPOrigins:             cfg.RPOrigins,
		AttestationPreference: protocol.ConveyancePreference(cfg.Attestation),
		Timeouts: gowa.TimeoutsConfig{
			Login:        gowa.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
			Registration: gowa.TimeoutConfig{Timeout: cfg.Timeout, TimeoutUVD: cfg.Timeout},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return &Method{wa: wa, cfg: cfg}, nil
}

// RPID returns the relying party id.
func (m *Method) RPID() string { return m.cfg.RPID }

// Ceremony names what a Session was begun for.
type Ceremony string

// The ceremonies.
const (
	CeremonyCreate Ceremony = "webauthn.create" // registration, WebAuthn §7.1
	CeremonyGet    Ceremony = "webauthn.get"    // authentication, WebAuthn §7.2
)

// Session is what a ceremony needs between Begin and Finish: the challenge
// and the options it was begun with. It serialises to JSON: store it in the
// flow's stash (never in process memory, so any replica can finish the
// ceremony) and delete it when Finish returns, whatever it returns, so a
// challenge is used once.
type Session struct {
	Ceremony Ceremony `json:"ceremony"`
	// IdentityID is the identity the ceremony is for: the registering
	// identity, or for a login with allowed credentials the identity whose
	// credentials were allowed. Empty for a discoverable login.
	IdentityID string `json:"identity_id,omitempty"`
	// MFAOnly: registration of a security key, or a login that only
	// security keys may answer (a second factor).
	MFAOnly bool `json:"mfa_only,omitempty"`
	// Conditional: a discoverable login begun for conditional mediation
	// (autofill, WebAuthn §5.1.4.1 mediation "conditional").
	Conditional bool `json:"conditional,omitempty"`
	// Used is set by Finish: a used session is refused, so a caller that
	// stores the session back instead of deleting it is safe as well.
	Used bool `json:"used,omitempty"`
	// Data is go-webauthn's session data, persisted verbatim.
	Data gowa.SessionData `json:"data"`
}

// User names the identity a credential is created for (WebAuthn §5.4.3).
type User struct {
	IdentityID string
	// Name is the account name shown by authenticators (user.name): an
	// e-mail address, a username or a phone number.
	Name string
	// DisplayName is the human-palatable name (user.displayName); Name
	// when empty.
	DisplayName string
}

// waUser adapts an identity to go-webauthn's User.
type waUser struct {
	handle      []byte
	name, dname string
	creds       []gowa.Credential
}

func (u *waUser) WebAuthnID() []byte                     { return u.handle }
func (u *waUser) WebAuthnName() string                   { return u.name }
func (u *waUser) WebAuthnDisplayName() string            { return u.dname }
func (u *waUser) WebAuthnCredentials() []gowa.Credential { return u.creds }

// UserHandle returns the identity's WebAuthn user handle (§5.4.3 user.id):
// the handle its stored credentials carry, or for an identity without any
// the 16 bytes of its UUID. It is stable: every credential of one identity
// is created with the same handle, so a discoverable login maps the handle
// back to the identity (§6.1, §14.6.1: it holds no personal information).
func (m *Method) UserHandle(ctx context.Context, st Store, identityID string) ([]byte, error) {
	list, err := st.ListWebAuthnCredentials(ctx, identityID)
	if err != nil {
		return nil, fmt.Errorf("webauthn: list credentials: %w", err)
	}
	return handleOf(identityID, list), nil
}

func handleOf(identityID string, list []core.WebAuthnCredential) []byte {
	for _, c := range list {
		if len(c.UserHandle) > 0 {
			return c.UserHandle
		}
	}
	if u, err := uuid.Parse(identityID); err == nil {
		return u[:]
	}
	if len(identityID) <= 64 {
		return []byte(identityID)
	}
	return []byte(identityID[:64])
}

// RegistrationOptions say what is created.
type RegistrationOptions struct {
	// MFAOnly creates a security key: a non-discoverable credential
	// (residentKey "discouraged", §5.4.6) used only as second factor.
	// Otherwise a passkey: a discoverable credential (residentKey
	// "required") usable as first factor.
	MFAOnly bool
}

// BeginRegistration starts a registration ceremony (WebAuthn §7.1) for u.
// It returns the options for navigator.credentials.create() as
// {"publicKey":{…}} (§5.4 PublicKeyCredentialCreationOptions, JSON form of
// §5.1.8), and the Session to keep in the flow. The identity's existing
// credentials are excluded (§5.4 excludeCredentials), so an authenticator
// does not register twice.
func (m *Method) BeginRegistration(ctx context.Context, st Store, u User, o RegistrationOptions) (json.RawMessage, *Session, error) {
	list, err := st.ListWebAuthnCredentials(ctx, u.IdentityID)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: list credentials: %w", err)
	}
	user := m.user(u, list)
	sel := protocol.AuthenticatorSelection{
		ResidentKey:      protocol.ResidentKeyRequirementRequired,
		UserVerification: protocol.UserVerificationRequirement(m.cfg.UserVerification),
	}
	if o.MFAOnly {
		var attach protocol.AuthenticatorAttachment
		if m.cfg.SecurityKeyAttachment != "no_preference" {
			attach = protocol.AuthenticatorAttachment(m.cfg.SecurityKeyAttachment)
		}
		sel = protocol.AuthenticatorSelection{
			AuthenticatorAttachment: attach,
			ResidentKey:             protocol.ResidentKeyRequirementDiscouraged,
			UserVerification:        protocol.UserVerificationRequirement(m.cfg.SecurityKeyUserVerification),
		}
	}
	rrk := sel.ResidentKey == protocol.ResidentKeyRequirementRequired
	sel.RequireResidentKey = &rrk
	opts := []gowa.RegistrationOption{
		gowa.WithAuthenticatorSelection(sel),
		gowa.WithExclusions(gowa.Credentials(user.creds).CredentialDescriptors()),
	}
	creation, data, err := m.wa.BeginRegistration(user, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	raw, err := json.Marshal(creation)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode creation options: %w", err)
	}
	return raw, &Session{Ceremony: CeremonyCreate, IdentityID: u.IdentityID, MFAOnly: o.MFAOnly, Data: *data}, nil
}

// FinishRegistration verifies the client's response to BeginRegistration
// (the PublicKeyCredential JSON of §5.1, as serialised by toJSON(),
// §5.1.8) for the identity u and stores the new credential under
// displayName. It is VerifyRegistration followed by
// CreateWebAuthnCredential through st; the identity must exist in st.
//
// It returns ErrNoCeremony when sess is nil, used, not a registration, or
// for another identity; ErrMalformed for a response that does not parse;
// ErrVerificationFailed when a check of §7.1 fails; ErrCredentialExists
// when the credential id is stored already. The caller must delete sess
// from its flow whatever FinishRegistration returns.
func (m *Method) FinishRegistration(ctx context.Context, st Store, sess *Session, u User, response []byte, displayName string) (*core.WebAuthnCredential, error) {
	rec, err := m.VerifyRegistration(ctx, st, sess, u, response, displayName)
	if err != nil {
		return nil, err
	}
	if err := st.CreateWebAuthnCredential(ctx, rec); err != nil {
		if errors.Is(err, m.cfg.Conflict) {
			return nil, fail(ErrCredentialExists, err)
		}
		return nil, fmt.Errorf("webauthn: store credential: %w", err)
	}
	return rec, nil
}

// VerifyRegistration is FinishRegistration without the write: it verifies
// the response (§7.1) and returns the credential record to store, for a
// flow that creates the identity only later (a registration that creates a
// passkey before the account exists). The caller stores the record with
// CreateWebAuthnCredential once the identity exists; the record is plain
// JSON, so it can wait in the flow's stash. Errors as FinishRegistration;
// ErrCredentialExists only for a credential id stored at the time of the
// check.
func (m *Method) VerifyRegistration(ctx context.Context, st Store, sess *Session, u User, response []byte, displayName string) (*core.WebAuthnCredential, error) {
	if sess == nil || sess.Used || sess.Ceremony != CeremonyCreate || sess.IdentityID != u.IdentityID || u.IdentityID == "" {
		return nil, ErrNoCeremony
	}
	sess.Used = true
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fail(ErrMalformed, err)
	}
	if got := parsed.Response.CollectedClientData.Challenge; got != sess.Data.Challenge {
		return nil, challengeMismatch(got, sess.Data.Challenge)
	}
	list, err := st.ListWebAuthnCredentials(ctx, u.IdentityID)
	if err != nil {
		return nil, fmt.Errorf("webauthn: list credentials: %w", err)
	}
	user := m.user(u, list)
	if !bytes.Equal(user.handle, sess.Data.UserID) {
		// The identity's handle changed since Begin (a credential with
		// another handle was imported meanwhile).
		return nil, ErrNoCeremony
	}
	cred, err := m.wa.CreateCredential(user, sess.Data, parsed)
	if err != nil {
		return nil, fail(ErrVerificationFailed, err)
	}
	now := m.cfg.Now().UTC()
	// Both faces show the attestation statement format (§8: "none",
	// "packed", "tpm" …) as attestation_type, as Hanko and Kratos do.
	format := cred.AttestationFormat
	if format == "" {
		format = cred.AttestationType
	}
	rec := &core.WebAuthnCredential{
		ID:              base64.RawURLEncoding.EncodeToString(cred.ID),
		IdentityID:      u.IdentityID,
		UserHandle:      user.handle,
		PublicKey:       cred.PublicKey,
		AttestationType: format,
		AAGUID:          cred.Authenticator.AAGUID,
		SignCount:       cred.Authenticator.SignCount,
		Transports:      transports(cred.Transport),
		BackupEligible:  cred.Flags.BackupEligible,
		BackupState:     cred.Flags.BackupState,
		UserVerified:    cred.Flags.UserVerified,
		Attachment:      string(cred.Authenticator.Attachment),
		DisplayName:     displayName,
		MFAOnly:         sess.MFAOnly,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	if _, err := st.GetWebAuthnCredential(ctx, rec.ID); err == nil {
		return nil, ErrCredentialExists
	} else if !errors.Is(err, m.cfg.NotFound) {
		return nil, fmt.Errorf("webauthn: look up credential: %w", err)
	}
	return rec, nil
}

// LoginOptions say who may answer a login.
type LoginOptions struct {
	// IdentityID, when set, allow-lists that identity's credentials
	// (§5.5 allowCredentials); when empty the login is discoverable: any
	// passkey of this RP may answer and names its user by its user
	// handle (§5.1.4.1, "username-less").
	IdentityID string
	// MFAOnly asks for a second factor: only the identity's security keys
	// (mfa_only) may answer; IdentityID is then required. Otherwise only
	// passkeys (not mfa_only) may answer.
	MFAOnly bool
	// Conditional begins a discoverable login for conditional mediation
	// (browser autofill); the returned options carry "mediation":
	// "conditional". Ignored with IdentityID.
	Conditional bool
}

// ErrNoCredentials is returned by BeginLogin with an IdentityID whose
// identity has no credential of the kind asked for: a ceremony that cannot
// succeed is not begun.
var ErrNoCredentials = &core.Error{Code: core.CodeNotFound, Message: "No passkey is registered for this account."}

// BeginLogin starts an authentication ceremony (WebAuthn §7.2). It returns
// the options for navigator.credentials.get() as {"publicKey":{…}} (§5.5
// PublicKeyCredentialRequestOptions), with "mediation":"conditional" for a
// conditional login, and the Session to keep in the flow.
func (m *Method) BeginLogin(ctx context.Context, st Store, o LoginOptions) (json.RawMessage, *Session, error) {
	uv := protocol.UserVerificationRequirement(m.cfg.UserVerification)
	if o.MFAOnly {
		uv = protocol.UserVerificationRequirement(m.cfg.SecurityKeyUserVerification)
	}
	var (
		assertion *protocol.CredentialAssertion
		data      *gowa.SessionData
		err       error
	)
	sess := &Session{Ceremony: CeremonyGet, IdentityID: o.IdentityID, MFAOnly: o.MFAOnly}
	switch {
	case o.IdentityID != "":
		list, lerr := st.ListWebAuthnCredentials(ctx, o.IdentityID)
		if lerr != nil {
			return nil, nil, fmt.Errorf("webauthn: list credentials: %w", lerr)
		}
		user := m.user(User{IdentityID: o.IdentityID}, kindOf(list, o.MFAOnly))
		if len(user.creds) == 0 {
			return nil, nil, ErrNoCredentials
		}
		assertion, data, err = m.wa.BeginLogin(user, gowa.WithUserVerification(uv))
	case o.MFAOnly:
		return nil, nil, errors.New("webauthn: a second-factor login needs the identity")
	default:
		mediation := protocol.MediationDefault
		if o.Conditional {
			mediation = protocol.MediationConditional
			sess.Conditional = true
		}
		assertion, data, err = m.wa.BeginDiscoverableMediatedLogin(mediation, gowa.WithUserVerification(uv))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin login: %w", err)
	}
	raw, err := json.Marshal(assertion)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: encode request options: %w", err)
	}
	sess.Data = *data
	return raw, sess, nil
}

// LoginResult is a verified assertion.
type LoginResult struct {
	IdentityID string
	Credential *core.WebAuthnCredential // as stored after this use
	// UserVerified reports whether this assertion verified the user (UV
	// flag, §6.1): a passkey with UV is multi-factor on its own.
	UserVerified bool
}

// FinishLogin verifies the client's response to BeginLogin (the
// PublicKeyCredential JSON with an AuthenticatorAssertionResponse, §5.2.2)
// and records the use: the signature counter, backup state and last-used
// time are stored on every successful assertion (§7.2 steps 21–22).
//
// It returns ErrNoCeremony when sess is nil or not a login; ErrMalformed for
// a response that does not parse; then ErrUnknownCredential for a
// credential that is not stored, ErrChallengeMismatch (with
// ErrVerificationFailed) for a response to another challenge; ErrUnknownCredential when the credential
// is not stored or not the allowed identity's; ErrMFAOnly when a security
// key answers a first-factor login or a passkey a second-factor one;
// ErrVerificationFailed when a check of §7.2 fails (challenge, origin, RP
// ID hash, signature, user presence, user verification when required, user
// handle); ErrClonedAuthenticator when the signature counter did not
// increase although the authenticator reports counters: the credential is
// then flagged (CloneWarning, written through st) and the login refused.
// The caller must delete sess from its flow whatever FinishLogin returns,
// and commit st's writes also when it returns ErrClonedAuthenticator.
func (m *Method) FinishLogin(ctx context.Context, st Store, sess *Session, response []byte) (*LoginResult, error) {
	if sess == nil || sess.Used || sess.Ceremony != CeremonyGet {
		return nil, ErrNoCeremony
	}
	sess.Used = true
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, fail(ErrMalformed, err)
	}
	id := base64.RawURLEncoding.EncodeToString(parsed.RawID)
	stored, err := st.GetWebAuthnCredential(ctx, id)
	if errors.Is(err, m.cfg.NotFound) {
		return nil, ErrUnknownCredential
	}
	if err != nil {
		return nil, fmt.Errorf("webauthn: look up credential: %w", err)
	}
	if got := parsed.Response.CollectedClientData.Challenge; got != sess.Data.Challenge {
		return nil, challengeMismatch(got, sess.Data.Challenge)
	}
	if sess.IdentityID != "" && stored.IdentityID != sess.IdentityID {
		return nil, ErrUnknownCredential
	}
	if stored.MFAOnly != sess.MFAOnly {
		return nil, ErrMFAOnly
	}
	var cred *gowa.Credential
	if sess.IdentityID == "" {
		// A discoverable login (§7.2 step 6, the user handle case): the
		// library looks for the presented credential among the user's
		// and checks the user handle against the user's; the presented
		// credential is the one stored under its id, so the user is built
		// from it alone, without reading the identity's other
		// credentials.
		user := m.user(User{IdentityID: stored.IdentityID}, []core.WebAuthnCredential{*stored})
		user.handle = stored.UserHandle
		handler := func(rawID, userHandle []byte) (gowa.User, error) { return user, nil }
		_, cred, err = m.wa.ValidatePasskeyLogin(handler, sess.Data, parsed)
	} else {
		// An allow-listed login: besides §7.2 step 5 the library checks
		// that the identity owns every allowed credential, so it needs
		// them all.
		list, lerr := st.ListWebAuthnCredentials(ctx, stored.IdentityID)
		if lerr != nil {
			return nil, fmt.Errorf("webauthn: list credentials: %w", lerr)
		}
		user := m.user(User{IdentityID: stored.IdentityID}, kindOf(list, sess.MFAOnly))
		user.handle = stored.UserHandle
		cred, err = m.wa.ValidateLogin(user, sess.Data, parsed)
	}
	if err != nil {
		return nil, fail(ErrVerificationFailed, err)
	}
	now := m.cfg.Now().UTC()
	got := parsed.Response.AuthenticatorData.Counter
	rec := *stored
	// §7.2 step 22: a counter that is not greater than the stored one,
	// when either is non-zero, signals a possible clone.
	if (got != 0 || stored.SignCount != 0) && got <= stored.SignCount {
		rec.CloneWarning = true
		rec.UpdatedAt = now
		if err := st.UpdateWebAuthnCredential(ctx, &rec); err != nil {
			return nil, fmt.Errorf("webauthn: flag credential: %w", err)
		}
		return nil, fail(ErrClonedAuthenticator, fmt.Errorf("credential %s: counter %d after %d", id, got, stored.SignCount))
	}
	rec.SignCount = got
	rec.BackupState = cred.Flags.BackupState
	rec.UserVerified = rec.UserVerified || parsed.Response.AuthenticatorData.Flags.UserVerified()
	if cred.Authenticator.Attachment != "" {
		rec.Attachment = string(cred.Authenticator.Attachment)
	}
	rec.LastUsedAt = &now
	rec.UpdatedAt = now
	if err := st.UpdateWebAuthnCredential(ctx, &rec); err != nil {
		return nil, fmt.Errorf("webauthn: record use: %w", err)
	}
	return &LoginResult{IdentityID: stored.IdentityID, Credential: &rec,
		UserVerified: parsed.Response.AuthenticatorData.Flags.UserVerified()}, nil
}

// user builds go-webauthn's view of an identity from its stored
// credentials.
func (m *Method) user(u User, list []core.WebAuthnCredential) *waUser {
	name := u.Name
	if name == "" {
		name = u.IdentityID
	}
	dname := u.DisplayName
	if dname == "" {
		dname = name
	}
	w := &waUser{handle: handleOf(u.IdentityID, list), name: name, dname: dname}
	for _, c := range list {
		raw, err := base64.RawURLEncoding.DecodeString(c.ID)
		if err != nil {
			continue // not a credential a client could present
		}
		flags := protocol.FlagUserPresent
		if c.UserVerified {
			flags |= protocol.FlagUserVerified
		}
		if c.BackupEligible {
			flags |= protocol.FlagBackupEligible
		}
		if c.BackupState {
			flags |= protocol.FlagBackupState
		}
		tr := make([]protocol.AuthenticatorTransport, len(c.Transports))
		for i, t := range c.Transports {
			tr[i] = protocol.AuthenticatorTransport(t)
		}
		w.creds = append(w.creds, gowa.Credential{
			ID: raw, PublicKey: c.PublicKey, AttestationFormat: c.AttestationType, Transport: tr,
			Flags: gowa.NewCredentialFlags(flags),
			Authenticator: gowa.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount, CloneWarning: c.CloneWarning,
				Attachment: protocol.AuthenticatorAttachment(c.Attachment)},
		})
	}
	return w
}

// kindOf keeps the security keys (mfaOnly) or the passkeys of list.
func kindOf(list []core.WebAuthnCredential, mfaOnly bool) []core.WebAuthnCredential {
	var out []core.WebAuthnCredential
	for _, c := range list {
		if c.MFAOnly == mfaOnly {
			out = append(out, c)
		}
	}
	return out
}

func transports(ts []protocol.AuthenticatorTransport) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, string(t))
	}
	return out
}
