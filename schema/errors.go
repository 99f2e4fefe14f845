package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/latchkey/latchkey/core"
)

var printer = message.NewPrinter(language.English)

// Kratos' ids for the validation messages a schema can produce
// (text/id.go). The faces put them on the wire as ui.text ids.
const (
	MessageGeneric          = 4000001 // free text; context {"reason"}
	MessageRequired         = 4000002 // context {"property"}
	MessageMinLength        = 4000003 // context {"min_length", "actual_length"}
	MessageInvalidFormat    = 4000004 // pattern mismatch; context {"pattern"}
	MessageMaxLength        = 4000017 // context {"max_length", "actual_length"}
	MessageMinimum          = 4000018 // context {"minimum", "actual"}
	MessageExclusiveMinimum = 4000019 // context {"minimum", "actual"}
	MessageMaximum          = 4000020 // context {"maximum", "actual"}
	MessageExclusiveMaximum = 4000021 // context {"maximum", "actual"}
	MessageMultipleOf       = 4000022 // context {"base", "actual"}
	MessageMaxItems         = 4000023 // context {"max_items", "actual_items"}
	MessageMinItems         = 4000024 // context {"min_items", "actual_items"}
	MessageUniqueItems      = 4000025 // context {"index_a", "index_b"}
	MessageWrongType        = 4000026 // context {"allowed_types", "actual_type"}
	MessageConst            = 4000029 // context {"expected"}
	MessageConstGeneric     = 4000030 // no context
)

// ValidationError lists why traits do not satisfy an identity schema. It
// unwraps to a *core.Error with CodeInvalid, so faces that only look at
// codes answer 400.
type ValidationError struct {
	SchemaID string
	// Causes holds one entry per violation, ordered by Pointer, then Keyword.
	Causes []Cause
}

// Cause is one violation, carrying what both faces need: where (Pointer),
// which keyword failed, Kratos' English text and message id with its
// context values.
type Cause struct {
	// Pointer is a JSON pointer (RFC 6901) into the traits, e.g. "/email" or
	// "/emails/1"; "" means the traits object itself. For "required" it
	// points at the missing property.
	Pointer string
	// Keyword is the failing JSON Schema keyword ("required", "format",
	// "minLength", "type", ...). Checks implied by the ory.sh/kratos extension
	// report "format".
	Keyword string
	// Message is Kratos' English text, e.g. `"foo" is not valid "email"` or
	// "Property email is missing.".
	Message string
	// ID is Kratos' message id (one of the Message* constants).
	ID int
	// Context holds the values of Kratos' message context, with Kratos' keys.
	Context map[string]any
}

// KratosPointer returns the pointer as Kratos reports it on the identity
// document, e.g. "#/traits/email".
func (c Cause) KratosPointer() string { return "#/traits" + c.Pointer }

// NodeName returns the name of the Kratos UI node the cause belongs to, e.g.
// "traits.email" or "traits.emails.1".
func (c Cause) NodeName() string {
	if c.Pointer == "" {
		return "traits"
	}
	toks := strings.Split(c.Pointer[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return "traits." + strings.Join(toks, ".")
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "traits do not match identity schema %q", e.SchemaID)
	for i, c := range e.Causes {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		p := c.Pointer
		if p == "" {
			p = "/"
		}
		fmt.Fprintf(&b, "%s: %s", p, c.Message)
	}
	return b.String()
}

// Unwrap returns the *core.Error the faces map to a 400.
func (e *ValidationError) Unwrap() error {
	ce := &core.Error{Code: core.CodeInvalid, Message: "The identity traits are invalid."}
	if len(e.Causes) > 0 {
		ce.Field = e.Causes[0].NodeName()
		ce.Message = e.Causes[0].Message
	}
	return ce
}

// pointer renders instance-location tokens as a JSON pointer.
func pointer(toks []string) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// traitsPointer renders an instance location of the wrapped identity
// ({"traits": ...}) as a pointer into the traits.
func traitsPointer(loc []string) string {
	if len(loc) > 0 && loc[0] == "traits" {
		loc = loc[1:]
	}
	return pointer(loc)
}

// causes flattens a validation error tree into its leaves, as Kratos does
// when it folds schema errors into UI messages.
func causes(ve *jsonschema.ValidationError) []Cause {
	var out []Cause
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, leafCauses(e)...)
	}
	walk(ve)
	return sortCauses(out)
}

func sortCauses(cs []Cause) []Cause {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Pointer != cs[j].Pointer {
			return cs[i].Pointer < cs[j].Pointer
		}
		if cs[i].Keyword != cs[j].Keyword {
			return cs[i].Keyword < cs[j].Keyword
		}
		return cs[i].Message < cs[j].Message
	})
	// The same leaf can be reached twice (allOf, $ref); report it once.
	out := cs[:0]
	for i, c := range cs {
		if i > 0 && c.Pointer == cs[i-1].Pointer && c.Keyword == cs[i-1].Keyword && c.Message == cs[i-1].Message {
			continue
		}
		out = append(out, c)
	}
	return out
}

