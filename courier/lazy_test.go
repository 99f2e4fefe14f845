package courier

import (
	"runtime"
	"testing"

	"github.com/latchkey/latchkey/heaptest"
)

// TestBuiltinTemplatesParsedOnFirstUse: building the built-in templates
// parses the layout and the default language only (all nine languages
// were 1.3 MB of heap); another language is parsed when it is first
// rendered. Not parallel: it measures the heap.
func TestBuiltinTemplatesParsedOnFirstUse(t *testing.T) {
	heap := func() int64 { return int64(heaptest.Live()) }
	before := heap()
	set, err := newBuiltinSet()
	if err != nil {
		t.Fatal(err)
	}
	built := heap()
	if _, err := set.lang("de"); err != nil {
		t.Fatal(err)
	}
	withGerman := heap()
	runtime.KeepAlive(set)
	t.Logf("heap: %d KB built, %d KB more with de", (built-before)>>10, (withGerman-built)>>10)
	if grown := built - before; grown > 400<<10 {
		t.Errorf("building the templates kept %d KB of heap, want at most 400 KB (the default language only)", grown>>10)
	}
	if withGerman <= built {
		t.Errorf("parsing de on first use kept no heap (%d → %d): was it parsed already?", built, withGerman)
	}
	if types, err := set.lang("xx"); types != nil || err != nil {
		t.Errorf(`lang("xx") = %v, %v; want nil, nil`, types, err)
	}
}
