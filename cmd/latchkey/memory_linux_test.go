package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestDropPageCache: a file's cached pages that no process maps leave the
// page cache. releaseStartupPages does this to the executable once the
// server is built, so that however the file got onto the machine (a fresh
// build, copy or image pull leaves all of it cached), the kernel's
// fault-around cannot map cached neighbours of the pages the server runs.
//
// Both an executable installed some time ago (its pages written back) and
// one written just now (its pages still dirty, as after a build or a copy
// right before the start) are dropped.
func TestDropPageCache(t *testing.T) {
	for _, tc := range []struct {
		name   string
		synced bool
	}{
		{"written back", true},
		{"just written", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "exe")
			if err := os.WriteFile(path, bytes.Repeat([]byte("latchkey"), 1<<20), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if tc.synced {
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.ReadAt(make([]byte, 8<<20), 0); err != nil {
				t.Fatal(err)
			}
			before := cachedFraction(t, f)
			if before < 0.9 {
				t.Skipf("only %.0f%% of the file is cached after reading it all (memory pressure?)", before*100)
			}
			dropPageCache(path)
			after := cachedFraction(t, f)
			t.Logf("pages in the page cache: %.0f%% before, %.0f%% after", before*100, after*100)
			if after > 0.1 {
				t.Errorf("%.0f%% of the file still cached after dropPageCache", after*100)
			}
		})
	}
}

// cachedFraction returns the share of f's pages in the page cache
// (mincore on a fresh read-only mapping, which faults nothing in).
func cachedFraction(t *testing.T, f *os.File) float64 {
	t.Helper()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	// x/sys/unix has no mincore wrapper on Linux.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return float64(n) / float64(len(vec))
}
