package heaptest

import (
	"os"
	"testing"
)

// keep holds what TestLive allocates until it has measured.
var keep []byte

// TestLive: bytes kept reachable show in Live, and the measuring test
// runs in a child process whose environment marks it.
func TestLive(t *testing.T) {
	if !InFreshProcess(t) {
		return
	}
	if os.Getenv(childEnv) == "" {
		t.Fatal("InFreshProcess returned true outside the child")
	}
	before := Live()
	keep = make([]byte, 4<<20)
	grew := int64(Live()) - int64(before)
	if grew < 4<<20 {
		t.Errorf("Live grew by %d bytes with 4 MiB kept, want at least 4 MiB", grew)
	}
}
