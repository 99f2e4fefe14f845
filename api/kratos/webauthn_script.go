package kratos

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
)

// webAuthnJS is the browser side of the passkey and webauthn methods
// (webauthn.js), served at WebAuthnScriptPath.
//
//go:embed webauthn.js
var webAuthnJS []byte

// WebAuthnScriptPath is where the face serves its WebAuthn script, the path
// Kratos' UIs load it from.
const WebAuthnScriptPath = "/.well-known/ory/webauthn.js"

var (
	// webAuthnIntegrity is the script's Subresource Integrity value
	// (sha512-<base64>), put on every script node.
	webAuthnIntegrity = func() string {
		sum := sha512.Sum512(webAuthnJS)
		return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
	}()
	// webAuthnETag names this build's script for conditional requests.
	webAuthnETag = func() string {
		sum := sha256.Sum256(webAuthnJS)
		return `"` + hex.EncodeToString(sum[:16]) + `"`
	}()
)

// WebAuthnScriptIntegrity returns the SRI value of the served script, for
// pages that load it themselves.
func WebAuthnScriptIntegrity() string { return webAuthnIntegrity }

// serveWebAuthnJS serves GET and HEAD /.well-known/ory/webauthn.js. The
// script is public and the same for everyone, so any origin may load it
// (Access-Control-Allow-Origin: *, which the script node's crossorigin=
// "anonymous" and integrity check need when a UI on another origin loads
// it). Caches keep it but revalidate on every use (no-cache with an ETag):
// flows name the script by its integrity hash, and a copy left over from
// an older release would fail that check.
func serveWebAuthnJS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, no-cache")
	h.Set("ETag", webAuthnETag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if etagMatch(r.Header.Get("If-None-Match"), webAuthnETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write(webAuthnJS)
}

// etagMatch reports whether an If-None-Match header names etag (or "*").
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// scriptNode returns the node that loads the WebAuthn script (Kratos'
// webauthn_script in group webauthn), with a fresh CSP nonce a UI may use.
func (s *SelfService) scriptNode() Node {
	return Node{Type: "script", Group: groupWebAuthn, Messages: []Text{}, Attributes: Attributes{
		NodeType: "script", Type: "text/javascript", AnchorID: "webauthn_script",
		Src: s.url(strings.TrimPrefix(WebAuthnScriptPath, "/"), nil), Async: true, ReferrerPolicy: "no-referrer",
		CrossOrigin: "anonymous", Integrity: webAuthnIntegrity, Nonce: scriptNonce(),
	}}
}

// scriptNonce returns 128 random bits, base64url-encoded.
func scriptNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
