package kratos

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/latchkey/latchkey/api"
	"github.com/latchkey/latchkey/core"
)

// SchemaContainerJSON is Kratos' identitySchemaContainer.
type SchemaContainerJSON struct {
	ID     string          `json:"id"`
	Schema json.RawMessage `json:"schema"`
}

// listSchemas serves GET /schemas (listIdentitySchemas) with Kratos'
// migration pagination.
func (h *Handler) listSchemas(w http.ResponseWriter, r *http.Request) {
	p, err := parseMigrationPage(r.URL.Query())
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	all := h.ids.Schemas().List()
	out := []SchemaContainerJSON{}
	for n := p.offset; n < len(all) && n < p.offset+p.size; n++ {
		out = append(out, SchemaContainerJSON{ID: all[n].ID, Schema: all[n].Raw()})
	}
	MigrationLinks(w, r, len(all), p.offset, p.size)
	api.WriteJSON(w, http.StatusOK, out)
}

// getSchema serves GET /schemas/{id}: the id as configured or base64url
// encoded as in schema_url.
func (h *Handler) getSchema(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sch, err := h.ids.Schemas().Schema(id)
	if err != nil {
		if raw, derr := base64.RawURLEncoding.DecodeString(id); derr == nil {
			sch, err = h.ids.Schemas().Schema(string(raw))
		}
	}
	if err != nil {
		h.errs.Write(w, r, &core.Error{Code: core.CodeNotFound,
			Message: "The requested identity schema does not exist.", Cause: err})
		return
	}
	writeRaw(w, http.StatusOK, sch.Raw())
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
