package ui

import (
	"embed"
	"html/template"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

// pages holds the embedded templates, parsed once. They are part of the
// binary, so a parse error is a build defect that every test catches.
var pages = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))
