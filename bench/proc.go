package bench

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProcSample is one reading of a process's resource use from /proc.
type ProcSample struct {
	CPU     time.Duration // user + system time since the process started
	RSS     int64         // resident set size now, in bytes (VmRSS)
	PeakRSS int64         // peak resident set size since start, in bytes (VmHWM)
}

// ReadProc reads the CPU time of pid from /proc/PID/stat and its resident
// set sizes from /proc/PID/status. It fails when the process does not exist
// or the files are not in the Linux format.
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read process %d: %w", pid, err)
	}
	ticks, err := parseStatCPU(stat)
	if err != nil {
		return s, fmt.Errorf("read process %d: %w", pid, err)
	}
	s.CPU = time.Duration(ticks) * time.Second / time.Duration(clockTicks())
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read process %d: %w", pid, err)
	}
	if s.RSS, s.PeakRSS, err = parseStatusRSS(status); err != nil {
		return s, fmt.Errorf("read process %d: %w", pid, err)
	}
	return s, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15, in clock ticks) of a
// /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat []byte) (uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(fields))
	}
	utime, err := strconv.ParseUint(fields[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc stat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc stat: stime: %w", err)
	}
	return utime + stime, nil
}

// parseStatusRSS returns VmRSS and VmHWM of a /proc/PID/status file in
// bytes.
func parseStatusRSS(status []byte) (rss, hwm int64, err error) {
	var haveRSS bool
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst, haveRSS = &rss, true
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			return 0, 0, fmt.Errorf("/proc status: unexpected line %q", line)
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc status: %q: %w", line, err)
		}
		*dst = kb * 1024
	}
	if !haveRSS {
		return 0, 0, errors.New("/proc status: no VmRSS line (a zombie or kernel thread?)")
	}
	return rss, hwm, nil
}

// clockTicks returns the kernel's clock ticks per second (AT_CLKTCK from
// /proc/self/auxv), or 100, the value on every common Linux platform, when
// that cannot be read.
var clockTicks = sync.OnceValue(func() int64 {
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	const atClkTck = 17
	for i := 0; i+16 <= len(auxv); i += 16 {
		k := binary.NativeEndian.Uint64(auxv[i:])
		v := binary.NativeEndian.Uint64(auxv[i+8:])
		if k == atClkTck && v > 0 && v < 1e6 {
			return int64(v)
		}
		if k == 0 {
			break
		}
	}
	return 100
})

// SharesExecutable reports whether process pid runs the same executable
// file as this process. When the bench client and the server it measures
// run one file, the pages of it the client runs stay in the page cache and
// the kernel's fault-around (it maps the cached neighbours, up to 64 KiB,
// of each page a process faults in) maps many of them into the server as
// well: the server's RSS then counts code only the client runs. It fails
// when either executable cannot be read (another user's process, or not
// Linux).
func SharesExecutable(pid int) (bool, error) {
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		return false, fmt.Errorf("read this process's executable: %w", err)
	}
	other, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false, fmt.Errorf("read the executable of process %d: %w", pid, err)
	}
	return os.SameFile(self, other), nil
}

// LoadAverage returns the one-minute load average from /proc/loadavg, or -1
// when it cannot be read.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// rssSampler records the highest VmRSS of a process while it runs.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}
	peak int64
}

func startRSSSampler(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if p, err := ReadProc(pid); err == nil && p.RSS > s.peak {
				s.peak = p.RSS
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peak RSS seen, in bytes.
func (s *rssSampler) Stop() int64 {
	close(s.stop)
	<-s.done
	if p, err := ReadProc(s.pid); err == nil && p.RSS > s.peak {
		s.peak = p.RSS
	}
	return s.peak
}

// ReadProcTreeCPU returns the CPU time of pid and of all its descendants:
// for each live process of the tree its user and system time plus that of
// its children it has waited for (cutime, cstime), so a PostgreSQL backend
// that exited between two readings still counts, in its postmaster's
// cutime. It fails when pid does not exist.
func ReadProcTreeCPU(pid int) (time.Duration, error) {
	return procTreeCPU(pid, true, nil)
}

// backendKey names one process across pid reuse: its pid and its start
// time (field 22 of /proc/PID/stat, clock ticks after boot).
type backendKey struct {
	pid   int
	start uint64
}

// backendsMeter measures the CPU time the backends of one PostgreSQL
// database spend over a period, including backends that start or exit
// within it. It samples the postmaster's children every interval and keeps
// each backend's CPU time at the start of the period (0 for one that
// started later) and at its latest sample; the period's CPU is the sum of
// the differences. A backend that exits is counted up to its last sample:
// what it spent after that (at most one interval of its CPU) is lost, as is
// a backend that starts and exits between two samples. Reading only the
// backends alive at both ends, as this tool did, subtracted the whole
// lifetime CPU of a backend that exited meanwhile and could go negative.
type backendsMeter struct {
	read func() (map[backendKey]uint64, error) // CPU ticks of the database's live backends
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	base map[backendKey]uint64
	last map[backendKey]uint64
	err  error
}

// startBackendsMeter takes the first sample of read and samples it every
// interval until Stop. It fails when the first sample does.
func startBackendsMeter(read func() (map[backendKey]uint64, error), every time.Duration) (*backendsMeter, error) {
	base, err := read()
	if err != nil {
		return nil, err
	}
	m := &backendsMeter{read: read, stop: make(chan struct{}), done: make(chan struct{}), base: base, last: map[backendKey]uint64{}}
	maps.Copy(m.last, base)
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.sample()
			}
		}
	}()
	return m, nil
}

