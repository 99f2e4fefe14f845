package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// patchDoc is the JSON view of an identity that JSON Patch documents apply
// to: Kratos' identity shape without credentials.
type patchDoc struct {
	ID                  string             `json:"id"`
	SchemaID            string             `json:"schema_id"`
	SchemaURL           string             `json:"schema_url,omitempty"`
	State               core.IdentityState `json:"state"`
	StateChangedAt      *time.Time         `json:"state_changed_at,omitempty"`
	Traits              json.RawMessage    `json:"traits"`
	VerifiableAddresses []patchAddress     `json:"verifiable_addresses"`
	RecoveryAddresses   []patchRecovery    `json:"recovery_addresses"`
	MetadataPublic      json.RawMessage    `json:"metadata_public"`
	MetadataAdmin       json.RawMessage    `json:"metadata_admin"`
	ExternalID          string             `json:"external_id,omitempty"`
	OrganizationID      *string            `json:"organization_id"`
	CreatedAt           time.Time          `json:"created_at"`
	UpdatedAt           time.Time          `json:"updated_at"`
}

type patchAddress struct {
	ID         string             `json:"id,omitempty"`
	Value      string             `json:"value"`
	Via        core.AddressVia    `json:"via"`
	Verified   bool               `json:"verified"`
	VerifiedAt *time.Time         `json:"verified_at,omitempty"`
	Status     core.AddressStatus `json:"status"`
	CreatedAt  *time.Time         `json:"created_at,omitempty"`
	UpdatedAt  *time.Time         `json:"updated_at,omitempty"`
}

type patchRecovery struct {
	ID        string          `json:"id,omitempty"`
	Value     string          `json:"value"`
	Via       core.AddressVia `json:"via"`
	CreatedAt *time.Time      `json:"created_at,omitempty"`
	UpdatedAt *time.Time      `json:"updated_at,omitempty"`
}

// ProtectedPaths are the JSON pointers (and everything below them) that a
// JSON Patch may not touch: they are set by the server.
var ProtectedPaths = []string{"/id", "/schema_url", "/credentials", "/created_at", "/updated_at", "/state_changed_at"}

// protectedAddressFields may not be changed inside an address entry.
var protectedAddressFields = map[string]bool{"id": true, "created_at": true, "updated_at": true}

func docOf(i *core.Identity) patchDoc {
	d := patchDoc{
		ID: i.ID, SchemaID: i.SchemaID, State: i.State, Traits: i.Traits,
		MetadataPublic: i.MetadataPublic, MetadataAdmin: i.MetadataAdmin, ExternalID: i.ExternalID,
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
		VerifiableAddresses: []patchAddress{}, RecoveryAddresses: []patchRecovery{},
	}
	if !i.StateChangedAt.IsZero() {
		t := i.StateChangedAt
		d.StateChangedAt = &t
	}
	if i.OrganizationID != "" {
		o := i.OrganizationID
		d.OrganizationID = &o
	}
	for _, a := range i.Addresses {
		ca, ua := a.CreatedAt, a.UpdatedAt
		if a.Verifiable {
			d.VerifiableAddresses = append(d.VerifiableAddresses, patchAddress{ID: a.ID, Value: a.Value, Via: a.Via,
				Verified: a.Verified, VerifiedAt: a.VerifiedAt, Status: a.Status, CreatedAt: &ca, UpdatedAt: &ua})
		}
		if a.Recovery {
			d.RecoveryAddresses = append(d.RecoveryAddresses, patchRecovery{ID: a.ID, Value: a.Value, Via: a.Via, CreatedAt: &ca, UpdatedAt: &ua})
		}
	}
	return d
}

// checkPatch rejects operations on protected paths before anything is
// applied.
func checkPatch(p jsonpatch.Patch) error {
	for n, op := range p {
		kind := op.Kind()
		switch kind {
		case "add", "remove", "replace", "move", "copy", "test":
		default:
			return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("%d.op", n),
				Message: fmt.Sprintf("Patch operation %d has the unknown op %q; use add, remove, replace, move, copy or test.", n, kind)}
		}
		path, err := op.Path()
		if err != nil {
			return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("%d.path", n),
				Message: fmt.Sprintf("Patch operation %d has no path.", n)}
		}
		if _, ok := op["value"]; !ok && (kind == "add" || kind == "replace" || kind == "test") {
			// RFC 6902 requires a value here; the patch library dereferences
			// the missing one (a test of "" without value panicked).
			return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("%d.value", n),
				Message: fmt.Sprintf("Patch operation %d (%s) has no value.", n, kind)}
		}
		pointers := []string{path}
		if kind == "move" {
			from, err := op.From()
			if err != nil {
				return &core.Error{Code: core.CodeInvalid, Field: fmt.Sprintf("%d.from", n),
					Message: fmt.Sprintf("Patch operation %d (move) has no from.", n)}
			}
			pointers = append(pointers, from)
		}
		if kind == "test" {
			continue
		}
		for _, ptr := range pointers {
			if protectedPointer(ptr) {
				return &core.Error{Code: core.CodeInvalid, Field: ptr,
					Message: fmt.Sprintf("Patch operation %d (%s) targets %q, which cannot be changed; protected are %s and the id and timestamps of addresses.", n, kind, ptr, strings.Join(ProtectedPaths, ", "))}
			}
		}
	}
	return nil
}

