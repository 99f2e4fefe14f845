package hanko

import (
	"context"
	"slices"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// stepStore is the store the Flow API's engine runs its steps on: each
// step's transaction is a stepTx, which reads the flow's user and its
// WebAuthn credentials once per step however many of the step's actions
// and hooks ask for them (a passkey login's verifyAssertion, the
// onboarding checks, loginSucceeded and the session issued at success each
// did).
type stepStore struct{ store.Store }

// Update runs fn on a stepTx over the store's transaction.
func (s stepStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(newStepTx(tx)) })
}

// stepTx remembers the identities (GetIdentity) and WebAuthn credential
// lists (ListWebAuthnCredentials) read through it. Every write to
// identities or WebAuthn credentials through it forgets all it remembers,
// so a read after a write sees the write. Callers get copies: changing
// what a read returned changes nothing remembered.
type stepTx struct {
	store.Tx
	users map[string]*core.Identity
	creds map[string][]core.WebAuthnCredential
}

func newStepTx(tx store.Tx) *stepTx { return &stepTx{Tx: tx} }

func (t *stepTx) forget() {
	t.users, t.creds = nil, nil
}

// GetIdentity returns the identity as first read in this transaction (or
// since the last write).
func (t *stepTx) GetIdentity(ctx context.Context, id string) (*core.Identity, error) {
	if i, ok := t.users[id]; ok {
		return i.Clone(), nil
	}
	i, err := t.Tx.GetIdentity(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.users == nil {
		t.users = make(map[string]*core.Identity, 1)
	}
	t.users[id] = i.Clone()
	return i, nil
}

// ListWebAuthnCredentials returns the identity's credentials as first read
// in this transaction (or since the last write).
func (t *stepTx) ListWebAuthnCredentials(ctx context.Context, identityID string) ([]core.WebAuthnCredential, error) {
	if list, ok := t.creds[identityID]; ok {
		return slices.Clone(list), nil
	}
	list, err := t.Tx.ListWebAuthnCredentials(ctx, identityID)
	if err != nil {
		return nil, err
	}
	if t.creds == nil {
		t.creds = make(map[string][]core.WebAuthnCredential, 1)
	}
	t.creds[identityID] = slices.Clone(list)
	return list, nil
}

func (t *stepTx) CreateIdentity(ctx context.Context, i *core.Identity) error {
	t.forget()
	return t.Tx.CreateIdentity(ctx, i)
}

func (t *stepTx) UpdateIdentity(ctx context.Context, i *core.Identity) error {
	t.forget()
	return t.Tx.UpdateIdentity(ctx, i)
}

func (t *stepTx) DeleteIdentity(ctx context.Context, id string) error {
	t.forget()
	return t.Tx.DeleteIdentity(ctx, id)
}

func (t *stepTx) CreateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error {
	t.forget()
	return t.Tx.CreateWebAuthnCredential(ctx, c)
}

func (t *stepTx) UpdateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error {
	t.forget()
	return t.Tx.UpdateWebAuthnCredential(ctx, c)
}

func (t *stepTx) DeleteWebAuthnCredential(ctx context.Context, identityID, id string) error {
	t.forget()
	return t.Tx.DeleteWebAuthnCredential(ctx, identityID, id)
}
