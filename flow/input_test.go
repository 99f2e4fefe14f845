package flow

import (
	"encoding/json"
	"testing"
)

func TestInputValidate(t *testing.T) {
	t.Parallel()
	num := func(s string) any { return json.Number(s) }
	tests := []struct {
		name    string
		in      Input
		value   any
		absent  bool
		want    any
		wantErr string
	}{
		{name: "required missing", in: Input{Name: "x", Type: TypeString, Required: true}, absent: true, wantErr: CodeValueMissing},
		{name: "required null", in: Input{Name: "x", Type: TypeString, Required: true}, value: nil, wantErr: CodeValueMissing},
		{name: "required empty", in: Input{Name: "x", Type: TypeString, Required: true}, value: "", wantErr: CodeValueMissing},
		{name: "required blank trimmed", in: Input{Name: "x", Type: TypeString, Required: true, TrimSpace: true}, value: "  ", wantErr: CodeValueMissing},
		{name: "optional missing", in: Input{Name: "x", Type: TypeString}, absent: true, want: nil},
		{name: "optional empty counts as unsent", in: Input{Name: "x", Type: TypeString}, value: "", want: nil},
		{name: "string ok", in: Input{Name: "x", Type: TypeString}, value: "abc", want: "abc"},
		{name: "string with NUL", in: Input{Name: "x", Type: TypeString}, value: "a\x00b", wantErr: CodeValueInvalid},
		{name: "string with invalid UTF-8", in: Input{Name: "x", Type: TypeString}, value: "a\xffb", wantErr: CodeValueInvalid},
		{name: "password with NUL", in: Input{Name: "x", Type: TypePassword}, value: "correct\x00horse", wantErr: CodeValueInvalid},
		{name: "string wrong type", in: Input{Name: "x", Type: TypeString}, value: true, wantErr: CodeValueInvalid},
		{name: "too short", in: Input{Name: "x", Type: TypePassword, MinLength: 8}, value: "short", wantErr: CodeValueTooShort},
		{name: "min length counts runes", in: Input{Name: "x", Type: TypeString, MinLength: 3}, value: "äöü", want: "äöü"},
		{name: "too long", in: Input{Name: "x", Type: TypeString, MaxLength: 3}, value: "abcd", wantErr: CodeValueTooLong},
		{name: "max length boundary", in: Input{Name: "x", Type: TypeString, MaxLength: 4}, value: "abcd", want: "abcd"},
		{name: "normalised", in: Input{Name: "x", Type: TypeEmail, TrimSpace: true, LowerCase: true}, value: " A@Example.COM ", want: "a@example.com"},
		{name: "email ok", in: Input{Name: "x", Type: TypeEmail}, value: "a@example.com", want: "a@example.com"},
		{name: "email without at", in: Input{Name: "x", Type: TypeEmail}, value: "nobody", wantErr: CodeValueInvalid},
		{name: "email with display name", in: Input{Name: "x", Type: TypeEmail}, value: "Bob <b@example.com>", wantErr: CodeValueInvalid},
		{name: "number json", in: Input{Name: "x", Type: TypeNumber}, value: num("42"), want: 42.0},
		{name: "number text", in: Input{Name: "x", Type: TypeNumber}, value: "1.5", want: 1.5},
		{name: "number garbage", in: Input{Name: "x", Type: TypeNumber}, value: "x1", wantErr: CodeValueInvalid},
		{name: "number bool", in: Input{Name: "x", Type: TypeNumber}, value: false, wantErr: CodeValueInvalid},
		{name: "boolean json", in: Input{Name: "x", Type: TypeBoolean}, value: true, want: true},
		{name: "boolean form", in: Input{Name: "x", Type: TypeBoolean}, value: "false", want: false},
		{name: "boolean garbage", in: Input{Name: "x", Type: TypeBoolean}, value: "yes please", wantErr: CodeValueInvalid},
		{name: "json object", in: Input{Name: "x", Type: TypeJSON}, value: map[string]any{"a": num("1")}, want: json.RawMessage(`{"a":1}`)},
		{name: "allowed value ok", in: Input{Name: "x", Type: TypeString, AllowedValues: []AllowedValue{{Value: "a"}, {Value: "b"}}}, value: "b", want: "b"},
		{name: "allowed value refused", in: Input{Name: "x", Type: TypeString, AllowedValues: []AllowedValue{{Value: "a"}}}, value: "c", wantErr: CodeValueInvalid},
		{name: "allowed number", in: Input{Name: "x", Type: TypeNumber, AllowedValues: []AllowedValue{{Value: 1}, {Value: 2}}}, value: num("2"), want: 2.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.in.check(); err != nil {
				t.Fatalf("declaration: %v", err)
			}
			got, ierr := tt.in.validate(tt.value, !tt.absent)
			if tt.wantErr != "" {
				if ierr == nil || ierr.Code != tt.wantErr {
					t.Fatalf("error = %v, want code %s", ierr, tt.wantErr)
				}
				if ierr.Name != tt.in.Name || ierr.Message == "" {
					t.Fatalf("error = %+v, want name %q and a message", ierr, tt.in.Name)
				}
				return
			}
			if ierr != nil {
				t.Fatalf("unexpected error %v", ierr)
			}
			if !equalValues(got, tt.want) {
				t.Fatalf("value = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestInputCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   Input
		ok   bool
	}{
		{name: "fine", in: Input{Name: "x", Type: TypeString, MinLength: 1, MaxLength: 2}, ok: true},
		{name: "no name", in: Input{Type: TypeString}},
		{name: "unknown type", in: Input{Name: "x", Type: "date"}},
		{name: "negative length", in: Input{Name: "x", Type: TypeString, MinLength: -1}},
		{name: "min above max", in: Input{Name: "x", Type: TypeString, MinLength: 5, MaxLength: 2}},
		{name: "length on boolean", in: Input{Name: "x", Type: TypeBoolean, MaxLength: 2}},
		{name: "lower-case on number", in: Input{Name: "x", Type: TypeNumber, LowerCase: true}},
		{name: "default of wrong type", in: Input{Name: "x", Type: TypeBoolean, Value: "maybe"}},
		{name: "allowed value of wrong type", in: Input{Name: "x", Type: TypeNumber, AllowedValues: []AllowedValue{{Value: "one"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.in.check()
			if (err == nil) != tt.ok {
				t.Fatalf("check() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestDecodeInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		ok   bool
		keys int
	}{
		{name: "empty", raw: "", ok: true},
		{name: "null", raw: "null", ok: true},
		{name: "object", raw: `{"a":1,"b":"x"}`, ok: true, keys: 2},
		{name: "array", raw: `[1]`},
		{name: "string", raw: `"x"`},
		{name: "trailing", raw: `{} {}`},
		{name: "broken", raw: `{"a":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := decodeInput(json.RawMessage(tt.raw))
			if (err == nil) != tt.ok {
				t.Fatalf("decodeInput(%q) error = %v, want ok=%v", tt.raw, err, tt.ok)
			}
			if err == nil && len(m) != tt.keys {
				t.Fatalf("got %d keys, want %d", len(m), tt.keys)
			}
		})
	}
}

// TestJSONInputAsSent checks that an object or array sent to a JSON input
// reaches the action as the bytes sent (not decoded into maps and encoded
// again), that the scalars and the other input types see what
// encoding/json's generic decoding gave them, and that invalid UTF-8 and
// allowed values still go through json.Marshal's form.
func TestJSONInputAsSent(t *testing.T) {
	t.Parallel()
	doc := `{"j":{"z":1, "b":["<x>",2.50]},"s":"a\u00e9","n":12.50,"t":true,"o":null,"bad":{"k":"` + "\xff" + `"},"notext":{"a":1}}`
	m, err := decodeInput(json.RawMessage(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   Input
		want any
		code string
	}{
		{in: Input{Name: "j", Type: TypeJSON}, want: json.RawMessage(`{"z":1, "b":["<x>",2.50]}`)},
		{in: Input{Name: "bad", Type: TypeJSON}, want: json.RawMessage("{\"k\":\"\ufffd\"}")},
		{in: Input{Name: "j", Type: TypeJSON, AllowedValues: []AllowedValue{{Value: map[string]any{"b": []any{"<x>", json.Number("2.50")}, "z": 1}}}},
			want: json.RawMessage(`{"z":1, "b":["<x>",2.50]}`)},
		{in: Input{Name: "s", Type: TypeString}, want: "aé"},
		{in: Input{Name: "s", Type: TypeJSON}, want: json.RawMessage(`"aé"`)},
		{in: Input{Name: "n", Type: TypeNumber}, want: 12.5},
		{in: Input{Name: "n", Type: TypeJSON}, want: json.RawMessage(`12.50`)},
		{in: Input{Name: "t", Type: TypeBoolean}, want: true},
		{in: Input{Name: "o", Type: TypeString}, want: nil},
		{in: Input{Name: "notext", Type: TypeString}, code: CodeValueInvalid},
		{in: Input{Name: "notext", Type: TypeNumber}, code: CodeValueInvalid},
	}
	for _, tt := range tests {
		v, present := m[tt.in.Name]
		got, ierr := tt.in.validate(v, present)
		if tt.code != "" {
			if ierr == nil || ierr.Code != tt.code {
				t.Errorf("%s as %s: error %v, want %s", tt.in.Name, tt.in.Type, ierr, tt.code)
			}
			continue
		}
		if ierr != nil || !equalValues(got, tt.want) {
			t.Errorf("%s as %s = %#v (%v), want %#v", tt.in.Name, tt.in.Type, got, ierr, tt.want)
		}
	}
	// A preserved text input shows what it was sent as encoding/json
	// decodes it.
	act := &Action{Name: "a", Inputs: []Input{{Name: "notext", Type: TypeString, Preserve: true}}}
	if got, _ := json.Marshal(preserved(act, m)); string(got) != `{"notext":{"a":1}}` {
		t.Errorf("preserved = %s", got)
	}
	if _, ok := preserved(act, m)["notext"].(map[string]any); !ok {
		t.Errorf("preserved value is %T, want map[string]any", preserved(act, m)["notext"])
	}
}
