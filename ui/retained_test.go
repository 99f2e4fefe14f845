package ui

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// TestTranslatorDecodesOneCatalog: a page in English keeps the English
// catalog live, not the nine (about 200 KB decoded). It measures in a
// fresh test process, where no page was translated before.
func TestTranslatorDecodesOneCatalog(t *testing.T) {
	if os.Getenv("LATCHKEY_TEST_RETAINED_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTranslatorDecodesOneCatalog$", "-test.v", "-test.count=1")
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
	tr := newTranslator("en")
	if tr.text("Sign in") == "" {
		t.Fatal("no English text")
	}
	en := int64(heap()) - int64(before)
	runtime.KeepAlive(tr)
	t.Logf("live heap grew by %d bytes with the English catalog decoded", en)
	if en > 64<<10 {
		t.Errorf("translating into English left %d bytes live, want at most 64 KiB (one catalog)", en)
	}
}
