package store

import (
	"context"
	"time"
)

// TrustedDevice is a device that passed a second factor at a Hanko login
// and skips it until ExpiresAt (hanko.mfa.device_trust_*). TokenHash is the
// SHA-256 of the secret the device's cookie carries.
type TrustedDevice struct {
	ID         string // UUID, also in the cookie
	IdentityID string
	TokenHash  []byte
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// TrustedDevices stores trusted devices. DeleteIdentity removes them with
// the identity.
type TrustedDevices interface {
	// CreateTrustedDevice inserts d (every field set by the caller), then
	// removes the identity's devices that expired before d.CreatedAt and
	// all but its newest keep ones (created_at, then id), so an identity
	// never has more than keep. ErrNotFound when d.IdentityID names no
	// identity, ErrConflict when the id exists.
	CreateTrustedDevice(ctx context.Context, d *TrustedDevice, keep int) error
	// GetTrustedDevice returns the device with the id, expired or not, or
	// ErrNotFound (also for an id that is not a UUID).
	GetTrustedDevice(ctx context.Context, id string) (*TrustedDevice, error)
}
