package kratos

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/core"
)

// Kratos' pagination limits (notes §7).
const (
	identityPageSizeDefault = 250
	identityPageSizeMax     = 500
	legacyPageItemsMax      = 1000 // page*per_page may not exceed this
	sessionPageSizeDefault  = 250
	sessionPageSizeMax      = 1000
)

// NilUUID is the first keyset page token of the identity list.
const NilUUID = "00000000-0000-0000-0000-000000000000"

// PageSize reads the page_size query parameter: def when absent, an error
// (Code invalid) when it is not a positive integer; values above max are
// clamped to max as Kratos does.
func PageSize(q url.Values, def, max int) (int, error) {
	return sizeParam(q, "page_size", def, max)
}

func sizeParam(q url.Values, name string, def, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, &core.Error{Code: core.CodeInvalid, Field: name,
			Message: fmt.Sprintf("The query parameter %s must be a positive integer, not %q.", name, v)}
	}
	if n > max {
		n = max
	}
	return n, nil
}

// KeysetLinks sets the Link header of a keyset-paginated list exactly as
// Kratos' keysetpagination does: links built from the request path and query
// (re-encoded, keys sorted), rel="first" always (with firstToken, or without
// page_token when it is empty) and rel="next" only when nextToken is not
// empty; entries are joined by "," without a space.
func KeysetLinks(w http.ResponseWriter, r *http.Request, pageSize int, firstToken, nextToken string) {
	link := func(token, rel string) string {
		q := cloneQuery(r.URL.Query())
		q.Set("page_size", strconv.Itoa(pageSize))
		if token == "" {
			q.Del("page_token")
		} else {
			q.Set("page_token", token)
		}
		return fmt.Sprintf("<%s?%s>; rel=%q", r.URL.Path, q.Encode(), rel)
	}
	parts := []string{link(firstToken, "first")}
	if nextToken != "" {
		parts = append(parts, link(nextToken, "next"))
	}
	w.Header().Set("Link", strings.Join(parts, ","))
}

func cloneQuery(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// identityPage is the parsed pagination of GET /admin/identities.
type identityPage struct {
	legacy bool
	after  string // keyset: ids greater than this
	size   int    // keyset page size or legacy per_page
	page   int    // legacy page number (0-based)
}

// parseIdentityPage implements Kratos' ParseKeysetOrPagePagination: `page`
// without page_token/page_size selects legacy page pagination (page 0-based,
// per_page default 250, max 500, page*per_page ≤ 1000); otherwise keyset
// pagination with page_token (the last id of the previous page) and
// page_size, where a lone per_page counts as page_size.
func parseIdentityPage(q url.Values) (identityPage, error) {
	if q.Get("page") != "" && q.Get("page_token") == "" && q.Get("page_size") == "" {
		page, err := strconv.Atoi(q.Get("page"))
		if err != nil || page < 0 {
			return identityPage{}, &core.Error{Code: core.CodeInvalid, Field: "page",
				Message: fmt.Sprintf("The query parameter page must be a non-negative integer, not %q.", q.Get("page"))}
		}
		size, err := sizeParam(q, "per_page", identityPageSizeDefault, identityPageSizeMax)
		if err != nil {
			return identityPage{}, err
		}
		if page > math.MaxInt32 || page*size > legacyPageItemsMax {
			return identityPage{}, &core.Error{Code: core.CodeInvalid, Field: "page",
				Message: fmt.Sprintf("Legacy pagination reaches at most %d items (page*per_page); use page_token and page_size instead.", legacyPageItemsMax)}
		}
		return identityPage{legacy: true, size: size, page: page}, nil
	}
	p := identityPage{after: NilUUID}
	var err error
	if q.Get("page_size") == "" && q.Get("per_page") != "" {
		p.size, err = sizeParam(q, "per_page", identityPageSizeDefault, identityPageSizeMax)
	} else {
		p.size, err = PageSize(q, identityPageSizeDefault, identityPageSizeMax)
	}
	if err != nil {
		return identityPage{}, err
	}
	if t := q.Get("page_token"); t != "" {
		id, ok := core.ParseID(t)
		if !ok {
			return identityPage{}, &core.Error{Code: core.CodeInvalid, Field: "page_token",
				Message: "The page_token is not valid: use the page_token of a Link header returned by this endpoint."}
		}
		p.after = id
	}
	return p, nil
}

// LegacyLinks sets the Link header and X-Total-Count of Kratos' legacy page
// pagination (page/per_page): first, next, prev and last as they apply.
func LegacyLinks(w http.ResponseWriter, r *http.Request, total, page, perPage int) {
	last := 0
	if total > 0 {
		last = (total - 1) / perPage
	}
	link := func(p int, rel string) string {
		q := cloneQuery(r.URL.Query())
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf("<%s?%s>; rel=%q", r.URL.Path, q.Encode(), rel)
	}
	parts := []string{link(0, "first")}
	if page < last {
		parts = append(parts, link(page+1, "next"))
	}
	if page > 0 {
		parts = append(parts, link(min(page-1, last), "prev"))
	}
	parts = append(parts, link(last, "last"))
	w.Header().Set("Link", strings.Join(parts, ","))
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
}

// SessionToken is a position in a list ordered by created_at descending, id
// descending (sessions, courier messages).
type SessionToken struct {
	ID        string
	CreatedAt time.Time
}

// sessionTokenTimeFormat is the time layout inside session page tokens.
const sessionTokenTimeFormat = time.RFC3339Nano

// defaultSessionToken is the token of the first page: before everything.
var defaultSessionToken = SessionToken{ID: NilUUID, CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}

// Encode returns Kratos' map page token: base64 (standard alphabet, no
// padding) of "id=<uuid>/created_at=<timestamp>".
func (t SessionToken) Encode() string {
	s := "id=" + t.ID + "/created_at=" + t.CreatedAt.UTC().Format(sessionTokenTimeFormat)
	return base64.RawStdEncoding.EncodeToString([]byte(s))
}

// ParseSessionToken decodes a token made by SessionToken.Encode. A token
// that does not decode yields a *core.Error with Code invalid.
func ParseSessionToken(tok string) (SessionToken, error) {
	bad := &core.Error{Code: core.CodeInvalid, Field: "page_token",
		Message: "The page_token is not valid: use the page_token of a Link header returned by this endpoint."}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(tok, "="))
	if err != nil {
		return SessionToken{}, bad
	}
	var t SessionToken
	for _, part := range strings.Split(string(raw), "/") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return SessionToken{}, bad
		}
		switch k {
		case "id":
			id, ok := core.ParseID(v)
			if !ok {
				return SessionToken{}, bad
			}
			t.ID = id
		case "created_at":
			ts, err := time.Parse(sessionTokenTimeFormat, v)
			if err != nil {
				return SessionToken{}, bad
			}
			t.CreatedAt = ts.UTC()
		default:
			return SessionToken{}, bad
		}
	}
	if t.ID == "" || t.CreatedAt.IsZero() {
		return SessionToken{}, bad
	}
	return t, nil
}

