package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters of both faces (RFC 6238 as Kratos and Hanko use it).
const (
	totpPeriod = 30 // seconds per step
	totpSkew   = 1  // steps the server accepts either side of the current one
	// totpMargin is how close to the end of a step a code for it is no
	// longer used: it might arrive after the step ended.
	totpMargin = 3 * time.Second
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Skew: totpSkew, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpUser is an identity with a password and a TOTP key. next is the
// lowest time step whose code the bench has not used: the server accepts
// each step's code once (a replay within the window is refused), so every
// login uses a step no login of this identity used before.
type totpUser struct {
	email, secret string
	next          int64
}

// totpPool hands out identities with a step they have not used yet, in
// rotation. Each identity has up to two usable steps at a time (the current
// and the next one, which the server accepts for clock drift), then one
// more every 30 s.
type totpPool struct {
	mu    sync.Mutex
	users []*totpUser
	next  int
	now   func() time.Time
}

// errTOTPSpent is an op's error when every identity has used its codes of
// the current window: it ends the measured phase (ErrExhausted) instead of
// waiting for the next window or failing in a loop.
var errTOTPSpent = fmt.Errorf("every TOTP identity has used its codes of this 30 s window (a code is accepted once): raise --totp-identities: %w", ErrExhausted)

// take returns an identity and the time to compute its code at, or
// errTOTPSpent.
func (p *totpPool) take() (*totpUser, time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	// The steps a code sent now is accepted in, keeping clear of a step
	// that ends before the request arrives: the current one (unless it
	// ends within totpMargin) up to the next one (the server's skew).
	cur := now.Unix() / totpPeriod
	lo, hi := cur, cur+totpSkew
	if time.Unix((cur+1)*totpPeriod, 0).Sub(now) < totpMargin {
		lo++
	}
	for range len(p.users) {
		u := p.users[p.next]
		p.next = (p.next + 1) % len(p.users)
		if s := max(u.next, lo); s <= hi {
			u.next = s + 1
			return u, time.Unix(s*totpPeriod, 0), nil
		}
	}
	return nil, time.Time{}, errTOTPSpent
}

func totpCode(secret string, at time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, at, totpOpts)
}

// totpSkip is the reason totp-aal2 cannot run on a target whose Kratos
// face does not offer TOTP.
const totpSkip = "the Kratos settings flow offers no TOTP (totp_secret_key): set selfservice.methods.totp.enabled: true " +
	"(LATCHKEY_SELFSERVICE_METHODS_TOTP_ENABLED=true) and keep the password attempt limits raised as bench/run.sh does"

