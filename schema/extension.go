package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// ExtensionKeyword is the JSON Schema keyword under which Kratos (and
// Latchkey) read what a trait means for credentials, verification and
// recovery.
const ExtensionKeyword = "ory.sh/kratos"

// extensionConfig is the parsed ory.sh/kratos keyword of one schema node,
// with Kratos' field names.
type extensionConfig struct {
	Credentials struct {
		Password struct {
			Identifier bool `json:"identifier"`
		} `json:"password"`
		WebAuthn struct {
			Identifier bool `json:"identifier"`
		} `json:"webauthn"`
		Passkey struct {
			DisplayName bool `json:"display_name"`
		} `json:"passkey"`
		TOTP struct {
			AccountName bool `json:"account_name"`
		} `json:"totp"`
		Code struct {
			Identifier bool   `json:"identifier"`
			Via        string `json:"via"`
		} `json:"code"`
	} `json:"credentials"`
	Verification struct {
		Via string `json:"via"`
	} `json:"verification"`
	Recovery struct {
		Via string `json:"via"`
	} `json:"recovery"`
	// Organizations and Mappings are accepted for compatibility with Kratos
	// schemas and otherwise ignored.
	Organizations json.RawMessage `json:"organizations,omitempty"`
	Mappings      json.RawMessage `json:"mappings,omitempty"`
}

// extensionMeta is the schema every ory.sh/kratos keyword value must
// satisfy. It is strict so that a typo in a schema file fails at start
// instead of silently disabling an identifier.
const extensionMeta = `{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "credentials": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "password": {"$ref": "#/definitions/identifier"},
        "webauthn": {"$ref": "#/definitions/identifier"},
        "passkey": {
          "type": "object",
          "additionalProperties": false,
          "properties": {"display_name": {"type": "boolean"}}
        },
        "totp": {
          "type": "object",
          "additionalProperties": false,
          "properties": {"account_name": {"type": "boolean"}}
        },
        "code": {
          "type": "object",
          "additionalProperties": false,
          "properties": {
            "identifier": {"type": "boolean"},
            "via": {"$ref": "#/definitions/via"}
          }
        }
      }
    },
    "verification": {"$ref": "#/definitions/channel"},
    "recovery": {"$ref": "#/definitions/channel"},
    "organizations": {"type": "object"},
    "mappings": {"type": "object"}
  },
  "definitions": {
    "identifier": {
      "type": "object",
      "additionalProperties": false,
      "properties": {"identifier": {"type": "boolean"}}
    },
    "via": {"type": "string", "enum": ["email", "sms"]},
    "channel": {
      "type": "object",
      "additionalProperties": false,
      "properties": {"via": {"$ref": "#/definitions/via"}}
    }
  }
}`

// extensionSchema is extensionMeta compiled.
var extensionSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	meta, err := jsonschema.UnmarshalJSON(strings.NewReader(extensionMeta))
	if err != nil {
		return nil, fmt.Errorf("ory.sh/kratos meta-schema: %w", err)
	}
	const url = "latchkey:///meta/ory.sh-kratos.schema.json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if err := c.AddResource(url, meta); err != nil {
		return nil, fmt.Errorf("ory.sh/kratos meta-schema: %w", err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("ory.sh/kratos meta-schema: %w", err)
	}
	return sch, nil
})

// extensionVocabulary is the vocabulary that compiles the ory.sh/kratos
// keyword into each schema node's Extensions. The keyword's value is checked
// against extensionMeta when it is compiled (a vocabulary's own meta-schema
// would only be applied to the document root). The compiled extension's
// Validate does nothing: its semantics are applied by the extractor, which
// sees the whole instance.
func extensionVocabulary() *jsonschema.Vocabulary {
	return &jsonschema.Vocabulary{
		URL:     "latchkey:///vocab/ory.sh-kratos",
		Compile: compileExtension,
	}
}

// extension is the compiled form of the keyword, attached to a schema node.
type extension struct{ cfg extensionConfig }

func (*extension) Validate(*jsonschema.ValidatorContext, any) {}

func compileExtension(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	raw, ok := obj[ExtensionKeyword]
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ExtensionKeyword, err)
	}
	meta, err := extensionSchema()
	if err != nil {
		return nil, err
	}
	if err := meta.Validate(raw); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%s is malformed: %s", ExtensionKeyword, strings.Join(leafMessages(ve), "; "))
		}
		return nil, fmt.Errorf("%s: %w", ExtensionKeyword, err)
	}
	var e extension
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e.cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", ExtensionKeyword, err)
	}
	if e.cfg.Credentials.Code.Identifier && e.cfg.Credentials.Code.Via == "" {
		return nil, fmt.Errorf("%s: credentials.code.identifier needs credentials.code.via (\"email\" or \"sms\")", ExtensionKeyword)
	}
	return &e, nil
}
