package core

import (
	"encoding/json"
	"time"
)

// FlowKind is what a flow is for.
type FlowKind string

// The flow kinds of both faces.
const (
	FlowLogin        FlowKind = "login"
	FlowRegistration FlowKind = "registration"
	FlowSettings     FlowKind = "settings"
	FlowRecovery     FlowKind = "recovery"
	FlowVerification FlowKind = "verification"
	FlowProfile      FlowKind = "profile"
)

// Flow is the stored record of a flow in progress. Flows live in the store,
// never in process memory, so any replica can continue any flow. Version is
// incremented on every update; an update whose Version does not match the
// stored one fails with a conflict, so two concurrent submissions of one step
// cannot both win.
type Flow struct {
	ID         string
	Kind       FlowKind
	Face       string // "kratos" or "hanko"
	Type       string // Kratos' "browser" or "api"; empty for Hanko
	State      string
	Stash      json.RawMessage // typed per flow definition, stored as JSON
	CSRFToken  string
	IdentityID string // set once the flow knows who it is about; empty otherwise
	Version    int
	ExpiresAt  time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Expired reports whether the flow has expired at now.
func (f *Flow) Expired(now time.Time) bool { return !now.Before(f.ExpiresAt) }
