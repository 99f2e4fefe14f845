package password

import (
	"crypto/hmac"
	"crypto/md5"  //nolint:gosec // imported legacy hashes
	"crypto/sha1" //nolint:gosec // imported legacy hashes
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"

	"golang.org/x/crypto/md4" //nolint:staticcheck // imported legacy hashes
)

// digestFunc returns the constructor of a plain digest by Kratos' name.
func digestFunc(name string) func() hash.Hash {
	switch name {
	case "md4":
		return md4.New
	case "md5":
		return md5.New
	case "sha1":
		return sha1.New
	case "sha224":
		return sha256.New224
	case "sha256":
		return sha256.New
	case "sha384":
		return sha512.New384
	case "sha512":
		return sha512.New
	}
	return nil
}

func sum(newHash func() hash.Hash, data []byte) []byte {
	h := newHash()
	h.Write(data)
	return h.Sum(nil)
}

// parseSSHA decodes the LDAP forms "{SSHA}", "{SSHA256}" and "{SSHA512}"
// followed by base64(digest(password ‖ salt) ‖ salt). The salt must be at
// least one byte.
func parseSSHA(name, b64 string) (*parsed, error) {
	scheme := "{" + name + "}"
	digest := map[string]string{"SSHA": "sha1", "SSHA256": "sha256", "SSHA512": "sha512"}[name]
	newHash := digestFunc(digest)
	// Kratos decodes these with the non-strict standard encoding.
	raw, err := decodeB64(base64.StdEncoding, scheme, "value", b64)
	if err != nil {
		return nil, err
	}
	size := newHash().Size()
	if len(raw) <= size {
		return nil, malformed(scheme, "%d decoded bytes leave no salt after the %d-byte digest", len(raw), size)
	}
	want, salt := raw[:size], raw[size:]
	return &parsed{scheme: scheme, match: func(password []byte) (bool, error) {
		input := make([]byte, 0, len(password)+len(salt))
		input = append(append(input, password...), salt...)
		return equal(sum(newHash, input), want), nil
	}}, nil
}

// applyTemplate fills Kratos' salting template: every "{PASSWORD}" and
// "{SALT}" in pf is replaced, in one pass, by the password and the salt.
func applyTemplate(pf, salt, password []byte) []byte {
	r := strings.NewReplacer("{SALT}", string(salt), "{PASSWORD}", string(password))
	return []byte(r.Replace(string(pf)))
}

// decodeTemplated decodes "$<id>$pf=<template>$<salt>$<hash>" with padded
// base64 in every field.
func decodeTemplated(id string, parts []string) (pf, salt, want []byte, err error) {
	b64pf, ok := strings.CutPrefix(parts[2], "pf=")
	if !ok || b64pf == "" {
		return nil, nil, nil, malformed(id, "want pf=<base64 template>, got %q", parts[2])
	}
	if pf, err = decodeB64(stdB64, id, "pf template", b64pf); err != nil {
		return nil, nil, nil, err
	}
	if len(pf) == 0 {
		return nil, nil, nil, malformed(id, "the pf template is empty")
	}
	if salt, err = decodeB64(stdB64, id, "salt", parts[3]); err != nil {
		return nil, nil, nil, err
	}
	if want, err = decodeB64(stdB64, id, "hash", parts[4]); err != nil {
		return nil, nil, nil, err
	}
	return pf, salt, want, nil
}

// parseSaltedSHA decodes Kratos' "$sha1$pf=…$salt$hash" (and sha256,
// sha512): hash = digest(template with {PASSWORD} and {SALT} filled in).
func parseSaltedSHA(id, encoded string) (*parsed, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 5 {
		return nil, malformed(id, "want $%s$pf=…$salt$hash, got %d $-separated fields", id, len(parts)-1)
	}
	pf, salt, want, err := decodeTemplated(id, parts)
	if err != nil {
		return nil, err
	}
	newHash := digestFunc(id)
	if len(want) != newHash().Size() {
		return nil, malformed(id, "hash is %d bytes, want %d", len(want), newHash().Size())
	}
	return &parsed{scheme: id, match: func(password []byte) (bool, error) {
		return equal(sum(newHash, applyTemplate(pf, salt, password)), want), nil
	}}, nil
}

// parseMD5 decodes Kratos' "$md5$<hash>" (unsalted) and
// "$md5$pf=…$salt$hash" (salted through a template), padded base64.
func parseMD5(encoded string) (*parsed, error) {
	const id = "md5"
	parts := strings.Split(encoded, "$")
	var pf, salt, want []byte
	var err error
	switch len(parts) {
	case 3:
		if want, err = decodeB64(stdB64, id, "hash", parts[2]); err != nil {
			return nil, err
		}
	case 5:
		if pf, salt, want, err = decodeTemplated(id, parts); err != nil {
			return nil, err
		}
	default:
		return nil, malformed(id, "want $md5$hash or $md5$pf=…$salt$hash, got %d $-separated fields", len(parts)-1)
	}
	if len(want) != md5.Size {
		return nil, malformed(id, "hash is %d bytes, want %d", len(want), md5.Size)
	}
	return &parsed{scheme: id, match: func(password []byte) (bool, error) {
		input := password
		if pf != nil {
			input = applyTemplate(pf, salt, password)
		}
		return equal(sum(md5.New, input), want), nil
	}}, nil
}

// parseHMAC decodes Kratos' "$hmac-<digest>$<base64(hex(mac))>$<base64(key)>"
// where mac = HMAC-<digest>(key, password). The hex may be in either case.
func parseHMAC(id, encoded string) (*parsed, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 {
		return nil, malformed(id, "want $%s$base64(hex mac)$base64(key), got %d $-separated fields", id, len(parts)-1)
	}
	newHash := digestFunc(strings.TrimPrefix(id, "hmac-"))
	hexMAC, err := decodeB64(stdB64, id, "mac", parts[2])
	if err != nil {
		return nil, err
	}
	want := make([]byte, hex.DecodedLen(len(hexMAC)))
	if _, err := hex.Decode(want, hexMAC); err != nil {
		return nil, malformed(id, "mac is not hexadecimal: %v", err)
	}
	if len(want) != newHash().Size() {
		return nil, malformed(id, "mac is %d bytes, want %d", len(want), newHash().Size())
	}
	key, err := decodeB64(stdB64, id, "key", parts[3])
	if err != nil {
		return nil, err
	}
	return &parsed{scheme: id, match: func(password []byte) (bool, error) {
		m := hmac.New(newHash, key)
		m.Write(password)
		return hmac.Equal(m.Sum(nil), want), nil
	}}, nil
}
