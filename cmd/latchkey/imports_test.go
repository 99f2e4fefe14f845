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
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Deps", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
	}
	var pkgs []pkg
	imports := map[string][]string{} // every package, ours or not, to its imports
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		imports[p.ImportPath] = p.Imports
		if p.ImportPath == module || strings.HasPrefix(p.ImportPath, module+"/") {
			pkgs = append(pkgs, p)
		}
	}
	// httpVia are third-party packages allowed to bring net/http into
	// method/*: go-webauthn (the chosen WebAuthn library) has
	// *http.Request convenience wrappers and a metadata fetcher next to the
	// byte-level API method/webauthn uses; our code never touches HTTP.
	httpVia := []string{"github.com/go-webauthn/"}
	allowedVia := func(p string) bool {
		for _, pre := range httpVia {
			if strings.HasPrefix(p, pre) {
				return true
			}
		}
		return false
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
				for _, imp := range imports[d] {
					// Every package that brings in net/http or
					// database/sql must be stdlib's own or allowed.
					if (imp == "net/http" || imp == "database/sql") && !allowedVia(d) {
						t.Errorf("%s depends on %s through %s; core, flow and method/* must stay free of HTTP and SQL", r, imp, d)
					}
				}
			}
			for _, imp := range p.Imports {
				if imp == "net/http" || imp == "database/sql" {
					t.Errorf("%s imports %s; core, flow and method/* must stay free of HTTP and SQL", r, imp)
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
