package ui

import (
	"embed"
	"html/template"
	"sync"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

// pages returns the embedded templates, parsed once on the first page
// rendered, not at start: a server whose hosted pages nobody asks for never
// spends the parse (about 0.6 MB allocated and most of the ui package's
// init time). They are part of the binary, so a parse error is a build
// defect that every test catches.
var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))
})
