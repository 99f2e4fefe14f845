package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Kind is the kind of secret an attempt checks. Each kind has its own
// counters under the same limits, so wrong passwords do not use up the
// attempts of a TOTP code.
type Kind string

// The kinds of secrets checked through a Policy.
const (
	Password Kind = "password" // passwords, on both faces
	Code     Kind = "code"     // one-time codes and link tokens: Hanko passcodes, Kratos login/registration/recovery/verification codes
	TOTP     Kind = "totp"     // TOTP codes
	Lookup   Kind = "lookup"   // lookup secrets (recovery codes)
	WebAuthn Kind = "webauthn" // security-key assertions given as a second factor
)

// Limit allows Limit events per Window.
type Limit struct {
	Limit  int
	Window time.Duration
}

func (l Limit) rule(name string) Rule { return Rule{Name: name, Limit: l.Limit, Window: l.Window} }

// PolicyConfig are the limits of a Policy (config keys ratelimit.attempts.*
// and ratelimit.send.*).
type PolicyConfig struct {
	// IdentityIP limits attempts per (identity, client IP): the strict limit
	// every attempt meets.
	IdentityIP Limit
	// Identity limits attempts per identity from client IPs it has not
	// recently succeeded from. Each further tier is a longer wait, so a
	// distributed guesser meets growing delays.
	Identity []Limit
	// IP limits attempts per client IP across identities (password
	// spraying), except for identities that recently succeeded from it.
	IP Limit
	// KnownIPFor is how long a client IP stays known for an identity after
	// a right secret: from a known IP only IdentityIP applies, so an
	// attacker elsewhere cannot lock the user out.
	KnownIPFor time.Duration
	// SendAddress limits codes and links sent to one address (both faces).
	SendAddress Limit
	// SendIP limits codes and links requested by one client IP.
	SendIP Limit
}

// DefaultPolicyConfig returns the default limits, the ones README.md
// documents.
func DefaultPolicyConfig() PolicyConfig {
	return PolicyConfig{
		IdentityIP:  Limit{Limit: 5, Window: time.Minute},
		Identity:    []Limit{{Limit: 20, Window: 15 * time.Minute}, {Limit: 100, Window: 24 * time.Hour}},
		IP:          Limit{Limit: 100, Window: time.Minute},
		KnownIPFor:  30 * 24 * time.Hour,
		SendAddress: Limit{Limit: 10, Window: time.Hour},
		SendIP:      Limit{Limit: 100, Window: time.Hour},
	}
}

// Validate returns an error naming each limit that allows nothing or has no
// window.
func (c PolicyConfig) Validate() error {
	var errs []error
	check := func(name string, l Limit) {
		if l.Limit < 1 || l.Window < time.Second {
			errs = append(errs, fmt.Errorf("%s: limit %d per %s; need a limit of at least 1 and a window of at least 1s", name, l.Limit, l.Window))
		}
	}
	check("identity_ip", c.IdentityIP)
	if len(c.Identity) == 0 {
		errs = append(errs, errors.New("identity: needs at least one tier"))
	}
	for i, l := range c.Identity {
		check(fmt.Sprintf("identity[%d]", i), l)
	}
	check("ip", c.IP)
	if c.KnownIPFor < time.Minute {
		errs = append(errs, fmt.Errorf("known_ip_for: %s; need at least 1m", c.KnownIPFor))
	}
	check("send.address", c.SendAddress)
	check("send.ip", c.SendIP)
	return errors.Join(errs...)
}

