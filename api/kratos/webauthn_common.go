package kratos

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/flow"
	"github.com/latchkey/latchkey/method/webauthn"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/store"
)

// This file holds what the passkey and webauthn strategies share: the
// WebAuthn ceremony a flow holds, the identity's WebAuthn credentials as
// Kratos shows them, and the messages of both methods.

// Kratos' message ids of the passkey and webauthn methods (text/id.go).
const (
	MsgLoginWebAuthn             = 1010008
	MsgLoginPasskey              = 1010021
	MsgRegistrationWebAuthn      = 1040004
	MsgRegistrationPasskey       = 1040007
	MsgSettingsAddWebAuthn       = 1050012
	MsgSettingsWebAuthnName      = 1050013
	MsgSettingsRemoveWebAuthn    = 1050018
	MsgSettingsAddPasskey        = 1050019
	MsgSettingsRemovePasskey     = 1050020
	MsgNoWebAuthnDevice          = 4000013
	MsgNoWebAuthnUser            = 4000015
	MsgWebAuthnVerifierWrong     = 4000043
	MsgLoginWebAuthnPasswordless = 1010012
)

var (
	labelLoginPasskey     = infoText(MsgLoginPasskey, "Sign in with passkey")
	labelSignUpPasskey    = infoText(MsgRegistrationPasskey, "Sign up with passkey")
	labelAddPasskey       = infoText(MsgSettingsAddPasskey, "Add passkey")
	labelLoginWebAuthn    = infoText(MsgLoginWebAuthn, "Sign in with a hardware key")
	labelSignUpWebAuthn   = infoText(MsgRegistrationWebAuthn, "Sign up with security key")
	labelAddWebAuthn      = infoText(MsgSettingsAddWebAuthn, "Add security key")
	labelWebAuthnName     = infoText(MsgSettingsWebAuthnName, "Name of the security key")
	msgWebAuthnWrong      = Text{ID: MsgWebAuthnVerifierWrong, Type: textError, Text: "The provided web authn login is invalid, please try again."}
	msgNoWebAuthnUser     = Text{ID: MsgNoWebAuthnUser, Type: textError, Text: "This account does not exist or has no security key set up."}
	msgNoWebAuthnDevice   = Text{ID: MsgNoWebAuthnDevice, Type: textError, Text: "You have no WebAuthn device set up."}
	msgWouldLockOut       = genericText("unable to remove this security key because it would lock you out of your account")
	msgCredentialNotFound = genericText("You tried to remove a passkey or security key which does not exist.")
)

// removeText is the label of a remove button: 1050020 for a passkey,
// 1050018 for a security key, naming the credential.
func removeText(passkey bool, c core.WebAuthnCredential) Text {
	id, what := MsgSettingsRemoveWebAuthn, "security key"
	if passkey {
		id, what = MsgSettingsRemovePasskey, "passkey"
	}
	return Text{ID: id, Type: textInfo, Text: "Remove " + what + " \"" + c.DisplayName + "\"",
		Context: map[string]any{"display_name": c.DisplayName, "added_at": c.CreatedAt.UTC().Format(time.RFC3339),
			"added_at_unix": c.CreatedAt.Unix()}}
}

// ceremony is a WebAuthn ceremony a flow holds between rendering its
// options and the client's answer: the options as sent, and the session
// the method finishes it with. It is used once.
type ceremony struct {
	Options json.RawMessage  `json:"options"`
	Session webauthn.Session `json:"session"`
}

// WebAuthnStore is the store of WebAuthn credentials the face reads and
// writes (store.Store and store.Tx satisfy it).
type WebAuthnStore interface {
	webauthn.Store
	DeleteWebAuthnCredential(ctx context.Context, identityID, id string) error
}

// credentialKey is how Kratos names a credential in a remove button's
// value: the hex of its raw id.
func credentialKey(c core.WebAuthnCredential) string {
	raw, err := base64.RawURLEncoding.DecodeString(c.ID)
	if err != nil {
		return c.ID
	}
	return hex.EncodeToString(raw)
}

// findCredential returns the credential a remove button names (hex of the
// raw id, as rendered, or the base64url id).
func findCredential(list []core.WebAuthnCredential, key string) (core.WebAuthnCredential, bool) {
	key = strings.TrimSpace(key)
	for _, c := range list {
		if credentialKey(c) == strings.ToLower(key) || c.ID == key {
			return c, true
		}
	}
	return core.WebAuthnCredential{}, false
}

