// Package e2e holds the end-to-end suites: they build the real gateway and mock-vendor binaries, start
// them as separate processes on free loopback ports, drive the RPCs through grpc-go stubs and the
// Connect client, and check the vendors' state through the mocks' control plane.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the main package at pkg (a path relative to the module root, e.g. "./server/cmd/syncgate")
// into dir and returns the binary's path.
func Build(ctx context.Context, moduleRoot, pkg, dir string) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = moduleRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// ModuleRoot finds the directory holding go.mod, starting from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a loopback address with a port that was free a moment ago.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Process is a started binary whose combined output is captured.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// StartProcess runs bin with args and env (added to a minimal environment) and returns at once; the
// caller must Kill it.
func StartProcess(name, bin string, args, env []string) (*Process, error) {
	p := &Process{Name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// Start is StartProcess for tests: the process is killed when the test ends, whatever happens, and
// its output is logged if the test failed.
func Start(t testing.TB, name, bin string, args, env []string) *Process {
	t.Helper()
	p, err := StartProcess(name, bin, args, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- output of %s ---\n%s", name, p.Output())
		}
	})
	return p
}

// PeakRSS returns the process's peak resident set size in bytes (Linux VmHWM).
func (p *Process) PeakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &kb)
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM for %s", p.Name)
}

// CPUTime returns the CPU time (user plus system) the process has used so far (Linux /proc/PID/stat,
// in clock ticks of 1/100 s, the value on every Linux/amd64 and arm64 kernel).
func (p *Process) CPUTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it start past its closing ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc stat for %s", p.Name)
	}
	var utime, stime int64
	if _, err := fmt.Sscan(fields[11], &utime); err != nil {
		return 0, fmt.Errorf("utime of %s: %w", p.Name, err)
	}
	if _, err := fmt.Sscan(fields[12], &stime); err != nil {
		return 0, fmt.Errorf("stime of %s: %w", p.Name, err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// WaitFor waits until the output matches re and returns the first submatch (or the whole match).
func (p *Process) WaitFor(re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.Output()); m != nil {
			if len(m) > 1 {
				return m[1], nil
			}
			return m[0], nil
		}
		select {
		case <-p.done:
			return "", fmt.Errorf("%s exited (%v) before printing %s:\n%s", p.Name, p.err, re, p.Output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s did not print %s within %s:\n%s", p.Name, re, timeout, p.Output())
}

// Output returns everything the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit, at most timeout.
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", p.Name, timeout)
	}
}

// Kill ends the process and its group with SIGKILL (kill -9) and waits for it.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Lines returns the output lines containing substr.
func (p *Process) Lines(substr string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(p.Output()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// ExecutingRun reports whether the gateway's log (at info level) shows it executing a slice of the
// run now: its last line about the run is "run started" (an execution of the run began here), not
// "run handed over at a page boundary" or "run ended". Once the process has exited its output is
// complete, so after a kill -9 this tells whether the kill interrupted an execution of the run.
func (p *Process) ExecutingRun(runID string) bool {
	open := false
	for _, l := range p.Lines("run_id=" + runID) {
		switch {
		case strings.Contains(l, `msg="run started"`):
			open = true
		case strings.Contains(l, `msg="run handed over`), strings.Contains(l, `msg="run ended"`):
			open = false
		}
	}
	return open
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)
