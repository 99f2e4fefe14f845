package schema

import (
	"encoding/json"
	"testing"
)

func BenchmarkExtractDefault(b *testing.B) {
	r, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := r.Schema(DefaultID)
	if err != nil {
		b.Fatal(err)
	}
	traits := json.RawMessage(`{"email":"Jane.Doe@Example.com","username":"jane_doe","name":"Jane Doe","given_name":"Jane","family_name":"Doe","picture":"https://example.com/j.png"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Extract(traits); err != nil {
			b.Fatal(err)
		}
	}
}
