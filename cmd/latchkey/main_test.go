package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/latchkey/latchkey/jsonnet"
)

// TestMain serves as the Jsonnet worker when started as one, and fails
// the run when a test left files in the package directory
// (a --dev secrets file, a database): tests work in their temporary
// directories only.
func TestMain(m *testing.M) {
	jsonnet.RunWorker() // web_hook bodies are rendered in a child process
	before := listDir()
	code := m.Run()
	for name := range listDir() {
		if !before[name] {
			fmt.Fprintf(os.Stderr, "FAIL: a test left %s in the source tree; tests must write under t.TempDir()\n", name)
			os.Remove(name)
			code = 1
		}
	}
	os.Exit(code)
}

func listDir() map[string]bool {
	entries, err := os.ReadDir(".")
	if err != nil {
		panic(err)
	}
	out := map[string]bool{}
	for _, e := range entries {
		out[e.Name()] = true
	}
	return out
}
