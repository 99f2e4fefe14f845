package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/latchkey/latchkey/core"
)

// referenceVerify is VerifyJWT as it was before it split the compact form
// and checked the signature with jwsbb itself: jwx's jwt.ParseString with a
// key provider and jwx's validation. The equivalence test holds VerifyJWT
// to it.
func referenceVerify(k *Keys, token string, o VerifyOptions) (*Claims, error) {
	if err := canonicalJWT(token); err != nil {
		return nil, invalidJWT(err)
	}
	opts := []jwt.ParseOption{
		jwt.WithKeyProvider(jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
			h := sig.ProtectedHeaders()
			kid, ok := h.KeyID()
			if !ok || kid == "" {
				return errors.New("no kid")
			}
			alg, ok := h.Algorithm()
			if !ok {
				return errors.New("no alg")
			}
			rk, err := k.lookup(ctx, kid)
			if err != nil {
				return err
			}
			if alg != rk.alg {
				return errors.New("alg not allowed")
			}
			sink.Key(rk.alg, rk.public)
			return nil
		})),
		jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(k.now)),
		jwt.WithAcceptableSkew(k.skew),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	t, err := jwt.ParseString(token, opts...)
	if err != nil {
		return nil, invalidJWT(err)
	}
	// The claims are copied as VerifyJWT copies them: what is compared is
	// which tokens pass and what jwx decoded from them.
	c, err := claimsOf(t)
	if err != nil {
		return nil, invalidJWT(err)
	}
	return c, nil
}

