package config

import (
	"runtime"
	"testing"

	"github.com/latchkey/latchkey/heaptest"
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
	if !heaptest.InFreshProcess(t) {
		return
	}
	before := heaptest.Live()
	cfg, _, err := Load(LoadOptions{Env: []string{"LATCHKEY_LOG_LEVEL=warn", "SERVE_PUBLIC_PORT=4433"}, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	after := heaptest.Live()
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
