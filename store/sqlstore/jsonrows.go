package sqlstore

import (
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// jsonRows returns a scalar subquery that gives the rows of from (a FROM
// clause with its WHERE) as one JSON array holding, per row, an array of
// the values of exprs: a list of child rows read in the statement of their
// parent. It is NULL when there are no rows on PostgreSQL and MySQL, []
// on SQLite. Values arrive as each database writes them in JSON: text as
// strings (times in the column's text form, which timeScan reads),
// booleans as true/false or 0/1, NULL as null; binary columns must be
// wrapped in hexOf and listed to decodeJSONRows.
func (f Flavor) jsonRows(exprs, from string) string {
	switch f {
	case SQLite:
		return `(SELECT json_group_array(json_array(` + exprs + `)) ` + from + `)`
	case Postgres:
		return `(SELECT json_agg(json_build_array(` + exprs + `)) ` + from + `)`
	default:
		return `(SELECT JSON_ARRAYAGG(JSON_ARRAY(` + exprs + `)) ` + from + `)`
	}
}

// hexOf is the binary column expr as hexadecimal text for jsonRows, NULL
// kept NULL (SQLite's hex(NULL) is an empty string).
func (f Flavor) hexOf(expr string) string {
	switch f {
	case SQLite:
		return `CASE WHEN ` + expr + ` IS NULL THEN NULL ELSE hex(` + expr + `) END`
	case Postgres:
		return `encode(` + expr + `, 'hex')`
	default:
		return `HEX(` + expr + `)`
	}
}

// jsonTextOf is the JSON document column expr as text for jsonRows, so
// that it arrives as a string on every database (PostgreSQL's json type
// would otherwise be nested as a value).
func (f Flavor) jsonTextOf(expr string) string {
	if f == Postgres {
		return expr + `::text`
	}
	return expr
}

// decodeJSONRows decodes a jsonRows value (nil for SQL NULL) into rows
// that scan like database rows; the values at the hexCols positions are
// decoded from hexadecimal to []byte.
func decodeJSONRows(b []byte, hexCols ...int) ([]jsonRow, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var rows [][]any
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("decode child rows: %w", err)
	}
	out := make([]jsonRow, len(rows))
	for k, r := range rows {
		for _, c := range hexCols {
			if c >= len(r) || r[c] == nil {
				continue
			}
			s, ok := r[c].(string)
			if !ok {
				return nil, fmt.Errorf("decode child rows: column %d is %T, not hexadecimal text", c, r[c])
			}
			v, err := hex.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("decode child rows: column %d: %w", c, err)
			}
			r[c] = v
		}
		out[k] = jsonRow(r)
	}
	return out, nil
}

// jsonRow is one row of a jsonRows value. Its Scan hands each value to its
// destination as database/sql would a driver's: a sql.Scanner gets it as
// decoded (string, float64, bool, []byte for hex columns, or nil), a
// pointer to a string, bool or integer kind is set from a string, a
// boolean or 0/1, or an integral number.
type jsonRow []any

// Scan implements rowScanner.
func (r jsonRow) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("scan child row: %d values into %d destinations", len(r), len(dest))
	}
	for k, d := range dest {
		if err := assignJSON(d, r[k]); err != nil {
			return fmt.Errorf("scan child row: column %d: %w", k, err)
		}
	}
	return nil
}

func assignJSON(dest, v any) error {
	if s, ok := dest.(sql.Scanner); ok {
		return s.Scan(v)
	}
	p := reflect.ValueOf(dest)
	if p.Kind() != reflect.Pointer || p.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dest)
	}
	e := p.Elem()
	switch e.Kind() {
	case reflect.String:
		if s, ok := v.(string); ok {
			e.SetString(s)
			return nil
		}
	case reflect.Bool:
		switch x := v.(type) {
		case bool:
			e.SetBool(x)
			return nil
		case float64:
			if x == 0 || x == 1 {
				e.SetBool(x == 1)
				return nil
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if x, ok := v.(float64); ok && x == math.Trunc(x) && !e.OverflowInt(int64(x)) {
			e.SetInt(int64(x))
			return nil
		}
	}
	if v == nil {
		return errors.New("NULL into a non-nullable destination")
	}
	return fmt.Errorf("cannot assign %T to %T", v, dest)
}

// discard is a scan destination that ignores its value.
type discard struct{}

// Scan implements sql.Scanner.
func (discard) Scan(any) error { return nil }
