package totp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/cipher"
	"github.com/latchkey/latchkey/ratelimit"
	"github.com/latchkey/latchkey/store/sqlstore"
	"github.com/latchkey/latchkey/store/storetest"
)

// ledger is an in-memory Ledger keyed like store.Counters.
type ledger map[string]int64

func (l ledger) Hit(_ context.Context, key string, w time.Duration, now time.Time) (int64, time.Time, error) {
	start := now.Truncate(w)
	k := key + "@" + start.String()
	l[k]++
	return l[k], start.Add(w), nil
}

// policy returns the attempt policy over process memory, at most perMinute
// attempts per (identity, IP) a minute.
func policy(t *testing.T, now func() time.Time, perMinute int) *ratelimit.Policy {
	t.Helper()
	c := ratelimit.DefaultPolicyConfig()
	c.IdentityIP = ratelimit.Limit{Limit: perMinute, Window: time.Minute}
	p, err := ratelimit.NewPolicy(ratelimit.NewLocal(now, []byte("test key")), c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newMethod(t *testing.T, now *time.Time, o Options) *Method {
	t.Helper()
	c, err := cipher.New(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	o.Issuer = "latchkey.test"
	o.Now = func() time.Time { return *now }
	m, err := New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func code(t *testing.T, k *Key, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCodeCustom(k.Secret(), at, pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRFC6238Vector(t *testing.T) {
	// RFC 6238 Appendix B, SHA1 secret "12345678901234567890", T = 59 s:
	// 94287082 (8 digits); its last six are the 6-digit code.
	now := time.Unix(59, 0)
	m := newMethod(t, &now, Options{})
	k, err := ParseURL("otpauth://totp/x:y?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=x")
	if err != nil {
		t.Fatal(err)
	}
	if step, ok := m.Match(k, "287082"); !ok || step != 1 {
		t.Fatalf("Match = %d, %v; want step 1", step, ok)
	}
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 10, 0, time.UTC)
	m := newMethod(t, &now, Options{})
	k, err := m.Generate("a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		at   time.Time // when the code was generated
		want error
	}{
		{"current step", now, nil},
		{"previous step", now.Add(-30 * time.Second), nil},
		{"next step", now.Add(30 * time.Second), nil},
		{"two steps old", now.Add(-60 * time.Second), ErrInvalid},
		{"two steps ahead", now.Add(60 * time.Second), ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := ledger{}
			err := m.Check(ctx, (*ratelimit.Policy)(nil), l, "id-1", k, code(t, k, tc.at), "")
			if !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("malformed", func(t *testing.T) {
		for _, c := range []string{"", "12345", "1234567", "abcdef"} {
			if err := m.Claim(ctx, ledger{}, "id-1", k, c); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Check(%q) = %v, want ErrInvalid", c, err)
			}
		}
	})
}

func TestReplayRefused(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 10, 0, time.UTC)
	m := newMethod(t, &now, Options{})
	k, _ := m.Generate("a@example.com")
	l := ledger{}
	ctx := context.Background()
	c := code(t, k, now)
	if err := m.Claim(ctx, l, "id-1", k, c); err != nil {
		t.Fatalf("first use: %v", err)
	}
	// The same code later in its window (it stays valid one step longer).
	now = now.Add(35 * time.Second)
	if err := m.Claim(ctx, l, "id-1", k, c); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay = %v, want ErrReplayed", err)
	}
	// Another identity's claim of the same step is separate.
	if err := m.Claim(ctx, l, "id-2", k, c); err != nil {
		t.Fatalf("other identity: %v", err)
	}
	// The next code is fine.
	if err := m.Claim(ctx, l, "id-1", k, code(t, k, now.Add(30*time.Second))); err != nil {
		t.Fatalf("next code: %v", err)
	}
	// After its window the old code is just invalid.
	now = now.Add(2 * time.Minute)
	if err := m.Claim(ctx, l, "id-1", k, c); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired code = %v, want ErrInvalid", err)
	}
}

func TestAttemptLimits(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 10, 0, time.UTC)
	m := newMethod(t, &now, Options{})
	p := policy(t, func() time.Time { return now }, 3)
	k, _ := m.Generate("a")
	ctx := context.Background()
	var ex *ratelimit.ExceededError
	for i := range 3 {
		if err := m.Check(ctx, p, ledger{}, "id", k, "000000", "192.0.2.1"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// The right code is refused once the limit is reached: it is never compared.
	if err := m.Check(ctx, p, ledger{}, "id", k, code(t, k, now), "192.0.2.1"); !errors.As(err, &ex) {
		t.Fatalf("after limit = %v, want ExceededError", err)
	}
	// Another address of the same identity is limited separately by
	// (identity, IP); a right code there succeeds and is taken back.
	for range 3 {
		if err := m.Check(ctx, p, ledger{}, "id", k, code(t, k, now), "192.0.2.2"); err != nil && !errors.Is(err, ErrReplayed) {
			t.Fatalf("other address: %v", err)
		}
	}
	// After the window the first address may try again.
	now = now.Add(time.Minute)
	if err := m.Check(ctx, p, ledger{}, "id", k, code(t, k, now), "192.0.2.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestSealOpen(t *testing.T) {
	now := time.Now()
	m := newMethod(t, &now, Options{})
	k, _ := m.Generate("a@example.com")
	cfg, err := m.Seal("id-1", k)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), k.Secret()) {
		t.Fatal("sealed config contains the secret")
	}
	got, err := m.Open("id-1", cfg)
	if err != nil || got.URL() != k.URL() {
		t.Fatalf("Open = %v, %v", got, err)
	}
	if _, err := m.Open("id-2", cfg); err == nil {
		t.Fatal("a config sealed for one identity opened for another")
	}
	for _, c := range []string{"", "{}", `{"totp_url_sealed":null}`} {
		if _, err := m.Open("id-1", json.RawMessage(c)); !errors.Is(err, ErrNotSetUp) {
			t.Fatalf("Open(%q) = %v, want ErrNotSetUp", c, err)
		}
	}
}

func TestImage(t *testing.T) {
	now := time.Now()
	m := newMethod(t, &now, Options{})
	k, _ := m.Generate("a@example.com")
	u, err := k.ImageDataURL()
	if err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(u, "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(u, "data:image/png;base64,") || string(b[1:4]) != "PNG" {
		t.Fatalf("not a PNG data URL: %.40s (%v)", u, err)
	}
	if !strings.Contains(k.URL(), "issuer=latchkey.test") || !strings.Contains(k.URL(), "algorithm=SHA1") {
		t.Fatalf("URL %q lacks issuer or algorithm", k.URL())
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example", true},
		{"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30", true},
		{"otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP", false},
		{"https://totp/a?secret=JBSWY3DPEHPK3PXP", false},
		{"otpauth://totp/a", false},
		{"otpauth://totp/a?secret=!!!", false},
		{"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=SHA256", false},
		{"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=8", false},
		{"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=60", false},
		{"%zz", false},
	}
	for _, tc := range tests {
		_, err := ParseURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("ParseURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	f.Add("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP")
	f.Add("otpauth://totp/%zz?secret=")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseURL(s)
		if err == nil && k.Secret() == "" {
			t.Fatal("accepted a URL without a secret")
		}
	})
}

// TestImageReusesEncoder checks that QR images share their PNG encoder's
// buffers (pngBuffers): a zlib writer of its own cost every image about
// 800 KB of its 1.1 MB, so a run of images now allocates at most 512 KB
// each on average.
func TestImageReusesEncoder(t *testing.T) {
	now := time.Now()
	m := newMethod(t, &now, Options{})
	k, _ := m.Generate("a@example.com")
	if _, err := k.ImageDataURL(); err != nil { // fills the pool
		t.Fatal(err)
	}
	const n = 10
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		if _, err := k.ImageDataURL(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 512<<10 {
		t.Fatalf("a QR image allocates %d bytes on average, want at most %d", per, 512<<10)
	}
}

// statementCount counts the statements a store runs.
type statementCount struct{ n atomic.Int64 }

func (c *statementCount) StartQuery(ctx context.Context, _ string) (context.Context, func(error)) {
	c.n.Add(1)
	return ctx, func(error) {}
}

// TestCheckStatements: a right code from an address already known in the
// window takes back what its attempt counted without reading the
// known-address state again (ratelimit.Attempt): the attempt's one upsert,
// the known-address read, and the reset.
func TestCheckStatements(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 10, 0, time.UTC)
	m := newMethod(t, &now, Options{})
	st := storetest.SQLite(t)
	var count statementCount
	st.(interface{ Trace(sqlstore.QueryTracer) }).Trace(&count)
	p, err := ratelimit.NewPolicy(ratelimit.NewDB(st, func() time.Time { return now }, []byte("test key")), ratelimit.DefaultPolicyConfig())
	if err != nil {
		t.Fatal(err)
	}
	k, _ := m.Generate("a")
	ctx := context.Background()
	for round, want := range []int64{-1, 2} { // the first marks the address known
		now = now.Add(30 * time.Second * time.Duration(round)) // the next code, in the same window
		count.n.Store(0)
		if err := m.Check(ctx, p, ledger{}, "id", k, code(t, k, now), "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if got := count.n.Load(); want >= 0 && got != want {
			t.Errorf("a right code from a known address ran %d statements, want %d", got, want)
		}
	}
}