// signPayload signs payload (raw JSON) with the ring's signing key, as
// SignJWT would sign claims: the header names the kid, the signature is
// low-S.
func signPayload(t *testing.T, k *Keys, payload []byte) string {
	t.Helper()
	r := k.current(context.Background())
	b, err := jws.Sign(payload, jws.WithKey(r.signerAlg, r.signer))
	if err != nil {
		t.Fatal(err)
	}
	if b, err = lowS(b, r.signerAlg.String()); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVerifyJWTMatchesJWX: VerifyJWT accepts exactly the tokens jwx's
// jwt.Parse with the same checks accepts, with the same claims, and flags
// the same ones as expired — over payloads that vary every registered
// claim's value, type and time around the skew edges, for each
// combination of audience and issuer checks. The only difference allowed
// is in one direction: spellings Latchkey never signs that jwx tolerates
// (dates as strings or with an exponent, null, null audience elements) may be refused.
func TestVerifyJWTMatchesJWX(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	for _, alg := range []Algorithm{ES256, RS256} {
		k := newKeysWith(t, clk, KeysOptions{Algorithm: alg, Now: clk.Now, VerifyCacheSize: -1})
		now := clk.Now().Unix()
		skew := int64(DefaultSkew / time.Second)
		num := func(n int64) string { return strconv.FormatInt(n, 10) }
		type value struct {
			json   string // "" leaves the claim out
			strict bool   // a spelling VerifyJWT may refuse though jwx accepts it
		}
		plain := func(vs ...string) []value {
			out := make([]value, len(vs))
			for i, v := range vs {
				out[i] = value{json: v}
			}
			return out
		}
		dims := []struct {
			name   string
			values []value
		}{
			{"exp", append(plain("", num(now+3600), num(now-skew-1), num(now-skew), num(now-skew+1), num(now), "0",
				num(now+3600)+".75", num(now-skew)+".9", "-5", `true`),
				value{`"` + num(now+3600) + `"`, true}, value{"null", true}, value{"1e12", true})},
			{"iat", append(plain("", num(now), num(now+skew-1), num(now+skew), num(now+skew+1), num(now+skew)+".5", `"x"`),
				value{`"` + num(now) + `"`, true}, value{"null", true})},
			{"nbf", append(plain("", num(now), num(now+skew-1), num(now+skew), num(now+skew+1), "[1]"),
				value{"null", true})},
			{"aud", append(plain("", `"aud"`, `["aud"]`, `["x","aud"]`, `["x"]`, `[]`, `5`, `[5]`, `{"a":1}`),
				value{`[null,"aud"]`, true}, value{"null", true})},
			{"iss", append(plain("", `"iss"`, `"other"`, `5`, `["iss"]`), value{"null", true})},
			{"sub", append(plain("", `"alice"`, `5`), value{"null", true})},
			{"jti", append(plain("", `"j"`, `1`), value{"null", true})},
			{"session_id", append(plain("", `"s"`, `5`, `["s"]`), value{"null", true})},
			{"email", plain("", `{"address":"a@example.com","is_primary":true}`, `null`)},
			{"amr", plain("", `["pwd","otp"]`, `[]`)},
			{"n", plain("", `1.5`, `12345678901`, `"str"`)},
		}
		base := map[string]string{"exp": num(now + 3600), "iat": num(now), "aud": `["aud"]`, "iss": `"iss"`,
			"sub": `"alice"`, "session_id": `"s"`, "email": `{"address":"a@example.com"}`}
		payload := func(set map[string]value) (string, bool) {
			var parts []string
			strict := false
			for _, d := range dims {
				v, ok := set[d.name]
				if !ok {
					v = value{json: base[d.name]}
				}
				strict = strict || v.strict
				if v.json != "" {
					parts = append(parts, strconv.Quote(d.name)+":"+v.json)
				}
			}
			return "{" + strings.Join(parts, ",") + "}", strict
		}
		type tcase struct {
			set map[string]value
		}
		var cases []tcase
		for _, d := range dims { // one claim varied at a time
			for _, v := range d.values {
				cases = append(cases, tcase{map[string]value{d.name: v}})
			}
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		for range 300 { // and random combinations
			set := map[string]value{}
			for _, d := range dims {
				set[d.name] = d.values[rnd.IntN(len(d.values))]
			}
			cases = append(cases, tcase{set})
		}
		opts := []VerifyOptions{{}, {Audience: "aud"}, {Issuer: "iss"}, {Audience: "aud", Issuer: "iss"}}
		accepted := 0
		for n, tc := range cases {
			p, strict := payload(tc.set)
			tok := signPayload(t, k, []byte(p))
			for _, o := range opts {
				name := fmt.Sprintf("%s case %d %s %+v", alg, n, p, o)
				got, gotErr := k.VerifyJWT(ctx, tok, o)
				want, wantErr := referenceVerify(k, tok, o)
				switch {
				case gotErr == nil && wantErr != nil:
					t.Fatalf("%s: VerifyJWT accepted what jwx refuses (%v): %+v", name, wantErr, got)
				case gotErr != nil && wantErr == nil && !strict:
					t.Fatalf("%s: VerifyJWT refused what jwx accepts: %v", name, gotErr)
				case gotErr != nil:
					wantCode(t, gotErr, core.CodeUnauthorized, ErrInvalidJWT)
					if wantErr != nil && !strict && errors.Is(gotErr, ErrExpired) != errors.Is(wantErr, ErrExpired) {
						t.Fatalf("%s: expired %v, jwx %v (%v / %v)", name, errors.Is(gotErr, ErrExpired), errors.Is(wantErr, ErrExpired), gotErr, wantErr)
					}
				default:
					accepted++
					if !sameClaims(got, want) {
						t.Fatalf("%s: claims\n%#v\nwant (jwx)\n%#v", name, got, want)
					}
				}
			}
		}
		if accepted < 100 {
			t.Fatalf("%s: only %d of %d checks accepted: the grid does not exercise acceptance", alg, accepted, len(cases)*len(opts))
		}
	}
}

// sameClaims compares claims, times by instant and Extra by its JSON.
func sameClaims(a, b *Claims) bool {
	ja, _ := json.Marshal(a.Extra)
	jb, _ := json.Marshal(b.Extra)
	return a.Subject == b.Subject && a.SessionID == b.SessionID && a.Issuer == b.Issuer && a.ID == b.ID &&
		reflect.DeepEqual(a.Audience, b.Audience) && a.IssuedAt.Equal(b.IssuedAt) && a.NotBefore.Equal(b.NotBefore) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && string(ja) == string(jb) && reflect.DeepEqual(a.Extra, b.Extra)
}
