package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is an amount of memory in bytes. In configuration it is written as
// a plain number of bytes or as a number with a unit, as Kratos accepts:
// B, KB, MB, GB, TB, PB, EB (powers of 1024), optionally KiB, MiB … as
// synonyms.
type ByteSize uint64

// Byte size units (powers of 1024, as Kratos counts them).
const (
	B  ByteSize = 1
	KB ByteSize = 1 << (10 * iota)
	MB
	GB
	TB
	PB
	EB
)

var byteUnits = []struct {
	name string
	size ByteSize
}{{"EB", EB}, {"PB", PB}, {"TB", TB}, {"GB", GB}, {"MB", MB}, {"KB", KB}, {"B", B}}

// ParseByteSize parses "128MB", "64KB", "1GiB", "512" (bytes) and the like.
// It returns an error for anything else, for negative sizes and for sizes
// that overflow 64 bits.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("%q is not a byte size such as \"128MB\"", s)
	}
	unit = strings.Replace(unit, "IB", "B", 1)
	mult := ByteSize(0)
	if unit == "" {
		mult = B
	}
	for _, u := range byteUnits {
		if unit == u.name || (len(u.name) == 2 && unit == u.name[:1]) {
			mult = u.size
		}
	}
	if mult == 0 {
		return 0, fmt.Errorf("%q has an unknown unit %q; use B, KB, MB, GB, TB, PB or EB", s, t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a byte size such as \"128MB\"", s)
	}
	v := f * float64(mult)
	if v >= math.MaxUint64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return ByteSize(v), nil
}

// String formats the size with the largest unit that divides it exactly,
// e.g. "128MB", so it parses back to the same value.
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b >= u.size && b%u.size == 0 {
			return strconv.FormatUint(uint64(b/u.size), 10) + u.name
		}
	}
	return "0B"
}

// UnmarshalText parses a byte size; see ParseByteSize.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText formats the size as String does.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }
