package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrNotLoopback is returned (wrapped) for a target that is not a loopback
// address. This tool only loads servers on the machine it runs on.
var ErrNotLoopback = errors.New("only loopback targets are allowed (127.0.0.0/8, ::1, localhost)")

// CheckTarget parses raw as the base URL of a target and fails unless it is
// an http(s) URL whose host is a loopback IP address or localhost (which
// must resolve to loopback addresses only). The error names the URL and why
// it was refused.
func CheckTarget(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("target %q: not an http(s) URL such as http://127.0.0.1:4433", raw)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("target %q: no host", raw)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !ip.Unmap().IsLoopback() {
			return nil, fmt.Errorf("target %q: %s is not a loopback address: %w", raw, host, ErrNotLoopback)
		}
		return u, nil
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h != "localhost" && !strings.HasSuffix(h, ".localhost") {
		return nil, fmt.Errorf("target %q: host %q is not a loopback address: %w", raw, host, ErrNotLoopback)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("target %q: resolve %s: %w", raw, host, err)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return nil, fmt.Errorf("target %q: %s resolves to %s: %w", raw, host, a, ErrNotLoopback)
		}
	}
	return u, nil
}

// loopbackOnly is a net.Dialer Control function that refuses to connect to
// anything but a loopback address, whatever a URL or redirect said.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("dial %s: %w", address, ErrNotLoopback)
	}
	return nil
}