// webauthnCredentials lists the identity's WebAuthn credentials of one kind:
// passkeys (mfaOnly false) or security keys (mfaOnly true).
func webauthnCredentials(ctx context.Context, st webauthn.Store, identityID string, mfaOnly bool) ([]core.WebAuthnCredential, error) {
	all, err := st.ListWebAuthnCredentials(ctx, identityID)
	if err != nil {
		return nil, err
	}
	var out []core.WebAuthnCredential
	for _, c := range all {
		if c.MFAOnly == mfaOnly {
			out = append(out, c)
		}
	}
	return out, nil
}

// firstFactorCount counts the ways an identity can sign in on its own:
// a password, each passkey, each linked provider, and sign-in codes when
// those are enabled (Kratos' CountActiveFirstFactorCredentials).
func (s *SelfService) firstFactorCount(ctx context.Context, i *core.Identity, st webauthn.Store) (int, error) {
	n := 0
	if c, ok := i.Credential(core.CredentialPassword); ok {
		var pc struct {
			HashedPassword string `json:"hashed_password"`
		}
		_ = json.Unmarshal(c.Config, &pc)
		if pc.HashedPassword != "" {
			n++
		}
	}
	for _, t := range []core.CredentialType{core.CredentialOIDC, core.CredentialSAML} {
		if c, ok := i.Credential(t); ok {
			n += len(c.Identifiers)
		}
	}
	if s.cfg.Methods.Code.Enabled && s.cfg.Methods.Code.PasswordlessEnabled {
		if c, ok := i.Credential(core.CredentialCode); ok && len(c.Identifiers) > 0 {
			n++
		}
	}
	keys, err := webauthnCredentials(ctx, st, i.ID, false)
	if err != nil {
		return 0, err
	}
	return n + len(keys), nil
}

// passkeyName is the name new passkeys of an identity get: its
// passkey.display_name trait (else its webauthn identifier), else its id.
func (s *SelfService) passkeyName(i *core.Identity) string {
	if sch, err := s.ids.Schemas().Schema(i.SchemaID); err == nil {
		if ex, err := sch.Extract(i.Traits); err == nil && ex.PasskeyDisplayName != "" {
			return ex.PasskeyDisplayName
		}
	}
	return i.ID
}

// displayNameField is the trait the registration script names a new
// passkey after (displayNameFieldName): the passkey.display_name trait,
// else the webauthn identifier, else the first password identifier.
func (s *SelfService) displayNameField() string {
	fields := s.schemaTraits()
	for _, pick := range []func(f traitField) bool{
		func(f traitField) bool { return f.PasskeyName },
		func(f traitField) bool { return f.WebAuthnID },
		func(f traitField) bool { return f.Identifier },
	} {
		for _, f := range fields {
			if pick(f) {
				return f.Name
			}
		}
	}
	return ""
}

// identifierName returns the account name a draft's traits give a passkey
// created at registration.
func identifierName(ex *schema.Extracted, fallback string) string {
	if ex != nil && ex.PasskeyDisplayName != "" {
		return ex.PasskeyDisplayName
	}
	return fallback
}

// ceremonyError maps the method's errors to the message a form shows, or
// returns the error when it is not the client's (the step then fails).
func ceremonyError(err error, unknown Text) (Text, error) {
	switch {
	case errors.Is(err, webauthn.ErrUnknownCredential):
		return unknown, nil
	case errors.Is(err, webauthn.ErrNoCeremony), errors.Is(err, webauthn.ErrMalformed),
		errors.Is(err, webauthn.ErrVerificationFailed), errors.Is(err, webauthn.ErrMFAOnly),
		errors.Is(err, webauthn.ErrClonedAuthenticator):
		return msgWebAuthnWrong, nil
	case errors.Is(err, webauthn.ErrCredentialExists):
		return genericText(core.ErrorMessage(webauthn.ErrCredentialExists)), nil
	}
	return Text{}, err
}

// dryRun is a webauthn.Store that reads through st and keeps the
// credential a registration would create instead of writing it, so a
// registration whose identity does not exist yet can be verified first.
type dryRun struct {
	webauthn.Store
	created *core.WebAuthnCredential
}

func (d *dryRun) CreateWebAuthnCredential(_ context.Context, c *core.WebAuthnCredential) error {
	cp := *c
	d.created = &cp
	return nil
}

// notFound reports whether err is the store's not-found error.
func notFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// ceremonyKey is the stash key of one ceremony.
func ceremonyKey(name string) flow.Key[ceremony] { return flow.NewKey[ceremony]("kratos." + name) }
