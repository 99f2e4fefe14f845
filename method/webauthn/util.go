package webauthn

import (
	"net/netip"
	"strings"
)

func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// hostWithin reports whether host is rpID or a subdomain of it (WebAuthn
// §5.1.2: the RP ID must be a registrable domain suffix of, or equal to,
// the origin's effective domain).
func hostWithin(host, rpID string) bool {
	host, rpID = strings.ToLower(host), strings.ToLower(rpID)
	return host == rpID || strings.HasSuffix(host, "."+rpID)
}
