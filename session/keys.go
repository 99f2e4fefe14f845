package session

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// Algorithm is a JWS algorithm Keys signs with (RFC 7518 §3.1).
type Algorithm string

// The algorithms Keys generates keys for and accepts in JWTs. Nothing else
// is ever accepted: not "none", not HMAC.
const (
	ES256 Algorithm = "ES256" // ECDSA P-256 with SHA-256
	RS256 Algorithm = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys
)

func (a Algorithm) jwa() (jwa.SignatureAlgorithm, bool) {
	switch a {
	case ES256:
		return jwa.ES256(), true
	case RS256:
		return jwa.RS256(), true
	}
	return jwa.SignatureAlgorithm{}, false
}

// KeyStore is the part of store.Store that Keys uses.
type KeyStore interface {
	CreateKey(ctx context.Context, k *core.SigningKey) error
	ListKeys(ctx context.Context) ([]core.SigningKey, error)
	DeleteKey(ctx context.Context, id string) error
}

// Sealer encrypts private keys at rest; *cipher.Cipher satisfies it.
type Sealer interface {
	Encrypt(plaintext, aad []byte) ([]byte, error)
	Decrypt(ct, aad []byte) ([]byte, error)
}

// Defaults of KeysOptions.
const (
	DefaultReloadInterval = time.Minute
	DefaultSkew           = 30 * time.Second
	// unknownKidInterval is the least time between two reloads caused by
	// an unknown kid, so a flood of made-up kids cannot flood the store.
	unknownKidInterval = time.Second
	// retryInterval is how soon a failed reload is retried; meanwhile the
	// last good ring keeps serving.
	retryInterval = 5 * time.Second
	// maxJWTLen bounds the JWTs VerifyJWT parses.
	maxJWTLen = 16 << 10
)

// KeysOptions configures Keys. Zero fields take the defaults.
type KeysOptions struct {
	Algorithm      Algorithm        // for generated keys; default ES256
	Now            func() time.Time // default time.Now
	ReloadInterval time.Duration    // longest time a cached ring is used; default DefaultReloadInterval
	Skew           time.Duration    // leeway for exp, nbf and iat; default DefaultSkew
	// OnReloadError, when set, is told about failed background reloads
	// (the last good ring keeps serving); the caller logs it.
	OnReloadError func(error)
	// VerifyCacheSize bounds how many verified JWTs VerifyJWT remembers so
	// that checking the same token again skips the signature check;
	// default DefaultVerifyCacheSize, negative disables the cache.
	VerifyCacheSize int
	// VerifyCacheTTL is the longest a verified JWT is remembered (never
	// past its exp); default DefaultVerifyCacheTTL.
	VerifyCacheTTL time.Duration
}

// KeyInfo describes a stored signing key.
type KeyInfo struct {
	ID        string
	Algorithm Algorithm
	CreatedAt time.Time
	Signing   bool // the newest key, the one that signs
}

// ringKey is a verification key of the ring.
type ringKey struct {
	alg       jwa.SignatureAlgorithm
	public    any     // *ecdsa.PublicKey or *rsa.PublicKey
	jwk       jwk.Key // public JWK with kid, alg and use
	createdAt time.Time
}

// ring is an immutable snapshot of the stored keys.
type ring struct {
	loadedAt  time.Time
	keys      map[string]*ringKey
	signerKid string
	signer    jwk.Key // private JWK of the newest key, with kid and alg
	signerAlg jwa.SignatureAlgorithm
	jwks      []byte
	list      []KeyInfo
}

// Keys is the ring of JWT signing keys shared by all replicas through the
// store. The newest key signs; every stored key verifies until removed.
// Private keys are stored as PKCS#8 encrypted by the Sealer, bound to their
// kid. The ring is cached and reloaded at most every ReloadInterval, and
// sooner when a JWT names an unknown kid, so a rotation made by another
// replica is picked up within a minute. Keys is safe for concurrent use.
type Keys struct {
	st            KeyStore
	seal          Sealer
	alg           Algorithm
	now           func() time.Time
	reload        time.Duration
	skew          time.Duration
	onReloadError func(error)

	mu   sync.Mutex // serialises reloads and rotations
	ring atomic.Pointer[ring]

	verified *jwtCache // nil when disabled

	// validateOpts holds jwt.Validate's options per VerifyOptions
	// (validateOptions), at most maxValidateOpts of them.
	validateOpts sync.Map // VerifyOptions -> []jwt.ValidateOption
	validateN    atomic.Int32
}

