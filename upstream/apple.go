package upstream

import (
	"fmt"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// appleSecret makes Apple's client secret: an ES256 JWT signed with the
// team's private key (Sign in with Apple, "Creating a client secret"),
// valid for a day and made again before it runs out.
type appleSecret struct {
	teamID, clientID string
	key              jwk.Key

	mu      sync.Mutex
	value   string
	expires time.Time
}

func newAppleSecret(c Config) (*appleSecret, error) {
	if c.AppleTeamID == "" || c.ApplePrivateKeyID == "" || c.ApplePrivateKey == "" {
		return nil, fmt.Errorf("upstream: provider apple needs client_secret or all of apple_team_id, apple_private_key_id, apple_private_key")
	}
	key, err := jwk.ParseKey([]byte(c.ApplePrivateKey), jwk.WithPEM(true))
	if err != nil {
		return nil, fmt.Errorf("upstream: apple_private_key is not a PEM private key: %w", err)
	}
	if err := key.Set(jwk.KeyIDKey, c.ApplePrivateKeyID); err != nil {
		return nil, fmt.Errorf("upstream: apple key id: %w", err)
	}
	return &appleSecret{teamID: c.AppleTeamID, clientID: c.ClientID, key: key}, nil
}

func (a *appleSecret) get() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.value != "" && now.Add(time.Hour).Before(a.expires) {
		return a.value, nil
	}
	exp := now.Add(24 * time.Hour)
	tok, err := jwt.NewBuilder().Issuer(a.teamID).Subject(a.clientID).Audience([]string{"https://appleid.apple.com"}).
		IssuedAt(now).Expiration(exp).Build()
	if err != nil {
		return "", fmt.Errorf("apple client secret: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), a.key))
	if err != nil {
		return "", fmt.Errorf("apple client secret: sign: %w", err)
	}
	a.value, a.expires = string(signed), exp
	return a.value, nil
}
