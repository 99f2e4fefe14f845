package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/ratelimit"
)

// The parameters of every key this package makes or accepts (RFC 6238 with
// the values authenticator apps assume).
const (
	Period  = 30 * time.Second
	Digits  = 6
	Skew    = 1 // steps accepted before and after the current one
	ImageWH = 256
)

// Errors of Check. Each is a *core.Error whose message can be shown as is.
var (
	// ErrInvalid means the code is wrong, outside its window or malformed.
	ErrInvalid = &core.Error{Code: core.CodeInvalid, Message: "The provided authentication code is invalid, please try again."}
	// ErrReplayed means the code was right but already used once.
	ErrReplayed = &core.Error{Code: core.CodeInvalid, Message: "The provided authentication code was already used, please wait for the next one."}
	// ErrNotSetUp means the identity has no TOTP credential.
	ErrNotSetUp = &core.Error{Code: core.CodeInvalid, Message: "You have no TOTP device set up."}
)

// Sealer encrypts and decrypts at rest; *cipher.Cipher satisfies it.
type Sealer interface {
	Encrypt(plaintext, aad []byte) ([]byte, error)
	Decrypt(ciphertext, aad []byte) ([]byte, error)
}

// Ledger is where accepted time steps are claimed; store.Counters (the
// caller's transaction) satisfies it. Hit must be atomic across concurrent
// transactions.
type Ledger interface {
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error)
}

// Options configure a Method. Zero fields take the defaults.
type Options struct {
	Issuer string           // shown by authenticator apps; required
	Now    func() time.Time // default time.Now
	Rand   io.Reader        // secrets; default crypto/rand.Reader
}

// Method makes, seals and checks TOTP keys.
type Method struct {
	seal Sealer
	o    Options
}

