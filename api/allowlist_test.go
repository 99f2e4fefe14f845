package api

import (
	"net/url"
	"testing"
)

func TestURLAllowList(t *testing.T) {
	t.Parallel()
	l, err := NewURLAllowList("https://*.example.com/app", "https://app.example.org/", "http://localhost:3000/cb/", "https://exact.example.net")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{"https://a.example.com/app", true},
		{"https://a.example.com/app/", true},
		{"https://a.example.com/app/settings?x=1#f", true},
		{"https://A.Example.COM/app", true},
		{"https://deep.a.example.com/app", true},
		{"https://a.example.com/application", false},
		{"https://a.example.com/app-admin", false},
		{"https://a.example.com/ap", false},
		{"https://a.example.com/", false},
		{"https://example.com/app", false},
		{"https://evilexample.com/app", false},
		{"https://a.example.com.evil.net/app", false},
		{"http://a.example.com/app", false},
		{"https://a.example.com:8443/app", false},
		{"https://a.example.com/app/../admin", false},
		{"https://a.example.com/app/%2e%2e/admin", false},
		{"https://a.example.com/app/./x", false},
		{"https://a.example.com/app\\..\\admin", false},
		{"https://a.example.com/app%5c..%5cadmin", false},
		{"https://a.example.com/app%2Fx", false},
		{"https://user@a.example.com/app", false},
		{"https://app.example.org/", true},
		{"https://app.example.org", true},
		{"https://app.example.org/anything/below", true},
		{"http://localhost:3000/cb/x", true},
		{"http://localhost:3000/cb", false},
		{"http://localhost:3000/cbx", false},
		{"https://exact.example.net/any", true},
		{"https://exact.example.net", true},
		{"/app", false},
		{"javascript:alert(1)", false},
	} {
		u, err := url.Parse(tc.raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if got := l.Allows(u); got != tc.want {
			t.Errorf("Allows(%s) = %v, want %v", tc.raw, got, tc.want)
		}
	}
	for _, bad := range []string{"example.com/app", "ftp://x/", "https://*.*.example.com/", "https://a.*.example.com/", "https://u@x.example.com/"} {
		if _, err := NewURLAllowList(bad); err == nil {
			t.Errorf("NewURLAllowList(%q) accepted", bad)
		}
	}
}

func TestMatchHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", ".example.com", false},
		{"*.example.com", "aexample.com", false},
		{"*.example.com", "a.example.com:8080", false},
		{"*.example.com:8080", "a.example.com:8080", true},
		{"app.example.com", "app.example.com", true},
		{"app.example.com", "app.example.com.evil", false},
	} {
		if got := MatchHost(tc.pattern, tc.host); got != tc.want {
			t.Errorf("MatchHost(%q, %q) = %v", tc.pattern, tc.host, got)
		}
	}
}

// TestURLAllowListAppSchemes: native apps' own schemes (Expo's exp://,
// myapp://) are allow-listed exactly by scheme, host and path; schemes a
// browser runs or reads locally are refused as patterns.
func TestURLAllowListAppSchemes(t *testing.T) {
	t.Parallel()
	l, err := NewURLAllowList("exp://192.168.1.5:19000/--/", "myapp://callback", "com.example.app:///oauth")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		raw  string
		want bool
	}{
		{"exp://192.168.1.5:19000/--/", true},
		{"exp://192.168.1.5:19000/--/settings?x=1", true},
		{"exp://192.168.1.5:19001/--/", false},
		{"exp://192.168.1.6:19000/--/", false},
		{"myapp://callback", true},
		{"myapp://callback/done", true},
		{"myapp://callbackx", false},
		{"MyApp://callback", true},
		{"otherapp://callback", false},
		{"https://callback", false},
		{"com.example.app:///oauth/redirect", true},
		{"com.example.app:///other", false},
		{"myapp://callback/../x", false},
		{"myapp:callback", false},
	} {
		u, err := url.Parse(tc.raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if got := l.Allows(u); got != tc.want {
			t.Errorf("Allows(%s) = %v, want %v", tc.raw, got, tc.want)
		}
	}
	for _, bad := range []string{"javascript://alert(1)", "data://text/html,x", "file:///etc/", "vbscript://x", "ws://x/", "1app://x", "my_app://x"} {
		if _, err := NewURLAllowList(bad); err == nil {
			t.Errorf("NewURLAllowList(%q) accepted", bad)
		}
	}
}
