package ui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// schemaInfo is what the pages read from an identity schema: its traits in
// the order the schema file writes them (Kratos' API lists trait nodes
// sorted by name; a person expects the order the schema's author chose),
// and the titles of the traits a password login accepts as identifier.
type schemaInfo struct {
	order       map[string]int // "traits.email" → position in the file
	identifiers []string       // titles of password identifier traits
}

// parseSchema reads an identity schema document, keeping the key order of
// its objects. It never fails: a part it does not understand is skipped,
// and a document that is not JSON gives a zero schemaInfo.
func parseSchema(raw []byte) schemaInfo {
	info := schemaInfo{order: map[string]int{}}
	root, ok := decodeOrdered(raw)
	if !ok {
		return info
	}
	props, _ := root.get("properties").(ordered)
	traits, _ := props.get("traits").(ordered)
	walkSchema(traits, "traits", &info)
	return info
}

func walkSchema(node ordered, prefix string, info *schemaInfo) {
	props, _ := node.get("properties").(ordered)
	for _, kv := range props {
		p, ok := kv.val.(ordered)
		if !ok {
			continue
		}
		name := prefix + "." + kv.key
		if typ, _ := p.get("type").(string); typ == "object" {
			walkSchema(p, name, info)
			continue
		}
		info.order[name] = len(info.order)
		ext, _ := p.get("ory.sh/kratos").(ordered)
		creds, _ := ext.get("credentials").(ordered)
		pw, _ := creds.get("password").(ordered)
		if id, _ := pw.get("identifier").(bool); id {
			if title, _ := p.get("title").(string); title != "" {
				info.identifiers = append(info.identifiers, title)
			}
		}
	}
}

// ordered is a JSON object with its keys in document order.
type ordered []keyValue

type keyValue struct {
	key string
	val any
}

// get returns the value of key (nil when o is not an object or lacks it).
func (o ordered) get(key string) any {
	for _, kv := range o {
		if kv.key == key {
			return kv.val
		}
	}
	return nil
}

// decodeOrdered decodes JSON whose objects become ordered values.
func decodeOrdered(raw []byte) (ordered, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, false
	}
	o, ok := v.(ordered)
	return o, ok
}

// maxDepth bounds the nesting decodeValue follows (a schema is a handful of
// levels deep).
const maxDepth = 64

type depthError struct{}

func (depthError) Error() string { return "ui: schema nested too deeply" }

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, depthError{}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := ordered{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o = append(o, keyValue{k, v})
			}
			_, err := dec.Token()
			return o, err
		case '[':
			var a []any
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
	}
	return tok, nil
}

// schema fetches the identity schema id through the public API (GET
// /schemas/{id}); a zero schemaInfo when it is not there.
func (h *Handler) schema(r *http.Request, id string) schemaInfo {
	if id == "" {
		id = h.schemaID
	}
	rp, err := h.call(r, "/schemas/"+url.PathEscape(id))
	if err != nil || rp.status != 200 {
		return schemaInfo{}
	}
	return h.schemas.parse(rp.body)
}

// schemaMemo keeps parseSchema's result for the few identity schema
// documents a server serves (they are its configuration), so that a page
// reads its schema without decoding it token by token again: that decode
// was about a fifth of the bytes a login page allocated. It is keyed by the
// document itself, so a schema that changes is parsed anew; past
// maxSchemaMemo documents the others are parsed on each use, not kept.
// A schemaInfo is never written after parseSchema returns it.
type schemaMemo struct {
	mu sync.RWMutex
	m  map[string]schemaInfo
}

const maxSchemaMemo = 16

func (c *schemaMemo) parse(raw []byte) schemaInfo {
	c.mu.RLock()
	info, ok := c.m[string(raw)]
	c.mu.RUnlock()
	if ok {
		return info
	}
	info = parseSchema(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]schemaInfo{}
	}
	if len(c.m) < maxSchemaMemo {
		c.m[string(raw)] = info
	}
	return info
}

// sortTraits puts the trait input nodes in schema order. Only the places
// trait nodes already hold are reused, so every other node (the CSRF
// token, method groups and their buttons) keeps its position.
func sortTraits(nodes []nodeJSON, info schemaInfo) {
	if len(info.order) == 0 {
		return
	}
	var slots []int
	var traits []nodeJSON
	for i, n := range nodes {
		if n.Type == "input" && strings.HasPrefix(n.Attributes.Name, "traits.") {
			slots = append(slots, i)
			traits = append(traits, n)
		}
	}
	rank := func(n nodeJSON) int {
		if r, ok := info.order[n.Attributes.Name]; ok {
			return r
		}
		return len(info.order) // unknown traits last, in their order
	}
	// Insertion sort: stable, and a form has a handful of traits.
	for i := 1; i < len(traits); i++ {
		for j := i; j > 0 && rank(traits[j]) < rank(traits[j-1]); j-- {
			traits[j], traits[j-1] = traits[j-1], traits[j]
		}
	}
	for k, i := range slots {
		nodes[i] = traits[k]
	}
}

// prepareNodes fixes what the face's wire format leaves to the UI, for any
// method: trait inputs in schema order, the login identifier labelled from
// the schema's identifier titles instead of 1070004 "ID", and an
// autocomplete token on inputs that lack one.
func prepareNodes(kind string, nodes []nodeJSON, sch schemaInfo) {
	sortTraits(nodes, sch)
	for i := range nodes {
		n := &nodes[i]
		a := &n.Attributes
		if n.Type != "input" || a.Type == "hidden" || a.Type == "submit" || a.Type == "button" || a.Type == "checkbox" {
			continue
		}
		if a.Name == "identifier" && n.Meta.Label != nil && n.Meta.Label.ID == msgLabelID && len(sch.identifiers) > 0 {
			n.Meta.Label = &textJSON{ID: msgLabelGenerated, Type: "info", Text: strings.Join(sch.identifiers, " / ")}
		}
		if a.Autocomplete == "" {
			a.Autocomplete = defaultAutocomplete(kind, a.Name, a.Type)
		}
	}
}

// Kratos message ids the pages treat specially.
const (
	msgLabelGenerated = 1070002
	msgLabelID        = 1070004
)

// traitAutocomplete maps a trait's last name segment to its HTML
// autocomplete token.
var traitAutocomplete = map[string]string{
	"email": "email", "username": "username", "name": "name", "given_name": "given-name",
	"first": "given-name", "first_name": "given-name", "family_name": "family-name", "last": "family-name",
	"last_name": "family-name", "nickname": "nickname", "phone": "tel", "picture": "photo", "website": "url",
}

// defaultAutocomplete is the autocomplete token of an input the face sent
// without one; "" when none fits.
func defaultAutocomplete(kind, name, typ string) string {
	switch {
	case name == "identifier":
		return "username"
	case typ == "password" || name == "password":
		if kind == "login" {
			return "current-password"
		}
		return "new-password"
	case name == "code" || name == "totp_code" || name == "lookup_secret":
		return "one-time-code"
	case name == "email" || typ == "email":
		return "email"
	case typ == "tel":
		return "tel"
	case strings.HasPrefix(name, "traits."):
		return traitAutocomplete[name[strings.LastIndexByte(name, '.')+1:]]
	}
	return ""
}
