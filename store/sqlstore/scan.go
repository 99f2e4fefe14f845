package sqlstore

import (
	"fmt"
	"strconv"
	"time"
)

// rowScanner is what *sql.Row, *sql.Rows and *sqlx.Row have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// timeScan scans a time column into t: NULL becomes the zero time, every
// value is converted to UTC. It accepts what the drivers return for time
// columns: time.Time, or text on SQLite.
type timeScan struct{ t *time.Time }

// textTimeLayouts are the text forms a time column may hold on SQLite: ours
// first, then what the driver writes for time.Time arguments.
var textTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999 -0700 MST",
}

// Scan implements sql.Scanner.
func (s timeScan) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s.t = time.Time{}
		return nil
	case time.Time:
		*s.t = v.UTC()
		return nil
	case string:
		return s.parse(v)
	case []byte:
		return s.parse(string(v))
	}
	return fmt.Errorf("scan time: unsupported type %T", v)
}

func (s timeScan) parse(v string) error {
	for _, layout := range textTimeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			*s.t = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("scan time: cannot parse %q", v)
}

// timePtrScan scans a nullable time column into *t: NULL becomes nil.
type timePtrScan struct{ t **time.Time }

// Scan implements sql.Scanner.
func (s timePtrScan) Scan(v any) error {
	if v == nil {
		*s.t = nil
		return nil
	}
	var t time.Time
	if err := (timeScan{&t}).Scan(v); err != nil {
		return err
	}
	*s.t = &t
	return nil
}

// bytesScan scans a nullable text or binary column into a fresh slice: NULL
// becomes nil. Unlike a plain []byte destination it never aliases driver
// memory, whatever the destination's named type.
type bytesScan struct{ b *[]byte }

// Scan implements sql.Scanner.
func (s bytesScan) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s.b = nil
	case []byte:
		*s.b = append(make([]byte, 0, len(v)), v...)
	case string:
		*s.b = []byte(v)
	default:
		return fmt.Errorf("scan bytes: unsupported type %T", v)
	}
	return nil
}

// stringScan scans a nullable text column into s: NULL becomes "".
type stringScan struct{ s *string }

// Scan implements sql.Scanner.
func (s stringScan) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s.s = ""
	case string:
		*s.s = v
	case []byte:
		*s.s = string(v)
	default:
		return fmt.Errorf("scan string: unsupported type %T", v)
	}
	return nil
}

// jsonArg converts a JSON document to a query argument: NULL when nil.
func jsonArg(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// nullArg converts s to a query argument: NULL when empty.
func nullArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// bytesArg converts b to a query argument: NULL when nil.
func bytesArg(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

// placeholders returns n comma-separated question marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, 0, 2*n)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '?')
	}
	return string(b)
}

// chunks splits ids into slices of at most n, so IN lists stay below every
// database's parameter limit.
func chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// anys converts strings to query arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
