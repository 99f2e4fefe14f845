package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// madvPageout is Linux's MADV_PAGEOUT (5.4+): reclaim the range now, as
// memory pressure would; clean file pages are dropped and read back on the
// next use, nothing is lost.
const madvPageout = 21

// releaseStartupPages asks the kernel to reclaim the pages of this
// process's own executable (code and read-only data) that are mapped now,
// once the server is built. Start-up (migrations, schema compilation,
// templates, embedded files, flow definitions) touches most of the
// executable, and the kernel maps 64 KiB around every page it faults in:
// about 40 MB of the process's RSS at idle that serving never uses again.
// Pages that requests do use fault back in. Only mappings without write
// permission are advised, and MADV_PAGEOUT never discards data. It returns
// the bytes advised; a kernel without MADV_PAGEOUT, or an executable the
// process may not page out (owned by another user and not writable to it),
// leaves the pages mapped and is not an error.
//
// The same mappings are advised MADV_RANDOM first: a page that faults back
// in then brings only itself (and its neighbours already in the page
// cache, the kernel's fault-around) instead of a readahead window around
// it, which on a disk with a large read_ahead_kb (8 MB here) and a kernel
// that caches files in large folios maps megabytes per fault. Without it
// the handful of code paths the idle server runs in its first second
// (health checks, the session cache's change-log poll) brought 15–18 MB
// of the executable back; with it about 4 MB. Requests fault in the code they
// run page by page instead of in windows, once.
func releaseStartupPages() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var advised int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		// MADV_RANDOM only changes how later faults read ahead; a kernel
		// that refuses it leaves the default, so its error is ignored.
		_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_RANDOM)
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), madvPageout); errno == 0 {
			advised += int64(end - start)
		}
	}
	dropPageCache(exe)
	return advised
}

// dropPageCache asks the kernel to drop the executable's pages from the
// page cache (POSIX_FADV_DONTNEED) once the process's own mappings were
// paged out. Pages some process maps stay; the rest go, including those
// that were never mapped but are cached because the file was just written
// (built, copied, pulled). Without it the server's RSS under load depended
// on how the file got onto the machine: fault-around maps every cached
// neighbour of a faulting page, so the same run counted 29.0 MB of the
// executable when the file had just been copied and 22.4 MB when it had
// not. Failing leaves the cache as it was and is not an error.
//
// The kernel drops only clean pages, and a file written less than
// vm.dirty_expire_centisecs (30 s by default) ago is still dirty in the
// page cache: a binary built, copied or pulled just before the start (as
// bench/run.sh and a fresh deployment do) stayed cached whole and was
// mapped around every fault. So the file's dirty pages are written back
// first (fdatasync: nothing for a file already on disk, the write the
// kernel would do within 30 s anyway for one that is not).
func dropPageCache(exe string) {
	f, err := os.Open(exe)
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.Fdatasync(int(f.Fd()))
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
