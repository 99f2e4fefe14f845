package session

import (
	"crypto/rand"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/store"
	"github.com/latchkey/latchkey/store/storetest"
)

// fakeClock is a settable clock shared by the managers and key rings of a
// test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func randReader() io.Reader { return rand.Reader }

const (
	testCipherSecret = "0123456789abcdef0123456789abcdef"
	testMACSecret    = "mac-secret-0123456789"
)

// newStore returns a fresh migrated SQLite store.
func newStore(t testing.TB) store.Store {
	t.Helper()
	return storetest.SQLite(t)
}

func newSigner(t testing.TB, secrets ...string) *cipher.Signer {
	t.Helper()
	if len(secrets) == 0 {
		secrets = []string{testMACSecret}
	}
	s, err := cipher.NewSigner(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newCipher(t testing.TB, secrets ...string) *cipher.Cipher {
	t.Helper()
	if len(secrets) == 0 {
		secrets = []string{testCipherSecret}
	}
	c, err := cipher.New(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newManager(t testing.TB, st store.Store, clk *fakeClock) *Manager {
	t.Helper()
	m, err := NewManager(st, newSigner(t), Options{Now: clk.Now, TouchInterval: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