// Policy is the one attempt policy for every secret check on both faces:
// passwords, codes, TOTP and lookup codes, keyed by identity and client IP.
//
// Use it around each check of a secret:
//
//	if err := policy.Check(ctx, ratelimit.TOTP, identityID, ip); err != nil {
//		return err // *ExceededError: answer 429 with Retry-After
//	}
//	if !secretIsRight {
//		return errWrongCode // the attempt stays counted
//	}
//	if err := policy.Succeed(ctx, ratelimit.TOTP, identityID, ip); err != nil {
//		return err
//	}
//
// Check counts the attempt before the secret is looked at, so parallel
// guesses cannot slip past the limits; Succeed takes a right attempt back,
// so right secrets never use up a limit. A nil *Policy limits nothing.
//
// Limits (see PolicyConfig): per (identity, IP) always; per identity in
// growing tiers and per IP across identities, except from an IP the
// identity recently succeeded from. Codes sent are limited per address and
// per IP (Send).
type Policy struct {
	l Limiter
	c PolicyConfig
}

// NewPolicy returns the policy c over l (whose backend holds the counters:
// the database, Redis or process memory). It returns an error when c is
// invalid (PolicyConfig.Validate) or l is nil.
func NewPolicy(l Limiter, c PolicyConfig) (*Policy, error) {
	if l == nil {
		return nil, errors.New("ratelimit: a policy needs a limiter")
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	c.Identity = append([]Limit(nil), c.Identity...)
	return &Policy{l: l, c: c}, nil
}

// In returns the policy counting through c, the transaction of a flow step
// (flow.Context.Tx), when its limiter counts in the store; otherwise p. The
// counts then commit or roll back with the step, and SQLite is not asked
// for a second writer.
func (p *Policy) In(c Counters) *Policy {
	if p == nil {
		return nil
	}
	return &Policy{l: InTx(p.l, c), c: p.c}
}

// Config returns the policy's limits.
func (p *Policy) Config() PolicyConfig { return p.c }

func (p *Policy) knownRule() Rule {
	return Rule{Name: "attempt_known_ip", Limit: 1, Window: p.c.KnownIPFor}
}

// rules returns the events an attempt of kind by identity from ip counts,
// and whether that ip is known for identity (when the limiter tells,
// whether it was marked known in the current window: marking it again
// changes nothing).
func (p *Policy) rules(ctx context.Context, kind Kind, identity, ip string) (rs []RuleKey, known, knownNow bool, err error) {
	if identity != "" {
		rs = append(rs, p.identityIPRule(kind, identity, ip))
	}
	if identity != "" && ip != "" {
		if b, ok := p.l.(Batcher); ok {
			known, knownNow, err = b.SeenNow(ctx, p.knownRule(), identity+"\x00"+ip)
		} else {
			known, err = p.l.Seen(ctx, p.knownRule(), identity+"\x00"+ip)
		}
		if err != nil {
			return nil, false, false, err
		}
	}
	if known {
		return rs, known, knownNow, nil
	}
	return append(rs, p.unknownIPRules(kind, identity, ip)...), known, knownNow, nil
}

// identityIPRule is the event of an attempt for identity from ip, counted
// whether or not ip is known for identity.
func (p *Policy) identityIPRule(kind Kind, identity, ip string) RuleKey {
	return RuleKey{p.c.IdentityIP.rule("attempt_identity_ip_" + string(kind)), identity + "\x00" + ip}
}

// unknownIPRules are the events an attempt counts besides identityIPRule
// when ip is not known for identity: the address's, and each tier of the
// identity's (those with an empty key left out).
func (p *Policy) unknownIPRules(kind Kind, identity, ip string) []RuleKey {
	var rs []RuleKey
	if ip != "" {
		rs = append(rs, RuleKey{p.c.IP.rule("attempt_ip_" + string(kind)), ip})
	}
	if identity != "" {
		for i, l := range p.c.Identity {
			rs = append(rs, RuleKey{l.rule(fmt.Sprintf("attempt_identity_%s_%d", kind, i)), identity})
		}
	}
	return rs
}

// Check counts one attempt to check a secret of kind for identity from the
// client address ip, before the secret is checked. identity is a stable key
// of the account: the identity's id when it is known, else the normalised
// identifier or address that was given (empty when there is none; ip is
// empty when unknown). It returns an *ExceededError (a core error with code
// rate_limited in its chain) when a limit is reached, and the backend's
// error otherwise. A refused attempt is not counted.
func (p *Policy) Check(ctx context.Context, kind Kind, identity, ip string) error {
	_, err := p.Begin(ctx, kind, identity, ip)
	return err
}

// Attempt is one attempt Begin counted: the counters it hit and whether the
// client address was already marked known in the current window. Its
// Succeed takes back exactly what was counted, without reading the known-IP
// state again. The zero Attempt records nothing.
type Attempt struct {
	identity, ip string
	rules        []RuleKey
	knownNow     bool
}

// Begin is Check that also returns what it counted, for the attempt's
// Succeed. It returns the errors of Check.
func (p *Policy) Begin(ctx context.Context, kind Kind, identity, ip string) (Attempt, error) {
	if p == nil {
		return Attempt{}, nil
	}
	if b, ok := p.l.(Batcher); ok && identity != "" && ip != "" {
		t, ok := p.l.(Transactor)
		if !ok {
			return p.beginBatch(ctx, b, kind, identity, ip)
		}
		// Both round trips of an unknown ip commit once. A refusal rolls
		// back the refused count too, which decides nothing differently:
		// the window's count was at the limit already.
		var a Attempt
		err := t.InOneTx(ctx, func(l Limiter) error {
			b, ok := l.(Batcher)
			if !ok {
				return fmt.Errorf("rate limit: the limiter in a transaction is a %T, not a Batcher", l)
			}
			var err error
			a, err = (&Policy{l: l, c: p.c}).beginBatch(ctx, b, kind, identity, ip)
			return err
		})
		return a, err
	}
	rs, _, knownNow, err := p.rules(ctx, kind, identity, ip)
	if err != nil {
		return Attempt{}, err
	}
	if err := p.count(ctx, rs); err != nil {
		return Attempt{}, err
	}
	return Attempt{identity: identity, ip: ip, rules: rs, knownNow: knownNow}, nil
}

// beginBatch is Begin over a Batcher for an identity and an address: the
// (identity, ip) event, the first of rules, is counted in the round trip
// that reads whether ip is known for identity (AllowAllSeeing), and only an
// unknown ip's further events in a second one (AllowAll). It leaves the
// counts count leaves for rules: a refused event stays counted, the others
// are taken back.
func (p *Policy) beginBatch(ctx context.Context, b Batcher, kind Kind, identity, ip string) (Attempt, error) {
	first := p.identityIPRule(kind, identity, ip)
	ds, known, knownNow, err := b.AllowAllSeeing(ctx, []RuleKey{first}, p.knownRule(), identity+"\x00"+ip)
	if err != nil {
		return Attempt{}, err
	}
	if !ds[0].Allowed {
		return Attempt{}, &ExceededError{RetryAfter: max(ds[0].RetryAfter, time.Second)}
	}
	rs := []RuleKey{first}
	if !known {
		rest := p.unknownIPRules(kind, identity, ip)
		ds, err := b.AllowAll(ctx, rest)
		if err != nil {
			// Nothing of rest was counted: take back the first.
			if uerr := p.undo(ctx, rs); uerr != nil {
				return Attempt{}, errors.Join(err, uerr)
			}
			return Attempt{}, err
		}
		for i, d := range ds {
			if !d.Allowed {
				back := append(append(slices.Clone(rs), rest[:i]...), rest[i+1:]...)
				if err := b.UndoAll(ctx, back); err != nil {
					return Attempt{}, err
				}
				return Attempt{}, &ExceededError{RetryAfter: max(d.RetryAfter, time.Second)}
			}
		}
		rs = append(rs, rest...)
	}
	return Attempt{identity: identity, ip: ip, rules: rs, knownNow: knownNow}, nil
}

// Succeed records that the attempt was right, under p (the policy that
// began it, or that policy bound to the caller's transaction with In), as
// Policy.Succeed does. It returns the backend's error; with a nil p or the
// zero Attempt it does nothing.
func (a Attempt) Succeed(ctx context.Context, p *Policy) error {
	if p == nil || a.identity == "" {
		return nil
	}
	return p.succeed(ctx, a.identity, a.ip, a.rules, a.knownNow)
}

// count counts one event of each of rs, in order: when one is refused, the
// ones before it are taken back and the ones after it are not counted. With
// a Batcher all are counted in one round trip and all but the refused one
// taken back in another, which leaves the same counts.
func (p *Policy) count(ctx context.Context, rs []RuleKey) error {
	b, ok := p.l.(Batcher)
	if !ok || len(rs) < 2 {
		for i, r := range rs {
			d, err := p.l.Allow(ctx, r.Rule, r.Key)
			if err != nil {
				return err
			}
			if !d.Allowed {
				// The attempt is refused unchecked: take back what it counted.
				if err := p.undo(ctx, rs[:i]); err != nil {
					return err
				}
				return &ExceededError{RetryAfter: max(d.RetryAfter, time.Second)}
			}
		}
		return nil
	}
	ds, err := b.AllowAll(ctx, rs)
	if err != nil {
		return err
	}
	for i, d := range ds {
		if !d.Allowed {
			back := append(slices.Clone(rs[:i]), rs[i+1:]...)
			if err := b.UndoAll(ctx, back); err != nil {
				return err
			}
			return &ExceededError{RetryAfter: max(d.RetryAfter, time.Second)}
		}
	}
	return nil
}

// undo takes back one event of each of rs (in one round trip with a
// Batcher).
func (p *Policy) undo(ctx context.Context, rs []RuleKey) error {
	if len(rs) == 0 {
		return nil
	}
	if b, ok := p.l.(Batcher); ok && len(rs) > 1 {
		return b.UndoAll(ctx, rs)
	}
	for _, r := range rs {
		if err := p.l.Undo(ctx, r.Rule, r.Key); err != nil {
			return err
		}
	}
	return nil
}

// Succeed records that the attempt Check counted was right: it is taken
// back from the limits, the (identity, ip) count starts over, and ip is
// known for identity for KnownIPFor. It returns the backend's error.
func (p *Policy) Succeed(ctx context.Context, kind Kind, identity, ip string) error {
	if p == nil || identity == "" {
		return nil
	}
	rs, _, knownNow, err := p.rules(ctx, kind, identity, ip)
	if err != nil {
		return err
	}
	return p.succeed(ctx, identity, ip, rs, knownNow)
}

// succeed takes back the events rs of a right attempt (the first, the
// (identity, ip) count, is reset) and marks ip known for identity unless it
// was marked in the current window.
func (p *Policy) succeed(ctx context.Context, identity, ip string, rs []RuleKey, knownNow bool) error {
	if err := p.undo(ctx, rs[1:]); err != nil {
		return err
	}
	if err := p.l.Reset(ctx, rs[0].Rule, rs[0].Key); err != nil {
		return err
	}
	if ip == "" || knownNow {
		return nil
	}
	if _, err := p.l.Allow(ctx, p.knownRule(), identity+"\x00"+ip); err != nil {
		return err
	}
	return nil
}

// Send counts one code or link to be sent to address (normalised) at the
// request of the client address ip, before it is sent. It returns an
// *ExceededError when the address or the client had enough, and the
// backend's error otherwise. A refused send is not counted.
func (p *Policy) Send(ctx context.Context, address, ip string) error {
	if p == nil {
		return nil
	}
	var rs []RuleKey
	if address != "" {
		rs = append(rs, RuleKey{p.c.SendAddress.rule("send_address"), address})
	}
	if ip != "" {
		rs = append(rs, RuleKey{p.c.SendIP.rule("send_ip"), ip})
	}
	return p.count(ctx, rs)
}