// enrollTOTP gives email a TOTP key through the native settings flow: the
// flow offers a key (totp_secret_key), the first code links it.
func (r *Runner) enrollTOTP(ctx context.Context, email string) (*totpUser, error) {
	token, err := r.kratosLoginOnce(ctx, email)
	if err != nil {
		return nil, fmt.Errorf("password login: %w", err)
	}
	h := http.Header{"X-Session-Token": {token}}
	init := &call{method: http.MethodGet, url: r.public + "/self-service/settings/api", header: h}
	rep, err := init.do(ctx, r.hc)
	if err != nil {
		return nil, err
	}
	var flow struct {
		ID string `json:"id"`
		UI struct {
			Nodes []struct {
				Attributes struct {
					ID   string `json:"id"`
					Text struct {
						Text string `json:"text"`
					} `json:"text"`
				} `json:"attributes"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	if err := rep.decode(init, &flow); err != nil {
		return nil, err
	}
	u := &totpUser{email: email}
	for _, n := range flow.UI.Nodes {
		if n.Attributes.ID == "totp_secret_key" {
			u.secret = n.Attributes.Text.Text
		}
	}
	if u.secret == "" {
		return nil, &SkipError{Reason: totpSkip}
	}
	// The enrolment claims a step too: use a pool of one for its code.
	// Close to a step's end, wait for the next step first (setup is not
	// measured), so the step claimed is the current one and the identity
	// has a code left for the rest of this step and the next.
	now := time.Now()
	if left := time.Unix((now.Unix()/totpPeriod+1)*totpPeriod, 0).Sub(now); left < totpMargin {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(left):
		}
	}
	p := &totpPool{users: []*totpUser{u}, now: time.Now}
	_, at, err := p.take()
	if err != nil {
		return nil, err
	}
	code, err := totpCode(u.secret, at)
	if err != nil {
		return nil, fmt.Errorf("totp code: %w", err)
	}
	submit := &call{method: http.MethodPost, url: r.public + "/self-service/settings?flow=" + url.QueryEscape(flow.ID), header: h,
		body: map[string]any{"method": "totp", "totp_code": code}, want: []int{http.StatusOK}}
	if _, err := submit.do(ctx, r.hc); err != nil {
		return nil, fmt.Errorf("link TOTP: %w", err)
	}
	return u, nil
}

// totpLoginOnce logs u in with its password (aal1), then steps the session
// up to aal2 with a TOTP code: four requests.
func (r *Runner) totpLoginOnce(ctx context.Context, p *totpPool) error {
	u, at, err := p.take()
	if err != nil {
		return err
	}
	token, err := r.kratosLoginOnce(ctx, u.email)
	if err != nil {
		return err
	}
	code, err := totpCode(u.secret, at)
	if err != nil {
		return fmt.Errorf("totp code: %w", err)
	}
	h := http.Header{"X-Session-Token": {token}}
	flowID, err := r.nativeFlow(ctx, "/self-service/login/api?aal=aal2", h)
	if err != nil {
		return err
	}
	submit := &call{method: http.MethodPost, url: r.public + "/self-service/login?flow=" + url.QueryEscape(flowID), header: h,
		body: map[string]any{"method": "totp", "totp_code": code}, want: []int{http.StatusOK}}
	rep, err := submit.do(ctx, r.hc)
	if err != nil {
		return err
	}
	var done struct {
		Session struct {
			AAL string `json:"authenticator_assurance_level"`
		} `json:"session"`
	}
	if err := rep.decode(submit, &done); err != nil {
		return err
	}
	if done.Session.AAL != "aal2" {
		return fmt.Errorf("%s %s: session at %q after the TOTP step, want aal2", submit.method, submit.url, done.Session.AAL)
	}
	return nil
}

func (r *Runner) totpAAL2(ctx context.Context) ([]Result, error) {
	n := r.o.TOTPIdentities
	users, err := r.ensureUsers(ctx, 1)
	if err != nil {
		return nil, err
	}
	first, err := r.enrollTOTP(ctx, users[0].email)
	if err != nil {
		return nil, limitedSkip(skipIfMissing("Kratos settings flow", err))
	}
	emails := make([]string, n-1)
	for i := range emails {
		emails[i] = r.email("totp")
	}
	pool := &totpPool{users: make([]*totpUser, n), now: time.Now}
	pool.users[0] = first
	err = r.parallel(ctx, n-1, func(ctx context.Context, i int) error {
		u, err := r.createUser(ctx, emails[i])
		if err != nil {
			return err
		}
		pool.users[i+1], err = r.enrollTOTP(ctx, u.email)
		return err
	})
	if err != nil {
		return nil, limitedSkip(err)
	}
	r.logf("enrolled %d identities in TOTP", n)
	res, err := r.measure(ctx, "totp-aal2",
		fmt.Sprintf("%d identities with TOTP, each code used once; 4 requests per op: GET /self-service/login/api, POST password (aal1), GET /self-service/login/api?aal=aal2, POST totp_code", n),
		r.serverPID(), "server", 1, func(ctx context.Context, _ int, _ int64) error { return r.totpLoginOnce(ctx, pool) })
	res.Crypto = "server: one password hash verify, the TOTP key decrypted (AES-GCM) and up to three HMAC-SHA1 codes (step ±1); client (bench, not counted): one HMAC-SHA1 code"
	return []Result{res}, err
}
