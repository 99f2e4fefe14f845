package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/schema"
)

// Mapped is what a sign-up takes from the provider.
type Mapped struct {
	Traits         json.RawMessage
	MetadataPublic json.RawMessage // nil when the mapper sets none
	MetadataAdmin  json.RawMessage
	// VerifiedEmail is the provider's e-mail, normalised, when the provider
	// asserts it is verified; "" otherwise. An address of the new identity
	// equal to it may be stored as verified.
	VerifiedEmail string
}

// claimsVar is the claims object mappers read as std.extVar('claims'), in
// the shape Kratos passes (its Claims struct plus raw_claims).
func claimsVar(p *Provider, c *Claims) (json.RawMessage, error) {
	v := map[string]any{}
	for k, x := range c.Raw {
		v[k] = x
	}
	v["iss"] = c.Raw["iss"]
	v["sub"] = c.Subject
	v["email"] = c.Email
	v["email_verified"] = c.EmailVerified
	v["name"] = c.Name
	v["given_name"] = c.GivenName
	v["family_name"] = c.FamilyName
	v["picture"] = c.Picture
	v["raw_claims"] = c.Raw
	if v["iss"] == nil {
		delete(v, "iss")
	}
	return json.Marshal(v)
}

// Map turns the claims into traits (and metadata) for a new identity whose
// schema is schemaRaw (the whole identity JSON schema). Without a mapper
// the default mapping fills the schema's e-mail trait from a verified
// e-mail only, and name, given_name, family_name and picture where the
// schema has string traits of those names. A mapper gets
// std.extVar('claims') and must return {identity: {traits: {…}}}. Errors
// are *core.Error with CodeInvalid and a message for the user; the cause
// (for the operator's log) says what went wrong in the mapper.
func (m *Method) Map(ctx context.Context, p *Provider, c *Claims, schemaRaw json.RawMessage) (*Mapped, error) {
	out := &Mapped{}
	if c.EmailVerified && c.Email != "" {
		out.VerifiedEmail = NormalizeEmail(c.Email)
	}
	if p.Mapper == "" {
		t, err := defaultTraits(c, schemaRaw)
		if err != nil {
			return nil, mapError(p, err)
		}
		out.Traits = t
		return out, nil
	}
	claims, err := claimsVar(p, c)
	if err != nil {
		return nil, mapError(p, err)
	}
	res, err := m.mapper.Evaluate(ctx, p.MapperID, p.Mapper, map[string]json.RawMessage{"claims": claims})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, mapError(p, err)
	}
	var doc struct {
		Identity *struct {
			Traits         json.RawMessage `json:"traits"`
			MetadataPublic json.RawMessage `json:"metadata_public"`
			MetadataAdmin  json.RawMessage `json:"metadata_admin"`
		} `json:"identity"`
	}
	if err := json.Unmarshal(res, &doc); err != nil {
		return nil, mapError(p, fmt.Errorf("mapper %s returned %s, want an object {identity: {traits: {…}}}", p.MapperID, jsonKind(res)))
	}
	if doc.Identity == nil || !isObject(doc.Identity.Traits) {
		return nil, mapError(p, fmt.Errorf("mapper %s returned no identity.traits object", p.MapperID))
	}
	out.Traits = doc.Identity.Traits
	if isObject(doc.Identity.MetadataPublic) {
		out.MetadataPublic = doc.Identity.MetadataPublic
	}
	if isObject(doc.Identity.MetadataAdmin) {
		out.MetadataAdmin = doc.Identity.MetadataAdmin
	}
	return out, nil
}

func mapError(p *Provider, cause error) error {
	return &core.Error{Code: core.CodeInvalid, Field: "provider",
		Message: fmt.Sprintf("Your %s account could not be turned into an account here: the site's mapping of %s data failed. Please try another way to sign in, or contact the site's operator.", p.DisplayName(), p.DisplayName()),
		Cause:   cause}
}

// defaultTraits maps the standard claims onto the schema's top-level string
// traits.
func defaultTraits(c *Claims, schemaRaw json.RawMessage) (json.RawMessage, error) {
	var sch struct {
		Properties struct {
			Traits struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"traits"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(schemaRaw, &sch); err != nil {
		return nil, fmt.Errorf("default mapping: read identity schema: %w", err)
	}
	traits := map[string]any{}
	for name, raw := range sch.Properties.Traits.Properties {
		var prop struct {
			Type   any    `json:"type"`
			Format string `json:"format"`
			Ext    struct {
				Verification struct {
					Via string `json:"via"`
				} `json:"verification"`
			} `json:"ory.sh/kratos"`
		}
		if json.Unmarshal(raw, &prop) != nil || prop.Type != "string" {
			continue
		}
		switch {
		case prop.Format == "email" || prop.Ext.Verification.Via == "email":
			if c.EmailVerified && c.Email != "" {
				traits[name] = c.Email
			}
		case name == "name" && c.Name != "":
			traits[name] = c.Name
		case name == "given_name" && c.GivenName != "":
			traits[name] = c.GivenName
		case name == "family_name" && c.FamilyName != "":
			traits[name] = c.FamilyName
		case name == "picture" && c.Picture != "":
			traits[name] = c.Picture
		}
	}
	return json.Marshal(traits)
}

// NormalizeEmail lower-cases and trims an e-mail address as the identity
// store keeps them.
func NormalizeEmail(s string) string { return schema.Normalize(core.ViaEmail, s) }

func isObject(raw json.RawMessage) bool {
	var v map[string]any
	return len(raw) > 0 && json.Unmarshal(raw, &v) == nil && v != nil
}

func jsonKind(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "something that is not JSON"
	}
	switch v.(type) {
	case map[string]any:
		return "an object of the wrong shape"
	case []any:
		return "an array"
	case string:
		return "a string"
	case nil:
		return "null"
	default:
		return "a " + fmt.Sprintf("%T", v)
	}
}