// sample records one reading; a failed one (the postmaster gone) is kept
// for Stop to return.
func (m *backendsMeter) sample() {
	now, err := m.read()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.err = err
		return
	}
	maps.Copy(m.last, now)
}

// Stop takes a last sample, ends sampling and returns the CPU time the
// database's backends spent since the meter started.
func (m *backendsMeter) Stop() (time.Duration, error) {
	close(m.stop)
	<-m.done
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	var ticks uint64
	for k, t := range m.last {
		if b := m.base[k]; t > b {
			ticks += t - b
		}
	}
	return time.Duration(ticks) * time.Second / time.Duration(clockTicks()), nil
}

// postgresBackends returns a reader of the CPU ticks (utime+stime) of the
// live children of pid (a PostgreSQL postmaster) whose process title
// ("postgres: [cluster:] user db host(port) state") names database db.
// Titles are read once per backend. The reader fails when pid is gone.
func postgresBackends(pid int, db string) func() (map[backendKey]uint64, error) {
	ours := map[backendKey]bool{}
	return func() (map[backendKey]uint64, error) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			return nil, fmt.Errorf("read process %d: %w", pid, err)
		}
		out := map[backendKey]uint64{}
		for _, c := range childrenOf(pid) {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c))
			if err != nil {
				continue // exited meanwhile
			}
			ppid, start, ticks, err := parseStatBackend(b)
			if err != nil || ppid != pid {
				continue
			}
			k := backendKey{c, start}
			match, seen := ours[k]
			if !seen {
				cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
				if err != nil {
					continue
				}
				match = postgresTitleNames(cmd, db)
				ours[k] = match
			}
			if match {
				out[k] = ticks
			}
		}
		return out, nil
	}
}

// childrenOf returns the pids of pid's children: from
// /proc/PID/task/PID/children when the kernel has it, else from a scan of
// /proc (callers check the parent again).
func childrenOf(pid int) []int {
	var out []int
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
		return out
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if c, err := strconv.Atoi(e.Name()); err == nil && c != pid {
			out = append(out, c)
		}
	}
	return out
}

// parseStatBackend returns the parent pid (field 4), start time (field 22)
// and utime+stime (fields 14 and 15) of a /proc/PID/stat line.
func parseStatBackend(stat []byte) (ppid int, start, ticks uint64, err error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, 0, 0, errors.New("/proc stat: no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state).
	if len(fields) < 20 {
		return 0, 0, 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 20", len(fields))
	}
	if ppid, err = strconv.Atoi(fields[1]); err != nil {
		return 0, 0, 0, fmt.Errorf("/proc stat: ppid: %w", err)
	}
	if start, err = strconv.ParseUint(fields[19], 10, 64); err != nil {
		return 0, 0, 0, fmt.Errorf("/proc stat: starttime: %w", err)
	}
	utime, err := strconv.ParseUint(fields[11], 10, 64)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("/proc stat: utime: %w", err)
	}
	stime, err := strconv.ParseUint(fields[12], 10, 64)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("/proc stat: stime: %w", err)
	}
	return ppid, start, utime + stime, nil
}

// postgresTitleNames reports whether a PostgreSQL backend's cmdline (its
// process title) names database db.
func postgresTitleNames(cmdline []byte, db string) bool {
	f := strings.Fields(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if len(f) < 4 || f[0] != "postgres:" {
		return false
	}
	for _, w := range f[2:] {
		if w == db {
			return true
		}
	}
	return false
}

// procTreeCPU sums the CPU time of pid (when withRoot) and of its
// descendants that include accepts (all when nil).
func procTreeCPU(pid int, withRoot bool, include func(pid int) bool) (time.Duration, error) {
	root, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process %d: %w", pid, err)
	}
	_, ticks, err := parseStatTree(root)
	if err != nil {
		return 0, fmt.Errorf("read process %d: %w", pid, err)
	}
	if !withRoot {
		ticks = 0
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("read /proc: %w", err)
	}
	parent := map[int]int{}
	own := map[int]uint64{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		ppid, t, err := parseStatTree(b)
		if err != nil {
			continue
		}
		parent[p], own[p] = ppid, t
	}
	for p, t := range own {
		for q, seen := parent[p], 0; q != 0 && seen < 64; q, seen = parent[q], seen+1 {
			if q == pid {
				if include == nil || include(p) {
					ticks += t
				}
				break
			}
		}
	}
	return time.Duration(ticks) * time.Second / time.Duration(clockTicks()), nil
}

// parseStatTree returns the parent pid (field 4) and utime+stime+cutime+
// cstime (fields 14 to 17) of a /proc/PID/stat line.
func parseStatTree(stat []byte) (int, uint64, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, 0, errors.New("/proc stat: no command name")
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 15 {
		return 0, 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 15", len(fields))
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, fmt.Errorf("/proc stat: ppid: %w", err)
	}
	var sum uint64
	for _, f := range fields[11:15] {
		v, err := strconv.ParseInt(f, 10, 64) // cutime and cstime are signed
		if err != nil {
			return 0, 0, fmt.Errorf("/proc stat: times: %w", err)
		}
		sum += uint64(max(v, 0))
	}
	return ppid, sum, nil
}
