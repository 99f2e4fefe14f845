package schema

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/latchkey/latchkey/core"
)

// Address is an address the ory.sh/kratos extension names in the traits: a
// channel and a normalised value.
type Address struct {
	Via   core.AddressVia
	Value string
}

// Extracted is what the ory.sh/kratos extension derives from valid traits.
// All values are normalised (see Normalize and NormalizeIdentifier) and
// de-duplicated; empty values are skipped.
type Extracted struct {
	// Identifiers holds the login identifiers per credential type: password
	// and webauthn from credentials.<type>.identifier, code from
	// credentials.code.identifier. Types without identifiers are absent.
	// Passkey credentials are found by their user handle, not by traits.
	Identifiers map[core.CredentialType][]string
	// CodeIdentifiers are the addresses one-time codes may be sent to for
	// login, sorted by value then channel (Kratos' code credential config).
	CodeIdentifiers []Address
	// VerifiableAddresses are the addresses named by verification.via, in
	// traits order.
	VerifiableAddresses []Address
	// RecoveryAddresses are the addresses named by recovery.via, in traits
	// order.
	RecoveryAddresses []Address
	// PrimaryEmail is the normalised top-level "email" trait when it is a
	// non-empty string, "" otherwise; ApplyAddresses makes it the primary
	// e-mail address (Hanko).
	PrimaryEmail string
	// PasskeyDisplayName is the first passkey.display_name trait as written,
	// else the first webauthn identifier, else "".
	PasskeyDisplayName string
	// TOTPAccountName is the first totp.account_name trait as written, or ""
	// (Kratos then uses the identity id).
	TOTPAccountName string
}

// Extract validates traits like Validate and, when they are valid, returns
// what the ory.sh/kratos extension derives from them. Errors are those of
// Validate.
//
// Traits are visited depth-first with object properties in lexical order and
// array items in index order, so "first" is deterministic. The extension is
// honoured under properties, patternProperties, additionalProperties, items
// (all drafts), $ref, allOf, and under anyOf, oneOf, if/then/else and
// dependencies only where the branch applies to the value. Only string
// values carry identifiers or addresses; the extension on a non-string value
// is ignored.
func (s *Schema) Extract(traits json.RawMessage) (*Extracted, error) {
	v, err := parseTraits(traits)
	if err != nil {
		return nil, err
	}
	if err := s.validate(v); err != nil {
		return nil, err
	}
	w := walker{seen: make(map[visit]bool)}
	w.walk(s.compiled, map[string]any{"traits": v}, nil)
	ex, cs := w.result(v)
	if len(cs) > 0 {
		return nil, &ValidationError{SchemaID: s.ID, Causes: sortCauses(cs)}
	}
	return ex, nil
}

// hit is one value the extension applies to.
type hit struct {
	ext   *extensionConfig
	ptr   string // into the traits
	value string
}

type visit struct {
	sch *jsonschema.Schema
	ptr string
}

type walker struct {
	seen map[visit]bool
	hits []hit
}

func (w *walker) walk(sch *jsonschema.Schema, v any, loc []string) {
	if sch == nil {
		return
	}
	ptr := pointer(loc)
	key := visit{sch, ptr}
	if w.seen[key] {
		return // a $ref cycle, or the same subschema reached twice
	}
	w.seen[key] = true

	for _, x := range sch.Extensions {
		if e, ok := x.(*extension); ok && len(loc) > 1 && loc[0] == "traits" {
			if s, ok := v.(string); ok {
				w.hits = append(w.hits, hit{ext: &e.cfg, ptr: pointer(loc[1:]), value: s})
			}
		}
	}

	w.walk(sch.Ref, v, loc)
	w.walk(sch.RecursiveRef, v, loc)
	if sch.DynamicRef != nil {
		w.walk(sch.DynamicRef.Ref, v, loc)
	}
	for _, sub := range sch.AllOf {
		w.walk(sub, v, loc)
	}
	for _, sub := range sch.AnyOf {
		if sub.Validate(v) == nil {
			w.walk(sub, v, loc)
		}
	}
	for _, sub := range sch.OneOf {
		if sub.Validate(v) == nil {
			w.walk(sub, v, loc)
		}
	}
	if sch.If != nil {
		if sch.If.Validate(v) == nil {
			w.walk(sch.If, v, loc)
			w.walk(sch.Then, v, loc)
		} else {
			w.walk(sch.Else, v, loc)
		}
	}

	switch v := v.(type) {
	case map[string]any:
		w.walkObject(sch, v, loc)
	case []any:
		w.walkArray(sch, v, loc)
	}
}

func (w *walker) walkObject(sch *jsonschema.Schema, obj map[string]any, loc []string) {
	names := make([]string, 0, len(obj))
	for n := range obj {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		val := obj[n]
		sub := append(slices.Clip(loc), n)
		matched := false
		if p, ok := sch.Properties[n]; ok {
			matched = true
			w.walk(p, val, sub)
		}
		for re, p := range sch.PatternProperties {
			if re.MatchString(n) {
				matched = true
				w.walk(p, val, sub)
			}
		}
		if !matched {
			if ap, ok := sch.AdditionalProperties.(*jsonschema.Schema); ok {
				w.walk(ap, val, sub)
			}
		}
		if d, ok := sch.DependentSchemas[n]; ok {
			w.walk(d, obj, loc)
		}
		if d, ok := sch.Dependencies[n].(*jsonschema.Schema); ok {
			w.walk(d, obj, loc)
		}
	}
}