func leafCauses(e *jsonschema.ValidationError) []Cause {
	ptr := traitsPointer(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		cs := make([]Cause, 0, len(k.Missing))
		for _, m := range k.Missing {
			cs = append(cs, Cause{
				Pointer: ptr + pointer([]string{m}),
				Keyword: "required",
				Message: fmt.Sprintf("Property %s is missing.", m),
				ID:      MessageRequired,
				Context: map[string]any{"property": m},
			})
		}
		return cs
	case *kind.Type:
		return []Cause{typeCause(ptr, k.Want, k.Got)}
	case *kind.MinLength:
		return []Cause{{ptr, "minLength", fmt.Sprintf("length must be >= %d, but got %d", k.Want, k.Got), MessageMinLength,
			map[string]any{"min_length": k.Want, "actual_length": k.Got}}}
	case *kind.MaxLength:
		return []Cause{{ptr, "maxLength", fmt.Sprintf("length must be <= %d, but got %d", k.Want, k.Got), MessageMaxLength,
			map[string]any{"max_length": k.Want, "actual_length": k.Got}}}
	case *kind.Pattern:
		return []Cause{{ptr, "pattern", fmt.Sprintf("does not match pattern %q", k.Want), MessageInvalidFormat,
			map[string]any{"pattern": k.Want}}}
	case *kind.Format:
		return []Cause{formatCause(ptr, k.Got, k.Want)}
	case *kind.Minimum:
		return []Cause{numberCause(ptr, "minimum", "must be >= %v but found %v", MessageMinimum, "minimum", k.Want, k.Got)}
	case *kind.ExclusiveMinimum:
		return []Cause{numberCause(ptr, "exclusiveMinimum", "must be > %v but found %v", MessageExclusiveMinimum, "minimum", k.Want, k.Got)}
	case *kind.Maximum:
		return []Cause{numberCause(ptr, "maximum", "must be <= %v but found %v", MessageMaximum, "maximum", k.Want, k.Got)}
	case *kind.ExclusiveMaximum:
		return []Cause{numberCause(ptr, "exclusiveMaximum", "must be < %v but found %v", MessageExclusiveMaximum, "maximum", k.Want, k.Got)}
	case *kind.MultipleOf:
		base, actual := ratFloat(k.Want), ratFloat(k.Got)
		return []Cause{{ptr, "multipleOf", fmt.Sprintf("%v not multipleOf %v", actual, base), MessageMultipleOf,
			map[string]any{"base": base, "actual": actual}}}
	case *kind.MaxItems:
		return []Cause{{ptr, "maxItems", fmt.Sprintf("maximum %d items allowed, but found %d items", k.Want, k.Got), MessageMaxItems,
			map[string]any{"max_items": k.Want, "actual_items": k.Got}}}
	case *kind.MinItems:
		return []Cause{{ptr, "minItems", fmt.Sprintf("minimum %d items allowed, but found %d items", k.Want, k.Got), MessageMinItems,
			map[string]any{"min_items": k.Want, "actual_items": k.Got}}}
	case *kind.UniqueItems:
		return []Cause{{ptr, "uniqueItems", fmt.Sprintf("items at index %d and %d are equal", k.Duplicates[0], k.Duplicates[1]), MessageUniqueItems,
			map[string]any{"index_a": k.Duplicates[0], "index_b": k.Duplicates[1]}}}
	case *kind.Const:
		switch k.Want.(type) {
		case []any, map[string]any:
			return []Cause{{Pointer: ptr, Keyword: "const", Message: "const failed", ID: MessageConstGeneric}}
		}
		want := displayJSON(k.Want)
		return []Cause{{ptr, "const", fmt.Sprintf("must be equal to constant %v", want), MessageConst,
			map[string]any{"expected": want}}}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = displayJSON(w)
		}
		msg := "value must be one of " + strings.Join(want, ", ")
		if len(want) == 1 {
			msg = "value must be " + want[0]
		}
		return []Cause{genericCause(ptr, "enum", msg)}
	case *kind.AdditionalProperties:
		quoted := make([]string, len(k.Properties))
		for i, p := range k.Properties {
			quoted[i] = strconv.Quote(p)
		}
		return []Cause{genericCause(ptr, "additionalProperties", fmt.Sprintf("additionalProperties %s not allowed", strings.Join(quoted, ", ")))}
	case *kind.FalseSchema:
		return []Cause{genericCause(ptr, "false", "value is not allowed")}
	default:
		kw := ""
		if p := e.ErrorKind.KeywordPath(); len(p) > 0 {
			kw = p[0]
		}
		return []Cause{genericCause(ptr, kw, e.ErrorKind.LocalizedString(printer))}
	}
}

func genericCause(ptr, keyword, msg string) Cause {
	return Cause{Pointer: ptr, Keyword: keyword, Message: msg, ID: MessageGeneric, Context: map[string]any{"reason": msg}}
}

func typeCause(ptr string, want []string, got string) Cause {
	return Cause{
		Pointer: ptr,
		Keyword: "type",
		Message: fmt.Sprintf("expected %s, but got %s", strings.Join(want, " or "), got),
		ID:      MessageWrongType,
		Context: map[string]any{"allowed_types": want, "actual_type": got},
	}
}

// formatCause is the cause for a value that is not of a format, both from
// the "format" keyword and from the extension's address checks. Kratos
// reports it as a generic message with this text.
func formatCause(ptr string, got any, format string) Cause {
	var msg string
	if s, ok := got.(string); ok {
		msg = fmt.Sprintf("%q is not valid %q", s, format)
	} else {
		msg = fmt.Sprintf("%s is not valid %q", displayJSON(got), format)
	}
	return genericCause(ptr, "format", msg)
}

func numberCause(ptr, keyword, format string, id int, limitKey string, want, got *big.Rat) Cause {
	w, g := ratFloat(want), ratFloat(got)
	return Cause{ptr, keyword, fmt.Sprintf(format, w, g), id, map[string]any{limitKey: w, "actual": g}}
}

// ratFloat converts for messages; parseTraits keeps numbers within float64
// range, and anything else is clamped so the context stays encodable.
func ratFloat(r *big.Rat) float64 {
	if r == nil {
		return 0
	}
	f, _ := r.Float64()
	switch {
	case math.IsInf(f, 1):
		return math.MaxFloat64
	case math.IsInf(f, -1):
		return -math.MaxFloat64
	}
	return f
}

// displayJSON renders a value as JSON text, for messages.
func displayJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
