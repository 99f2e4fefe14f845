package hanko

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/api"
)

// TestDecodeFlowBody checks that decodeFlowBody accepts and refuses the
// bodies api.DecodeJSONLax accepts and refuses, with the same values,
// including trailing data, invalid JSON, wrong types and a body over the
// limit whose first value ends within it.
func TestDecodeFlowBody(t *testing.T) {
	t.Parallel()
	big := `{"input_data":{"a":1},"csrf_token":"t"}` + strings.Repeat(" ", 200)
	for _, tc := range []struct {
		name, body string
		limit      int64
	}{
		{"object", `{"input_data":{"email":"a@example.com"},"csrf_token":"abc"}`, 1 << 10},
		{"unknown field", `{"input_data":{},"csrf_token":"abc","extra":[1,2]}`, 1 << 10},
		{"trailing data", `{"input_data":{},"csrf_token":"abc"} trailing`, 1 << 10},
		{"two values", `{"csrf_token":"a"}{"csrf_token":"b"}`, 1 << 10},
		{"invalid", `{"input_data":{},"csrf_token":`, 1 << 10},
		{"empty", ``, 1 << 10},
		{"null", `null`, 1 << 10},
		{"wrong type", `{"input_data":{},"csrf_token":5}`, 1 << 10},
		{"array", `[1]`, 1 << 10},
		{"over the limit, value within", big, 100},
		{"over the limit, value beyond", `{"csrf_token":"` + strings.Repeat("x", 200) + `"}`, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/login?action=a@b", strings.NewReader(tc.body))
				r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, tc.limit)
				return r
			}
			var want, got flowBody
			werr := api.DecodeJSONLax(req(), &want)
			gerr := decodeFlowBody(req(), &got)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("decodeFlowBody error %v, api.DecodeJSONLax error %v", gerr, werr)
			}
			if werr == nil && (got.CSRFToken != want.CSRFToken || !bytes.Equal(got.InputData, want.InputData)) {
				t.Fatalf("decodeFlowBody %+v, api.DecodeJSONLax %+v", got, want)
			}
		})
	}
}