// migrationPage is the parsed pagination of Kratos' migration scheme
// (page/per_page or page_token/page_size with offset tokens).
type migrationPage struct {
	offset, size int
}

// migrationToken is the JSON inside a migration page token.
type migrationToken struct {
	Offset string `json:"offset"`
	V      int    `json:"v"`
}

func encodeMigrationToken(offset int) string {
	b, _ := json.Marshal(migrationToken{Offset: strconv.Itoa(offset), V: 2})
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseMigrationPage reads page/per_page (0-based page) or
// page_token/page_size (offset tokens); default size 250, max 1000.
func parseMigrationPage(q url.Values) (migrationPage, error) {
	bad := func(field string) error {
		return &core.Error{Code: core.CodeInvalid, Field: field,
			Message: fmt.Sprintf("The query parameter %s is not valid.", field)}
	}
	if q.Get("page_token") != "" || q.Get("page_size") != "" {
		size, err := PageSize(q, sessionPageSizeDefault, sessionPageSizeMax)
		if err != nil {
			return migrationPage{}, err
		}
		p := migrationPage{size: size}
		if t := q.Get("page_token"); t != "" {
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(t, "="))
			if err != nil {
				return migrationPage{}, bad("page_token")
			}
			var mt migrationToken
			if err := json.Unmarshal(raw, &mt); err != nil {
				return migrationPage{}, bad("page_token")
			}
			off, err := strconv.Atoi(mt.Offset)
			if err != nil || off < 0 {
				return migrationPage{}, bad("page_token")
			}
			p.offset = off
		}
		return p, nil
	}
	size, err := sizeParam(q, "per_page", sessionPageSizeDefault, sessionPageSizeMax)
	if err != nil {
		return migrationPage{}, err
	}
	page := 0
	if v := q.Get("page"); v != "" {
		page, err = strconv.Atoi(v)
		if err != nil || page < 0 || page > math.MaxInt32/size {
			return migrationPage{}, bad("page")
		}
	}
	return migrationPage{offset: page * size, size: size}, nil
}

// MigrationLinks sets the Link header and X-Total-Count of Kratos' migration
// pagination. Every link carries page_size, page_token, per_page and page;
// which rels appear depends on the position (notes §7).
func MigrationLinks(w http.ResponseWriter, r *http.Request, total, offset, size int) {
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	link := func(off int, rel string) string {
		q := cloneQuery(r.URL.Query())
		q.Set("page_size", strconv.Itoa(size))
		q.Set("page_token", encodeMigrationToken(off))
		q.Set("per_page", strconv.Itoa(size))
		q.Set("page", strconv.Itoa(off/size))
		return fmt.Sprintf("<%s?%s>; rel=%q", r.URL.Path, q.Encode(), rel)
	}
	lastOff := 0
	if total > 0 {
		lastOff = ((total - 1) / size) * size
	}
	switch {
	case total == 0:
		w.Header().Set("Link", strings.Join([]string{link(0, "first"), link(size, "next"), link(0, "prev")}, ","))
	case total <= size:
		w.Header().Del("Link")
		w.Header()["link"] = []string{link(0, "first")}
	case offset == 0:
		w.Header().Set("Link", strings.Join([]string{link(size, "next"), link(lastOff, "last")}, ","))
	case offset+size >= total:
		w.Header().Set("Link", strings.Join([]string{link(0, "first"), link(max(offset-size, 0), "prev")}, ","))
	default:
		w.Header().Set("Link", strings.Join([]string{link(0, "first"), link(offset+size, "next"),
			link(max(offset-size, 0), "prev"), link(lastOff, "last")}, ","))
	}
}
