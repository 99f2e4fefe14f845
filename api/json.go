package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/core"
)

// DecodeJSON decodes the request body into v strictly: unknown fields, a
// second JSON value, a wrong type or a body over the size limit are all
// client errors, returned as a *core.Error with Code invalid and a message
// that names the problem.
func DecodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return core.Errorf(core.CodeInvalid, "The request body must be JSON (Content-Type: application/json), not %q.", ct)
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return core.Errorf(core.CodeInvalid, "The request body must contain a single JSON value.")
	}
	return nil
}

// DecodeJSONLax decodes like DecodeJSON but accepts unknown fields (for
// endpoints whose clients send extra keys that the reference server ignores).
func DecodeJSONLax(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	var (
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
		maxErr *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &core.Error{Code: core.CodeInvalid, Message: "The request body is empty; a JSON object was expected.", Cause: err}
	case errors.As(err, &maxErr):
		return &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("The request body is larger than the limit of %d bytes.", maxErr.Limit), Cause: err}
	case errors.As(err, &syn):
		return &core.Error{Code: core.CodeInvalid, Message: fmt.Sprintf("The request body is not valid JSON (at byte %d).", syn.Offset), Cause: err}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(root)"
		}
		return &core.Error{Code: core.CodeInvalid, Field: field, Message: fmt.Sprintf("The field %q must be of type %s, not %s.", field, typ.Type, typ.Value), Cause: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &core.Error{Code: core.CodeInvalid, Message: "The request body is truncated JSON.", Cause: err}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &core.Error{Code: core.CodeInvalid, Field: strings.Trim(name, `"`), Message: fmt.Sprintf("The request body has an unknown field %s.", name), Cause: err}
	default:
		return &core.Error{Code: core.CodeInvalid, Message: "The request body could not be decoded as JSON.", Cause: err}
	}
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"encoding failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteRawJSON writes b, JSON encoded already (a cached answer), as
// WriteJSON writes a value.
func WriteRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonContentType is WriteJSON's Content-Type, shared by every response as
// NoCache's value is.
var jsonContentType = []string{"application/json; charset=utf-8"}
