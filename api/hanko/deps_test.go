package hanko

import (
	"context"
	"testing"
	"time"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/courier"
	"github.com/latchkey/latchkey/identity"
	"github.com/latchkey/latchkey/method/code"
	"github.com/latchkey/latchkey/method/password"
	"github.com/latchkey/latchkey/method/totp"
	"github.com/latchkey/latchkey/schema"
	"github.com/latchkey/latchkey/session"
	"github.com/latchkey/latchkey/store"
)

// TestingDeps is what the tests build a Handler (and, in the cross-face
// tests, the Kratos face) from, over one store. It is exported, from a test
// file, for the tests of package hanko_test.
type TestingDeps struct {
	Store      store.Store
	Identities *identity.Service
	// Hasher uses cheap Argon2 parameters, for speed.
	Hasher   *password.Hasher
	MAC      *cipher.Signer
	Seal     *cipher.Cipher
	Sessions *session.Manager
	Keys     *session.Keys
	Codes    *code.Issuer
	Courier  *courier.Courier
	// TOTP seals with Seal; both faces share it in the cross-face tests.
	TOTP *totp.Method
}

// NewTestingDeps builds the dependencies over st with the default identity
// schema, fixed test secrets, six-digit codes valid five minutes with three
// attempts, and a courier with the embedded templates. It fails the test
// on any error.
func NewTestingDeps(t testing.TB, st store.Store) *TestingDeps {
	t.Helper()
	fatal := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	d := &TestingDeps{Store: st}
	reg, err := schema.New(nil)
	fatal(err)
	d.Hasher, err = password.NewHasher(password.Params{Algorithm: password.AlgorithmArgon2,
		Argon2: password.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, nil)
	fatal(err)
	d.Identities, err = identity.New(identity.Options{Store: st, Schemas: reg, Hasher: d.Hasher})
	fatal(err)
	d.MAC, err = cipher.NewSigner("a-test-secret-of-at-least-32-chars!!")
	fatal(err)
	d.Seal, err = cipher.New("another-test-secret-32-characters!!!")
	fatal(err)
	d.Sessions, err = session.NewManager(st, d.MAC, session.Options{})
	fatal(err)
	d.Keys, err = session.NewKeys(context.Background(), st, d.Seal, session.KeysOptions{})
	fatal(err)
	d.Codes, err = code.NewIssuer(d.MAC, code.Options{Digits: 6, TTL: 5 * time.Minute, MaxAttempts: 3})
	fatal(err)
	d.Courier, err = courier.New(courier.Options{ServiceName: "Latchkey Test"})
	fatal(err)
	d.TOTP, err = totp.New(d.Seal, totp.Options{Issuer: "latchkey.test"})
	fatal(err)
	return d
}
