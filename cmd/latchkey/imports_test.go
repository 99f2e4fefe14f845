package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/latchkey/latchkey"

// TestImportFirewall keeps the layering of ARCHITECTURE.md: core, flow and
// method/* stay free of net/http and database/sql, the faces never import
// each other, nothing imports the faces but cmd/latchkey, and only
// cmd/latchkey (and test support) imports the store backends.
func TestImportFirewall(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 3 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	rel := func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }
	pure := func(p string) bool {
		r := rel(p)
		return r == "core" || r == "flow" || strings.HasPrefix(r, "flow/") || strings.HasPrefix(r, "method/")
	}
	backends := []string{module + "/store/sqlite", module + "/store/postgres", module + "/store/mysql", module + "/store/sqlstore"}
	for _, p := range pkgs {
		r := rel(p.ImportPath)
		if pure(p.ImportPath) {
			for _, d := range p.Deps {
				if d == "net/http" || d == "database/sql" {
					t.Errorf("%s depends on %s; core, flow and method/* must stay free of HTTP and SQL", r, d)
				}
			}
		}
		for _, imp := range p.Imports {
			for _, b := range backends {
				if imp == b && r != "cmd/latchkey" && !strings.HasPrefix(r, "store/") {
					t.Errorf("%s imports the store backend %s; only cmd/latchkey may", r, rel(b))
				}
			}
			for _, face := range []string{"api/kratos", "api/hanko"} {
				if (rel(imp) == face || strings.HasPrefix(rel(imp), face+"/")) &&
					!strings.HasPrefix(r, "cmd/") && r != face && !strings.HasPrefix(r, face+"/") {
					t.Errorf("%s imports the face %s; nothing but cmd/latchkey imports a face", r, rel(imp))
				}
			}
		}
	}
}
