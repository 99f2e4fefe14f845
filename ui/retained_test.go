package ui

import (
	"runtime"
	"testing"

	"github.com/latchkey/latchkey/heaptest"
)

// TestTranslatorDecodesOneCatalog: a page in English keeps the English
// catalog live, not the nine (about 200 KB decoded). It measures in a
// fresh test process, where no page was translated before.
func TestTranslatorDecodesOneCatalog(t *testing.T) {
	if !heaptest.InFreshProcess(t) {
		return
	}
	before := heaptest.Live()
	tr := newTranslator("en")
	if tr.text("Sign in") == "" {
		t.Fatal("no English text")
	}
	en := int64(heaptest.Live()) - int64(before)
	runtime.KeepAlive(tr)
	t.Logf("live heap grew by %d bytes with the English catalog decoded", en)
	if en > 64<<10 {
		t.Errorf("translating into English left %d bytes live, want at most 64 KiB (one catalog)", en)
	}
}
