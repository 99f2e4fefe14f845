package bench

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		url         string
		ok          bool
		notLoopback bool
	}{
		{"IPv4 loopback", "http://127.0.0.1:4433", true, false},
		{"other 127/8 address", "http://127.3.2.1:80/base/", true, false},
		{"IPv6 loopback", "http://[::1]:4434", true, false},
		{"localhost", "http://localhost:4433", true, false},
		{"https loopback", "https://127.0.0.1:8443", true, false},
		{"private address", "http://10.0.0.1:4433", false, true},
		{"public address", "http://93.184.216.34", false, true},
		{"IPv4-mapped public", "http://[::ffff:8.8.8.8]:80", false, true},
		{"host name", "http://example.com", false, true},
		{"unspecified", "http://0.0.0.0:4433", false, true},
		{"not http", "ftp://127.0.0.1", false, false},
		{"no host", "http://", false, false},
		{"garbage", "://", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := CheckTarget(ctx, tt.url)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckTarget(%q) = %v, want ok %v", tt.url, err, tt.ok)
			}
			if tt.notLoopback && !errors.Is(err, ErrNotLoopback) {
				t.Fatalf("CheckTarget(%q) = %v, want ErrNotLoopback", tt.url, err)
			}
		})
	}
}

func TestLoopbackOnlyDialer(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:80":      true,
		"[::1]:80":          true,
		"192.0.2.1:80":      false,
		"[2001:db8::1]:443": false,
		"not-an-address":    false,
	} {
		if err := loopbackOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("loopbackOnly(%s) = %v, want ok %v", addr, err, ok)
		}
	}
}

func TestNewRefusesRemoteTargets(t *testing.T) {
	t.Parallel()
	l := Load{Concurrency: 1, Duration: time.Second}
	for name, o := range map[string]Options{
		"public": {Public: "http://192.0.2.10:4433", Load: l},
		"admin":  {Public: "http://127.0.0.1:4433", Admin: "http://192.0.2.10:4434", Load: l},
	} {
		if _, err := New(context.Background(), o); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: New = %v, want ErrNotLoopback", name, err)
		}
	}
}