// NewKeys loads the ring from st, generating and storing a first key when
// there is none. It returns an error when the algorithm is not ES256 or
// RS256, the store fails, or a stored private key cannot be decrypted (the
// cipher secret it was sealed with is no longer configured).
//
// Two replicas starting at once on an empty store may each generate a key;
// both are kept and the newer signs, which is harmless.
func NewKeys(ctx context.Context, st KeyStore, seal Sealer, o KeysOptions) (*Keys, error) {
	if st == nil || seal == nil {
		return nil, errors.New("session: NewKeys needs a store and a sealer")
	}
	k := &Keys{
		st: st, seal: seal, alg: o.Algorithm, now: o.Now,
		reload: o.ReloadInterval, skew: o.Skew, onReloadError: o.OnReloadError,
	}
	if k.alg == "" {
		k.alg = ES256
	}
	if _, ok := k.alg.jwa(); !ok {
		return nil, fmt.Errorf("session: unsupported signing algorithm %q (want ES256 or RS256)", k.alg)
	}
	if k.now == nil {
		k.now = time.Now
	}
	if k.reload <= 0 {
		k.reload = DefaultReloadInterval
	}
	if k.skew <= 0 {
		k.skew = DefaultSkew
	}
	if o.VerifyCacheSize >= 0 {
		size, ttl := o.VerifyCacheSize, o.VerifyCacheTTL
		if size == 0 {
			size = DefaultVerifyCacheSize
		}
		if ttl <= 0 {
			ttl = DefaultVerifyCacheTTL
		}
		k.verified = newJWTCache(size, ttl)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	r, err := k.load(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	if r.signer == nil {
		if _, err := k.generate(ctx); err != nil {
			return nil, fmt.Errorf("create first signing key: %w", err)
		}
		if r, err = k.load(ctx, nil); err != nil {
			return nil, fmt.Errorf("load signing keys: %w", err)
		}
	}
	k.ring.Store(r)
	return k, nil
}

// setRing makes nr the ring in use. When nr lacks a key of the ring it
// replaces (a removed kid), the verified-JWT cache is cleared; entries of
// remaining keys stay, and every hit checks its key against the ring.
// k.mu is held.
func (k *Keys) setRing(nr *ring) {
	if old := k.ring.Load(); old != nil && k.verified != nil {
		for kid, rk := range old.keys {
			if nr.keys[kid] != rk {
				k.verified.clear()
				break
			}
		}
	}
	k.ring.Store(nr)
}

// current returns the ring, reloading it first when it is older than the
// reload interval. A failed reload keeps the last ring serving.
func (k *Keys) current(ctx context.Context) *ring {
	r := k.ring.Load()
	if k.now().Sub(r.loadedAt) < k.reload {
		return r
	}
	return k.refresh(ctx, k.reload)
}

// refresh reloads the ring unless another caller reloaded it within
// minAge, and returns the ring in use afterwards.
func (k *Keys) refresh(ctx context.Context, minAge time.Duration) *ring {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.ring.Load()
	if k.now().Sub(r.loadedAt) < minAge {
		return r
	}
	nr, err := k.load(ctx, r)
	if err != nil {
		if k.onReloadError != nil {
			k.onReloadError(fmt.Errorf("reload signing keys: %w", err))
		}
		stale := *r
		stale.loadedAt = k.now().Add(retryInterval - k.reload)
		k.ring.Store(&stale)
		return r
	}
	k.setRing(nr)
	return nr
}

// load reads every stored key. Keys already parsed in prev are reused, so a
// periodic reload costs one query and no crypto when nothing changed. The
// returned ring has no signer when the store holds no key.
func (k *Keys) load(ctx context.Context, prev *ring) (*ring, error) {
	stored, err := k.st.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	r := &ring{loadedAt: k.now(), keys: make(map[string]*ringKey, len(stored))}
	set := jwk.NewSet()
	for i := range stored {
		sk := &stored[i]
		rk := (*ringKey)(nil)
		if prev != nil {
			rk = prev.keys[sk.ID]
		}
		if rk == nil {
			if rk, err = parsePublic(sk); err != nil {
				return nil, fmt.Errorf("key %s: %w", sk.ID, err)
			}
		}
		r.keys[sk.ID] = rk
		if err := set.AddKey(rk.jwk); err != nil {
			return nil, fmt.Errorf("key %s: %w", sk.ID, err)
		}
		r.list = append(r.list, KeyInfo{ID: sk.ID, Algorithm: Algorithm(sk.Algorithm), CreatedAt: sk.CreatedAt, Signing: i == 0})
	}
	if len(stored) > 0 {
		newest := &stored[0]
		if prev != nil && prev.signerKid == newest.ID {
			r.signer, r.signerAlg = prev.signer, prev.signerAlg
		} else if r.signer, err = k.openPrivate(newest, r.keys[newest.ID]); err != nil {
			return nil, fmt.Errorf("key %s: %w", newest.ID, err)
		}
		r.signerKid = newest.ID
		r.signerAlg = r.keys[newest.ID].alg
	}
	if r.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("marshal JWKS: %w", err)
	}
	return r, nil
}

// parsePublic parses a stored key's public JWK and checks it against the
// row's id and algorithm.
func parsePublic(sk *core.SigningKey) (*ringKey, error) {
	alg, ok := Algorithm(sk.Algorithm).jwa()
	if !ok {
		return nil, fmt.Errorf("unsupported algorithm %q", sk.Algorithm)
	}
	key, err := jwk.ParseKey(sk.PublicJWK)
	if err != nil {
		return nil, fmt.Errorf("parse public JWK: %w", err)
	}
	if ok, err := jwk.IsPrivateKey(key); err != nil || ok {
		return nil, errors.New("public JWK is not a public key")
	}
	if kid, _ := key.KeyID(); kid != sk.ID {
		return nil, fmt.Errorf("public JWK kid %q does not match the key id", kid)
	}
	if a, _ := key.Algorithm(); a == nil || a.String() != alg.String() {
		return nil, errors.New("public JWK alg does not match the key's algorithm")
	}
	var raw any
	if err := jwk.Export(key, &raw); err != nil {
		return nil, fmt.Errorf("export public JWK: %w", err)
	}
	switch pub := raw.(type) {
	case *ecdsa.PublicKey:
		if alg != jwa.ES256() || pub.Curve != elliptic.P256() {
			return nil, errors.New("public key does not fit ES256")
		}
	case *rsa.PublicKey:
		if alg != jwa.RS256() || pub.N.BitLen() < 2048 {
			return nil, errors.New("public key does not fit RS256")
		}
	default:
		return nil, fmt.Errorf("unsupported public key type %T", raw)
	}
	return &ringKey{alg: alg, public: raw, jwk: key, createdAt: sk.CreatedAt}, nil
}

// keyAAD binds an encrypted private key to its kid, so a ciphertext moved
// to another row does not decrypt.
func keyAAD(kid string) []byte { return []byte("latchkey/signing-key/" + kid) }

// openPrivate decrypts and parses a stored private key and checks that it
// belongs to the stored public key.
func (k *Keys) openPrivate(sk *core.SigningKey, rk *ringKey) (jwk.Key, error) {
	der, err := k.seal.Decrypt(sk.PrivateKeyEncrypted, keyAAD(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("decrypt private key (is the secrets.cipher entry it was sealed with still configured?): %w", err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", priv)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := signer.Public().(equaler); !ok || !pub.Equal(rk.public) {
		return nil, errors.New("private key does not match the public JWK")
	}
	key, err := jwk.Import(priv)
	if err != nil {
		return nil, fmt.Errorf("import private key: %w", err)
	}
	if err := key.Set(jwk.KeyIDKey, sk.ID); err != nil {
		return nil, fmt.Errorf("set kid: %w", err)
	}
	if err := key.Set(jwk.AlgorithmKey, rk.alg); err != nil {
		return nil, fmt.Errorf("set alg: %w", err)
	}
	return key, nil
}

// generate creates a key of the configured algorithm and stores it. The
// kid is the key's RFC 7638 thumbprint (SHA-256, base64url).
func (k *Keys) generate(ctx context.Context) (KeyInfo, error) {
	var priv crypto.Signer
	var err error
	switch k.alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("generate %s key: %w", k.alg, err)
	}
	pub, err := jwk.Import(priv.Public())
	if err != nil {
		return KeyInfo{}, fmt.Errorf("import public key: %w", err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	alg, _ := k.alg.jwa()
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg, jwk.KeyUsageKey: jwk.ForSignature} {
		if err := pub.Set(name, v); err != nil {
			return KeyInfo{}, fmt.Errorf("set %s: %w", name, err)
		}
	}
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("marshal public JWK: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("marshal private key: %w", err)
	}
	enc, err := k.seal.Encrypt(der, keyAAD(kid))
	if err != nil {
		return KeyInfo{}, fmt.Errorf("encrypt private key: %w", err)
	}
	sk := &core.SigningKey{
		ID:                  kid,
		Algorithm:           string(k.alg),
		PrivateKeyEncrypted: enc,
		PublicJWK:           pubJSON,
		CreatedAt:           k.now().UTC().Truncate(time.Microsecond),
	}
	if err := k.st.CreateKey(ctx, sk); err != nil {
		return KeyInfo{}, fmt.Errorf("store key: %w", err)
	}
	return KeyInfo{ID: kid, Algorithm: k.alg, CreatedAt: sk.CreatedAt, Signing: true}, nil
}

// Rotate generates a new key of the configured algorithm, stores it and
// makes it the signer in this process at once (other replicas follow
// within their reload interval). Earlier keys keep verifying until Remove.
// It returns the new key, or an error when generation, encryption, the
// store or the reload fails.
func (k *Keys) Rotate(ctx context.Context) (KeyInfo, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	info, err := k.generate(ctx)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate signing key: %w", err)
	}
	r, err := k.load(ctx, k.ring.Load())
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate signing key: reload: %w", err)
	}
	k.setRing(r)
	return info, nil
}

// Remove deletes the key kid, so JWTs signed with it stop verifying (on
// other replicas after their reload interval). If it was the signer, the
// next newest key signs. It returns a *core.Error with CodeNotFound for an
// unknown kid and CodeConflict when kid is the only key left, or a wrapped
// store error.
func (k *Keys) Remove(ctx context.Context, kid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	stored, err := k.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("remove signing key: %w", err)
	}
	found := false
	for _, sk := range stored {
		found = found || sk.ID == kid
	}
	switch {
	case !found:
		return core.Errorf(core.CodeNotFound, "No signing key has the id %q.", kid)
	case len(stored) == 1:
		return core.Errorf(core.CodeConflict, "The only signing key cannot be removed; rotate first.")
	}
	if err := k.st.DeleteKey(ctx, kid); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return core.Errorf(core.CodeNotFound, "No signing key has the id %q.", kid)
		}
		return fmt.Errorf("remove signing key: %w", err)
	}
	r, err := k.load(ctx, k.ring.Load())
	if err != nil {
		return fmt.Errorf("remove signing key: reload: %w", err)
	}
	k.setRing(r)
	return nil
}

// List returns the stored keys, newest (the signer) first, read from the
// store rather than the cache. It returns a wrapped store error.
func (k *Keys) List(ctx context.Context) ([]KeyInfo, error) {
	stored, err := k.st.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	out := make([]KeyInfo, len(stored))
	for i, sk := range stored {
		out[i] = KeyInfo{ID: sk.ID, Algorithm: Algorithm(sk.Algorithm), CreatedAt: sk.CreatedAt, Signing: i == 0}
	}
	return out, nil
}

// JWKS returns the public key set (RFC 7517 §5) of the cached ring: every
// key that verifies, with kid, alg and use "sig". The result is a fresh
// copy. It returns an error only if the ring cannot be serialised, which
// does not happen for keys Keys loaded.
func (k *Keys) JWKS(ctx context.Context) ([]byte, error) {
	r := k.current(ctx)
	return append([]byte(nil), r.jwks...), nil
}