// New returns a Method sealing keys with seal. It returns an error when
// seal is nil or the issuer is empty.
func New(seal Sealer, o Options) (*Method, error) {
	if seal == nil {
		return nil, errors.New("totp: a sealer is required")
	}
	if strings.TrimSpace(o.Issuer) == "" {
		return nil, errors.New("totp: an issuer is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Method{seal: seal, o: o}, nil
}

// Issuer is the issuer name put into new keys.
func (m *Method) Issuer() string { return m.o.Issuer }

// Key is one TOTP key. Its String form, the otpauth:// URL, holds the secret:
// never log it.
type Key struct{ k *otp.Key }

// Secret returns the base32 secret (for manual entry into an app).
func (k *Key) Secret() string { return k.k.Secret() }

// URL returns the otpauth:// URL (Kratos' totp_url).
func (k *Key) URL() string { return k.k.URL() }

// pngBuffers lets QR images share PNG encoders' buffers: each holds a zlib
// writer, whose compressor is about 800 KB (its hash tables are arrays in
// it). A settings page with TOTP not yet set up renders a QR image, so
// without the pool every such page allocated one: 16 at once (the bench's
// TOTP enrolment) held about 20 MB of heap.
var pngBuffers pngBufferPool

type pngBufferPool struct{ p sync.Pool }

func (b *pngBufferPool) Get() *png.EncoderBuffer {
	if e, ok := b.p.Get().(*png.EncoderBuffer); ok {
		return e
	}
	return nil // png.Encoder allocates one, and Puts it back after use
}

func (b *pngBufferPool) Put(e *png.EncoderBuffer) { b.p.Put(e) }

// pngEncoder encodes QR images with pngBuffers.
var pngEncoder = png.Encoder{BufferPool: &pngBuffers}

// ImageDataURL returns the key's QR code as a data:image/png;base64 URL.
func (k *Key) ImageDataURL() (string, error) {
	img, err := k.k.Image(ImageWH, ImageWH)
	if err != nil {
		return "", fmt.Errorf("totp: QR image: %w", err)
	}
	var b bytes.Buffer
	if err := pngEncoder.Encode(&b, img); err != nil {
		return "", fmt.Errorf("totp: encode QR image: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

// Generate makes a new random key for account (the identity's e-mail or
// name, shown by the app).
func (m *Method) Generate(account string) (*Key, error) {
	if account == "" {
		account = "user"
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: m.o.Issuer, AccountName: account, Period: uint(Period / time.Second),
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: m.o.Rand})
	if err != nil {
		return nil, fmt.Errorf("totp: generate key: %w", err)
	}
	return &Key{k: k}, nil
}

// ParseURL reads an otpauth://totp URL (an imported Kratos totp_url). It
// refuses URLs this package cannot check: another type, algorithm, digit
// count or period, or a missing or malformed secret.
func ParseURL(raw string) (*Key, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		return nil, core.Errorf(core.CodeInvalid, "The TOTP URL must be an otpauth://totp/ URL.")
	}
	q := u.Query()
	sec := strings.ToUpper(strings.TrimRight(q.Get("secret"), "="))
	if sec == "" {
		return nil, core.Errorf(core.CodeInvalid, "The TOTP URL has no secret parameter.")
	}
	if _, err := base32NoPad.DecodeString(sec); err != nil {
		return nil, core.Errorf(core.CodeInvalid, "The secret of the TOTP URL is not base32.")
	}
	if a := q.Get("algorithm"); a != "" && !strings.EqualFold(a, "SHA1") {
		return nil, core.Errorf(core.CodeInvalid, "The TOTP URL uses algorithm %s; only SHA1 is supported.", a)
	}
	if d := q.Get("digits"); d != "" && d != strconv.Itoa(Digits) {
		return nil, core.Errorf(core.CodeInvalid, "The TOTP URL has %s digits; only 6 are supported.", d)
	}
	if p := q.Get("period"); p != "" && p != "30" {
		return nil, core.Errorf(core.CodeInvalid, "The TOTP URL has a period of %s seconds; only 30 is supported.", p)
	}
	k, err := otp.NewKeyFromURL(u.String())
	if err != nil {
		return nil, core.Errorf(core.CodeInvalid, "The TOTP URL cannot be read.")
	}
	return &Key{k: k}, nil
}

// Config is the stored config of a totp credential: the key's URL, sealed
// to the identity.
type Config struct {
	SealedURL []byte `json:"totp_url_sealed"`
}

func aad(identityID string) []byte { return []byte("totp:" + identityID) }

// Encrypter encrypts at rest; *cipher.Cipher satisfies it.
type Encrypter interface {
	Encrypt(plaintext, aad []byte) ([]byte, error)
}

// Seal returns the credential config holding k for the identity.
func (m *Method) Seal(identityID string, k *Key) (json.RawMessage, error) {
	return SealConfig(m.seal, identityID, k)
}

// SealConfig is Seal for callers without a Method (the admin API's import
// of totp_url).
func SealConfig(e Encrypter, identityID string, k *Key) (json.RawMessage, error) {
	ct, err := e.Encrypt([]byte(k.URL()), aad(identityID))
	if err != nil {
		return nil, fmt.Errorf("totp: seal key: %w", err)
	}
	return json.Marshal(Config{SealedURL: ct})
}

// Opener decrypts at rest; *cipher.Cipher satisfies it.
type Opener interface {
	Decrypt(ciphertext, aad []byte) ([]byte, error)
}

// Open returns the key of an identity's credential config. It returns
// ErrNotSetUp for an empty config and an error when the config was not
// sealed for this identity or under a configured secret.
func (m *Method) Open(identityID string, config json.RawMessage) (*Key, error) {
	return OpenConfig(m.seal, identityID, config)
}

// OpenConfig is Open for callers without a Method (the admin API's
// include_credential=totp), with the same errors.
func OpenConfig(o Opener, identityID string, config json.RawMessage) (*Key, error) {
	var c Config
	if len(config) > 0 {
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, fmt.Errorf("totp: read config: %w", err)
		}
	}
	if len(c.SealedURL) == 0 {
		return nil, ErrNotSetUp
	}
	pt, err := o.Decrypt(c.SealedURL, aad(identityID))
	if err != nil {
		return nil, fmt.Errorf("totp: open key: %w", err)
	}
	k, err := otp.NewKeyFromURL(string(pt))
	if err != nil {
		return nil, fmt.Errorf("totp: stored key: %w", err)
	}
	return &Key{k: k}, nil
}

// Match returns the time step (RFC 6238 §4: T = floor(unix / 30)) whose code
// equals code, looking at the current step and Skew steps either side, and
// false when none does. Comparisons are constant time.
func (m *Method) Match(k *Key, code string) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != Digits {
		return 0, false
	}
	now := m.o.Now().Unix() / int64(Period/time.Second)
	opts := hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for d := int64(-Skew); d <= Skew; d++ {
		step := now + d
		if step < 0 {
			continue
		}
		ok, err := hotp.ValidateCustom(code, uint64(step), k.Secret(), opts)
		if err == nil && ok {
			return step, true
		}
	}
	return 0, false
}

// Check verifies a code of the identity whose key is k, as one attempt
// under a (kind ratelimit.TOTP, the identity id and the client address
// clientIP, which may be empty): a refused attempt returns the policy's
// error before the code is compared; then Claim; a right code takes back
// what the attempt counted (ratelimit.Attempt, without reading the
// known-address state again). A nil a limits nothing. Pass the step's
// transaction as ledger and a policy bound to it (ratelimit.Policy.In), so
// everything commits together.
func (m *Method) Check(ctx context.Context, a *ratelimit.Policy, ledger Ledger, identityID string, k *Key, code, clientIP string) error {
	attempt, err := a.Begin(ctx, ratelimit.TOTP, identityID, clientIP)
	if err != nil {
		return err
	}
	if err := m.Claim(ctx, ledger, identityID, k, code); err != nil {
		return err
	}
	return attempt.Succeed(ctx, a)
}

// Enroll checks the first code of a key being set up (not stored yet) as
// one attempt under a, like Check, and claims its step so the code cannot
// log in afterwards.
func (m *Method) Enroll(ctx context.Context, a *ratelimit.Policy, ledger Ledger, identityID string, k *Key, code, clientIP string) error {
	return m.Check(ctx, a, ledger, identityID, k, code, clientIP)
}

// Claim verifies code for the identity whose key is k (ErrInvalid when it
// does not match) and claims its time step in ledger (ErrReplayed when the
// step was accepted before). ledger must be the caller's transaction so the
// claim commits with the rest of the step. Check counts it as an
// attempt.
func (m *Method) Claim(ctx context.Context, ledger Ledger, identityID string, k *Key, code string) error {
	step, ok := m.Match(k, code)
	if !ok {
		return ErrInvalid
	}
	// The claim's window is placed by the step alone, after the last moment
	// the step's code is accepted, so every replica and every retry lands on
	// the same counter row, and the row outlives the code.
	until := time.Unix((step+Skew+1)*int64(Period/time.Second), 0)
	n, _, err := ledger.Hit(ctx, "totp_step:"+identityID+":"+strconv.FormatInt(step, 10), time.Hour, until)
	if err != nil {
		return fmt.Errorf("totp: claim step: %w", err)
	}
	if n > 1 {
		return ErrReplayed
	}
	return nil
}