func (w *walker) walkArray(sch *jsonschema.Schema, arr []any, loc []string) {
	var prefix []*jsonschema.Schema
	var rest *jsonschema.Schema
	switch items := sch.Items.(type) {
	case *jsonschema.Schema:
		rest = items
	case []*jsonschema.Schema:
		prefix = items
		if ai, ok := sch.AdditionalItems.(*jsonschema.Schema); ok {
			rest = ai
		}
	}
	if len(sch.PrefixItems) > 0 {
		prefix = sch.PrefixItems
	}
	if sch.Items2020 != nil {
		rest = sch.Items2020
	}
	for i, val := range arr {
		sub := append(slices.Clip(loc), strconv.Itoa(i))
		if i < len(prefix) {
			w.walk(prefix[i], val, sub)
		} else {
			w.walk(rest, val, sub)
		}
	}
}

// result turns the hits into an Extracted, checking the addresses the
// extension implies.
func (w *walker) result(traits any) (*Extracted, []Cause) {
	// Hits arrive in walk order, which for one value may repeat; sort by
	// pointer so traits order decides "first".
	sort.SliceStable(w.hits, func(i, j int) bool { return lessPointer(w.hits[i].ptr, w.hits[j].ptr) })

	ex := &Extracted{Identifiers: make(map[core.CredentialType][]string)}
	var cs []Cause
	var webauthnFirst string
	addID := func(t core.CredentialType, id string) {
		if id != "" && !slices.Contains(ex.Identifiers[t], id) {
			ex.Identifiers[t] = append(ex.Identifiers[t], id)
		}
	}
	address := func(h hit, via string) (Address, bool) {
		a := Address{Via: core.AddressVia(via), Value: Normalize(core.AddressVia(via), h.value)}
		if a.Value == "" {
			return a, false
		}
		if !ValidAddress(a.Via, a.Value) {
			format := "email"
			if a.Via == core.ViaSMS {
				format = "tel"
			}
			cs = append(cs, formatCause(h.ptr, h.value, format))
			return a, false
		}
		return a, true
	}

	for _, h := range w.hits {
		c := &h.ext.Credentials
		if c.Password.Identifier {
			addID(core.CredentialPassword, NormalizeIdentifier(h.value))
		}
		if c.WebAuthn.Identifier {
			id := NormalizeIdentifier(h.value)
			addID(core.CredentialWebAuthn, id)
			if webauthnFirst == "" {
				webauthnFirst = id
			}
		}
		if c.Passkey.DisplayName && ex.PasskeyDisplayName == "" {
			ex.PasskeyDisplayName = strings.TrimSpace(h.value)
		}
		if c.TOTP.AccountName && ex.TOTPAccountName == "" {
			ex.TOTPAccountName = strings.TrimSpace(h.value)
		}
		if c.Code.Identifier {
			if a, ok := address(h, c.Code.Via); ok && !slices.Contains(ex.CodeIdentifiers, a) {
				ex.CodeIdentifiers = append(ex.CodeIdentifiers, a)
			}
		}
		if via := h.ext.Verification.Via; via != "" {
			if a, ok := address(h, via); ok && !slices.Contains(ex.VerifiableAddresses, a) {
				ex.VerifiableAddresses = append(ex.VerifiableAddresses, a)
			}
		}
		if via := h.ext.Recovery.Via; via != "" {
			if a, ok := address(h, via); ok && !slices.Contains(ex.RecoveryAddresses, a) {
				ex.RecoveryAddresses = append(ex.RecoveryAddresses, a)
			}
		}
	}
	if len(cs) > 0 {
		return nil, cs
	}

	sort.SliceStable(ex.CodeIdentifiers, func(i, j int) bool {
		a, b := ex.CodeIdentifiers[i], ex.CodeIdentifiers[j]
		if a.Value != b.Value {
			return a.Value < b.Value
		}
		return a.Via < b.Via
	})
	for _, a := range ex.CodeIdentifiers {
		addID(core.CredentialCode, a.Value)
	}
	if ex.PasskeyDisplayName == "" {
		ex.PasskeyDisplayName = webauthnFirst
	}
	if obj, ok := traits.(map[string]any); ok {
		if e, ok := obj["email"].(string); ok {
			ex.PrimaryEmail = Normalize(core.ViaEmail, e)
		}
	}
	return ex, nil
}

// lessPointer orders JSON pointers by their tokens, array indexes
// numerically, so "/emails/2" comes before "/emails/10".
func lessPointer(a, b string) bool {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		na, errA := strconv.Atoi(ta[i])
		nb, errB := strconv.Atoi(tb[i])
		if errA == nil && errB == nil {
			return na < nb
		}
		return ta[i] < tb[i]
	}
	return len(ta) < len(tb)
}

var emailSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	const url = "latchkey:///meta/email.schema.json"
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(url, map[string]any{"type": "string", "format": "email"}); err != nil {
		return nil, err
	}
	return c.Compile(url)
})

// validEmail reports whether s is an e-mail address per the JSON Schema
// "email" format (RFC 5321 mailbox, checked by jsonschema/v6).
func validEmail(s string) bool {
	sch, err := emailSchema()
	if err != nil {
		return false
	}
	return sch.Validate(s) == nil
}