func protectedPointer(ptr string) bool {
	if ptr == "" || ptr == "/" {
		return true // replacing the whole document would replace the id
	}
	for _, p := range ProtectedPaths {
		if ptr == p || strings.HasPrefix(ptr, p+"/") {
			return true
		}
	}
	for _, list := range []string{"/verifiable_addresses/", "/recovery_addresses/"} {
		if rest, ok := strings.CutPrefix(ptr, list); ok {
			parts := strings.Split(rest, "/")
			if len(parts) >= 2 && protectedAddressFields[parts[1]] {
				return true
			}
		}
	}
	return false
}

// Patch applies a JSON Patch (RFC 6902) to the identity's JSON view and
// stores the result after re-validating it like Update. Paths under
// ProtectedPaths (and address ids and timestamps) are refused before
// anything is applied; the verified and status fields of
// verifiable_addresses may be patched to import verification state. Errors:
// CodeInvalid (bad patch, protected path, failed test op, schema
// violation), CodeNotFound, CodeConflict, CodeInternal.
func (s *Service) Patch(ctx context.Context, id string, patchJSON []byte) (*core.Identity, error) {
	cid, p, err := decodePatch(id, patchJSON)
	if err != nil {
		return nil, err
	}
	var out *core.Identity
	err = s.store.Update(ctx, func(tx store.Tx) error {
		i, err := s.WithTx(tx).patch(ctx, cid, p)
		out = i
		return err
	})
	if err != nil {
		return nil, asCoreError("patch identity", err)
	}
	return out, nil
}

// decodePatch checks the identity id and decodes and checks the patch.
func decodePatch(id string, patchJSON []byte) (string, jsonpatch.Patch, error) {
	cid, err := canonicalID(id)
	if err != nil {
		return "", nil, err
	}
	p, err := jsonpatch.DecodePatch(patchJSON)
	if err != nil {
		return "", nil, &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("The request body is not a JSON Patch document (an array of operations, RFC 6902): %v.", err), Cause: err}
	}
	if len(p) == 0 {
		return "", nil, core.Errorf(core.CodeInvalid, "The JSON Patch document has no operations.")
	}
	if err := checkPatch(p); err != nil {
		return "", nil, err
	}
	return cid, p, nil
}

// patchedDraft applies p to old's JSON view and returns the result as a
// draft; keepOrg is false when the patch removed the organization id.
func patchedDraft(old *core.Identity, p jsonpatch.Patch) (d Draft, keepOrg bool, err error) {
	before, err := json.Marshal(docOf(old))
	if err != nil {
		return Draft{}, false, &core.Error{Code: core.CodeInternal, Message: "Encoding the identity failed.", Cause: err}
	}
	after, err := p.ApplyWithOptions(before, &jsonpatch.ApplyOptions{
		SupportNegativeIndices: true, EnsurePathExistsOnAdd: false, AccumulatedCopySizeLimit: 1 << 20,
	})
	if err != nil {
		return Draft{}, false, &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("The JSON Patch could not be applied: %v.", err), Cause: err}
	}
	var doc patchDoc
	dec := json.NewDecoder(bytes.NewReader(after))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return Draft{}, false, &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("The patched identity is not valid: %v.", err), Cause: err}
	}
	d = Draft{
		SchemaID: doc.SchemaID, Traits: doc.Traits, State: doc.State,
		MetadataPublic: doc.MetadataPublic, MetadataAdmin: doc.MetadataAdmin, ExternalID: doc.ExternalID,
	}
	if d.State == "" {
		return Draft{}, false, &core.Error{Code: core.CodeInvalid, Field: "state", Message: "The state cannot be removed; use active or inactive."}
	}
	if doc.SchemaID == "" {
		return Draft{}, false, &core.Error{Code: core.CodeInvalid, Field: "schema_id", Message: "The schema_id cannot be removed."}
	}
	if doc.OrganizationID != nil {
		d.OrganizationID = *doc.OrganizationID
	}
	for _, a := range doc.VerifiableAddresses {
		d.VerifiableAddresses = append(d.VerifiableAddresses, AddressDraft{
			Via: a.Via, Value: a.Value, Verified: a.Verified, VerifiedAt: a.VerifiedAt, Status: a.Status})
	}
	return d, doc.OrganizationID != nil, nil
}
