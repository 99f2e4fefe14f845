package config

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// TestLoadRetainsNoKeyTree: the key tree derived from Config (every key's
// path, doc, defaults and environment name) and the index of environment
// names are needed while a configuration is loaded, checked or documented,
// not while the server runs. Load used to keep both for the life of the
// process (about 400 KB of live heap, so about twice that in the heap's
// size under load, the collector letting the heap grow by as much as is
// live); now they go with the last caller that uses them.
//
// It measures in a fresh test process, where nothing loaded a
// configuration before.
func TestLoadRetainsNoKeyTree(t *testing.T) {
	if os.Getenv("LATCHKEY_TEST_RETAINED_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoadRetainsNoKeyTree$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "LATCHKEY_TEST_RETAINED_CHILD=1")
		out, err := cmd.CombinedOutput()
		t.Logf("%s", out)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	cfg, _, err := Load(LoadOptions{Env: []string{"LATCHKEY_LOG_LEVEL=warn", "SERVE_PUBLIC_PORT=4433"}, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	after := heap()
	runtime.KeepAlive(cfg)
	grew := int64(after) - int64(before)
	t.Logf("live heap grew by %d bytes across Load (the Config kept)", grew)
	if grew > 100<<10 {
		t.Errorf("Load left %d bytes live besides what it returned, want at most 100 KiB", grew)
	}
	// A second Load builds what it needs again.
	if _, _, err := Load(LoadOptions{Env: []string{}, Dev: true}); err != nil {
		t.Fatal(err)
	}
}
