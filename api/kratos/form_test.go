package kratos

import (
	"encoding/json"
	"net/url"
	"testing"
)

func TestFormToJSONDropsEmptyTraits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		form url.Values
		want string
	}{
		{"empty optional traits are absent", url.Values{"traits.email": {"a@b.c"}, "traits.picture": {""}, "traits.username": {""}, "method": {"password"}},
			`{"method":"password","traits":{"email":"a@b.c"}}`},
		{"nested empty trait", url.Values{"traits.name.first": {""}, "traits.email": {"a@b.c"}}, `{"traits":{"email":"a@b.c"}}`},
		{"empty non-trait fields stay", url.Values{"password": {""}, "csrf_token": {"t"}}, `{"csrf_token":"t","password":""}`},
		{"last value wins", url.Values{"traits.email": {"x", "a@b.c"}}, `{"traits":{"email":"a@b.c"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, _ := json.Marshal(formToJSON(tc.form))
			if string(b) != tc.want {
				t.Fatalf("formToJSON = %s, want %s", b, tc.want)
			}
		})
	}
}
