package e2e

import (
	"context"
	"fmt"
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

// The tools the README's commands call, installed by the test with `go install` at these versions.
const (
	bufTool     = "github.com/bufbuild/buf/cmd/buf@v1.75.0"
	grpcurlTool = "github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3"
	// demoDefaultAddr is the demo's default listen address, as the README writes it.
	demoDefaultAddr = "127.0.0.1:8080"
)

// How a command is exercised.
type readmeMode int

const (
	// modeDemo runs the command against the running demo: exit 0, output no error, run id kept for <id>.
	modeDemo readmeMode = iota
	// modeLocal runs the command to completion in a fresh temporary directory.
	modeLocal
	// modeHelp runs the command with -h appended: its flags must parse, the work is not done.
	modeHelp
	// modeVet runs `go vet` on the packages a `go test` command names.
	modeVet
	// modeStart starts the command, waits for its ready line, and stops it.
	modeStart
	// modeTool checks that a `go install` names a tool the test installed, at the same version.
	modeTool
	// modeSkip does not run the command (why says why).
	modeSkip
)

var modeNames = map[readmeMode]string{modeDemo: "against the demo", modeLocal: "run", modeHelp: "flags parsed with -h",
	modeVet: "go vet", modeStart: "started until ready", modeTool: "installed by the test", modeSkip: "not run"}

// readmeRule says how the commands its pattern matches (after the substitutions of the conventions
// in readme_cmds_test.go) are exercised. Any command no rule matches fails the test.
type readmeRule struct {
	re    *regexp.Regexp
	mode  readmeMode
	ready *regexp.Regexp // modeStart: the line that says the process is up
	// listen appends --listen with a free address (modeStart of the demo: 8080 may be taken).
	listen bool
	// why explains a rule that does not run its commands fully.
	why string
}

// readmeRules is the allow-list, first match wins. Everything but modeDemo, modeLocal and modeStart
// is not executed fully; each such rule says why.
var readmeRules = []readmeRule{
	{re: regexp.MustCompile(`^buf curl( …)?$`), mode: modeSkip,
		why: "names the tool in prose (the go run / go install forms are checked, the full commands run)"},
	{re: regexp.MustCompile(`^(buf curl|grpcurl|curl) `), mode: modeDemo},
	{re: regexp.MustCompile(`^syncgate( .*)? --demo\b`), mode: modeStart, listen: true,
		ready: regexp.MustCompile(`syncgate demo is ready`)},
	{re: regexp.MustCompile(`^syncgate-mocks( |$)`), mode: modeStart, ready: MocksReady},
	{re: regexp.MustCompile(`^syncgate COMMAND --help$`), mode: modeSkip,
		why: "names the pattern; every client command's --help is tested in server/cli"},
	{re: regexp.MustCompile(`^syncgate cancel `), mode: modeSkip,
		why: "needs a run still in progress (a demo run ends within a second); e2e/operate_test.go cancels one mid-run"},
	{re: regexp.MustCompile(`^syncgate preview FLOW `), mode: modeSkip,
		why: "names the flags' pattern; e2e/operate_test.go previews with --spec"},
	{re: regexp.MustCompile(`^syncgate (sync|runs|run|dead-letters|record|schedules|schedule|preview)( |$)`), mode: modeDemo},
	{re: regexp.MustCompile(`^syncgate( |$)`), mode: modeLocal},
	{re: regexp.MustCompile(`^go run \./e2e/bench\b`), mode: modeHelp,
		why: "a benchmark run takes minutes: its flags are parsed (-h appended), it is not run"},
	{re: regexp.MustCompile(`^go test -run XXX -bench \S+ -benchtime \S+ \./\S+$`), mode: modeSkip,
		why: "a benchmark that first builds 1M audit rows (about 40 s); go vet checks its package with the go test ./... line"},
	{re: regexp.MustCompile(`^go test( \./\S*)+$`), mode: modeVet,
		why: "go test ./... is what runs this test: go vet loads and type-checks the same packages instead"},
	{re: regexp.MustCompile(`^go install \S+@\S+$`), mode: modeTool,
		why: "the test installs buf and grpcurl itself; the README must name the same module and version"},
	{re: regexp.MustCompile(`^go tool pprof http://127\.0\.0\.1:6060/debug/pprof/`), mode: modeSkip,
		why: "needs a gateway started with debug_listen 127.0.0.1:6060 and profiles it for 20 s"},
	{re: regexp.MustCompile(`^go tool pprof -top <gateway binary> DIR/`), mode: modeSkip,
		why: "reads the profile a bench run with -profile writes (minutes)"},
}

var (
	varDefs     = regexp.MustCompile(`^\s*(export\s+)?[A-Za-z_]\w*=\S*((\s*;\s*|\s+)[A-Za-z_]\w*=\S*)*\s*;?\s*$`)
	varDef      = regexp.MustCompile(`([A-Za-z_]\w*)=(\S*?)(;|$|\s)`)
	placeholder = regexp.MustCompile(`<[A-Za-z][\w -]*>`)
)

// readmeSession runs a document's commands in order, carrying the README's variables and the last run id.
type readmeSession struct {
	t        *testing.T
	root     string            // module root
	path     string            // PATH for the commands: the installed tools and the built binaries first
	demoAddr string            // where the demo listens
	tools    map[string]string // installed tool: module path → version
	vars     map[string]string // variables the document defined
	runID    string            // run id of the latest output that carried one
	passed   map[string]bool   // commands not against the demo that passed already (mode and script)
	// local is the working directory of the local commands, shared as a reader's shell is: a
	// database that `migrate up --db x.db` made is the one the next `migrate status --db x.db` reads.
	local string
}

// run exercises one command and returns why it failed, naming the command.
func (s *readmeSession) run(ctx context.Context, c readmeCommand) error {
	expanded, err := s.expand(c.text)
	if err != nil {
		return fmt.Errorf("%s: %s\n\t%v", c.where, c.text, err)
	}
	if expanded == "" { // variable definitions
		return nil
	}
	fail := func(format string, args ...any) error {
		ran := ""
		if expanded != c.text {
			ran = fmt.Sprintf("\n\tran: %s", expanded)
		}
		if len(s.vars) > 0 {
			ran += fmt.Sprintf("\n\twith %s", s.varList())
		}
		return fmt.Errorf("%s: %s%s\n\t%s", c.where, c.text, ran, fmt.Sprintf(format, args...))
	}
	var rule *readmeRule
	for i := range readmeRules {
		if readmeRules[i].re.MatchString(expanded) {
			rule = &readmeRules[i]
			break
		}
	}
	if rule == nil {
		return fail("no rule in e2e/readme_test.go says how to test this command: add one to readmeRules (run it, or allow-list it with a reason)")
	}
	if rule.mode == modeSkip {
		s.t.Logf("%s: not run: %s: %s", c.where, c.text, rule.why)
		return nil
	}
	if expanded, err = s.placeholders(expanded); err != nil {
		return fail("%v", err)
	}
	switch rule.mode {
	case modeTool:
		f := strings.Fields(expanded)
		mod, ver, _ := strings.Cut(f[2], "@")
		if got, ok := s.tools[mod]; !ok || got != ver {
			return fail("the test installs %s and %s, not %s@%s: keep README and e2e/readme_test.go in step", bufTool, grpcurlTool, mod, ver)
		}
		s.t.Logf("%s: ok (%s): %s", c.where, modeNames[rule.mode], expanded)
		return nil
	case modeStart:
		return s.start(ctx, c.where, expanded, rule, fail)
	}
	dir, script, timeout := s.root, expanded, 3*time.Minute // go commands may compile
	switch rule.mode {
	case modeDemo:
		timeout = time.Minute
	case modeLocal:
		// A command that serves instead of ending belongs to a modeStart rule.
		dir, timeout = s.local, 30*time.Second
	case modeHelp:
		script += " -h"
	case modeVet:
		script = "go vet" + strings.TrimPrefix(expanded, "go test")
	}
	expanded = script // what fail reports as run
	once := fmt.Sprint(rule.mode, " ", script)
	if rule.mode != modeDemo && s.passed[once] {
		s.t.Logf("%s: ok (%s, as above): %s", c.where, modeNames[rule.mode], script)
		return nil
	}
	out, err := s.bash(ctx, dir, script, timeout)
	if err != nil {
		return fail("%v; output:\n%s", err, indent(out))
	}
	if err := checkOutput(out); err != nil {
		return fail("exit 0, but the output is an error: %v; output:\n%s", err, indent(out))
	}
	if rule.mode == modeDemo {
		if id := lastRunID(out); id != "" {
			s.runID = id
		}
	}
	if rule.mode != modeDemo {
		s.passed[once] = true
	}
	s.t.Logf("%s: ok (%s): %s", c.where, modeNames[rule.mode], script)
	return nil
}

// expand applies the document's conventions: it records variable definitions (and returns ""),
// puts the demo's address for the default one, and the built or installed binaries for go run.
func (s *readmeSession) expand(cmd string) (string, error) {
	if varDefs.MatchString(cmd) {
		for _, m := range varDef.FindAllStringSubmatch(cmd, -1) {
			s.vars[m[1]] = strings.ReplaceAll(m[2], demoDefaultAddr, s.demoAddr)
		}
		return "", nil
	}
	cmd = strings.ReplaceAll(cmd, demoDefaultAddr, s.demoAddr)
	for mod, ver := range s.tools {
		re := regexp.MustCompile(`\bgo run ` + regexp.QuoteMeta(mod) + `@(\S+)`)
		if m := re.FindStringSubmatch(cmd); m != nil && m[1] != ver {
			return "", fmt.Errorf("runs %s@%s, but the test installs %s@%s: keep them in step", mod, m[1], mod, ver)
		}
		cmd = re.ReplaceAllString(cmd, filepath.Base(mod))
	}
	cmd = regexp.MustCompile(`\bgo run \./server/cmd/syncgate\b`).ReplaceAllString(cmd, "syncgate")
	cmd = regexp.MustCompile(`\bgo run \./mocks/cmd/syncgate-mocks\b`).ReplaceAllString(cmd, "syncgate-mocks")
	return cmd, nil
}

// placeholders puts the latest run id for <id> and refuses any other placeholder.
func (s *readmeSession) placeholders(cmd string) (string, error) {
	var err error
	cmd = placeholder.ReplaceAllStringFunc(cmd, func(p string) string {
		if p == "<id>" && s.runID != "" {
			return s.runID
		}
		if err == nil {
			if p == "<id>" {
				err = fmt.Errorf("<id>: no earlier command printed a run id (run.id)")
			} else {
				err = fmt.Errorf("placeholder %s: the test only fills <id> (the latest run id); write a real value", p)
			}
		}
		return p
	})
	return cmd, err
}

func (s *readmeSession) varList() string {
	var l []string
	for k, v := range s.vars {
		l = append(l, k+"="+v)
	}
	return strings.Join(l, " ")
}

// env is the test process's environment without SYNCGATE_* settings, with PATH and the document's
// variables.
func (s *readmeSession) env() []string {
	var env []string
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if _, own := s.vars[name]; own || strings.HasPrefix(name, "SYNCGATE_") || name == "PATH" {
			continue
		}
		env = append(env, e)
	}
	env = append(env, "PATH="+s.path)
	for k, v := range s.vars {
		env = append(env, k+"="+v)
	}
	return env
}

// bash runs script with `bash -o pipefail -uc` in dir and returns its combined output; the process group is
// killed on timeout.
func (s *readmeSession) bash(ctx context.Context, dir, script string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-uc", script)
	cmd.Dir, cmd.Env = dir, s.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("still running after %s", timeout)
	}
	return string(out), err
}

// start runs a long-running command until it prints its ready line, then kills it.
func (s *readmeSession) start(ctx context.Context, where, script string, rule *readmeRule, fail func(string, ...any) error) error {
	if rule.listen {
		addr, err := FreePort()
		if err != nil {
			return fail("free port: %v", err)
		}
		script += " --listen " + addr
	}
	p, err := StartProcess("readme command", "bash", []string{"-o", "pipefail", "-uc", script}, s.env())
	if err != nil {
		return fail("%v", err)
	}
	defer p.Kill()
	if _, err := p.WaitFor(rule.ready, time.Minute); err != nil {
		return fail("%v", err)
	}
	if err := checkText(p.Output()); err != nil {
		return fail("started, but the output is an error: %v; output:\n%s", err, indent(p.Output()))
	}
	s.t.Logf("%s: ok (%s): %s", where, modeNames[rule.mode], script)
	return nil
}

func indent(s string) string {
	const max = 4000
	if len(s) > max {
		s = s[:max] + "\n…"
	}
	return "\t\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t\t")
}

// installTools installs buf and grpcurl into dir with `GOBIN=dir go install` (the build cache makes
// this quick once buf has been built for `buf generate`) and returns module path → version.
func installTools(t *testing.T, dir string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	if d, ok := t.Deadline(); ok {
		ctx, cancel = context.WithDeadline(context.Background(), d.Add(-30*time.Second))
	}
	defer cancel()
	tools := map[string]string{}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, tool := range []string{bufTool, grpcurlTool} {
		mod, ver, _ := strings.Cut(tool, "@")
		tools[mod] = ver
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, "go", "install", tool)
			cmd.Dir, cmd.Env = dir, append(os.Environ(), "GOBIN="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go install %s: %w\n%s", tool, err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return tools
}

// startReadmeDemo starts the gateway binary in demo mode on a free port and returns the session that
// runs commands against it, with the demo's start-up output.
func startReadmeDemo(t *testing.T) (*readmeSession, string) {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tools := t.TempDir()
	s := &readmeSession{t: t, root: root, tools: installTools(t, tools), vars: map[string]string{}, passed: map[string]bool{}, local: t.TempDir(),
		path: tools + string(os.PathListSeparator) + filepath.Dir(bins.gateway) + string(os.PathListSeparator) + os.Getenv("PATH")}
	if s.demoAddr, err = FreePort(); err != nil {
		t.Fatal(err)
	}
	// The demo's schedules (every 30 s) would start runs while the README's commands start theirs, and a
	// run in progress refuses another: here they are an hour apart. TestDemoSchedulesBothFlows checks the
	// demo's own.
	demo := Start(t, "syncgate --demo", bins.gateway, []string{"--demo", "--listen", s.demoAddr},
		[]string{"SYNCGATE_SYNC_SCHEDULE_CUSTOMERS=every 1h", "SYNCGATE_SYNC_SCHEDULE_AGENTS=every 1h"})
	if _, err := demo.WaitFor(regexp.MustCompile(`(?s)syncgate demo is ready.*Stop with Ctrl-C`), time.Minute); err != nil {
		t.Fatal(err)
	}
	return s, demo.Output()
}

// TestREADMECommands runs every command of README.md (its sh blocks and the commands in its prose)
// and every command the demo prints at start-up, against a demo gateway started from the real binary,
// as readme_cmds_test.go and readmeRules describe. A command fails the test if it exits non-zero,
// prints an error (an RPC error, a Preview record that would fail, a failed run), or no rule covers it.
func TestREADMECommands(t *testing.T) {
	s, demoOut := startReadmeDemo(t)
	md, err := os.ReadFile(filepath.Join(s.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := readmeCommands("README.md", string(md))
	printed := demoHelpCommands(demoOut)
	if len(cmds) == 0 || len(printed) == 0 {
		t.Fatalf("found %d README commands and %d demo commands; the extraction is broken", len(cmds), len(printed))
	}
	ctx := context.Background()
	for _, c := range append(cmds, printed...) {
		if err := s.run(ctx, c); err != nil {
			t.Error(err)
		}
	}

	// The checks catch what a wrong README command does. Each of these commands is wrong and must fail.
	t.Run("wrong commands fail", func(t *testing.T) {
		ws := *s
		ws.t, ws.passed = t, map[string]bool{}
		ws.vars = map[string]string{"KEY": "demo-key", "URL": "http://" + s.demoAddr}
		wrong := []string{
			// a Kingdee customer number the demo does not have (it has CUST0000001)
			`buf curl -H "Authorization: Bearer $KEY" -d '{"flow":"FLOW_CUSTOMERS","keys":{"keys":["CUST000001"]}}' $URL/syncgate.v1.SyncService/Preview`,
			// an RPC error over the Connect protocol: curl exits 0
			`curl -s -H "Authorization: Bearer wrong-key" -H 'Content-Type: application/json' -d '{}' $URL/syncgate.v1.SyncService/ListRuns`,
			`buf curl -H "Authorization: Bearer $KEY" -d '{"runId":"no-such-run"}' $URL/syncgate.v1.SyncService/GetRun`,
			`buf curl -H "Authorization: Bearer $KEY" -d '{"runId":"no-such-run"}' $URL/syncgate.v1.SyncService/GetRun | head -5`,
			`grpcurl -plaintext -d '{}' 127.0.0.1:8080 syncgate.v1.SyncService/ListRuns`,
			`buf curl -H "Authorization: Bearer $TOKEN" -d '{}' $URL/syncgate.v1.SyncService/ListRuns`,
			`buf curl -H "Authorization: Bearer $KEY" -d '{"runId":"<run id>"}' $URL/syncgate.v1.SyncService/GetRun`,
			`go run ./e2e/bench -no-such-flag 3`,
			`syncgate migrate sideways`,
			`make demo`,
			`go run github.com/bufbuild/buf/cmd/buf@v1.74.0 curl --list-methods $URL`,
			`go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.8.9`,
		}
		for _, w := range wrong {
			err := ws.run(ctx, readmeCommand{where: "wrong", text: w})
			if err == nil {
				t.Errorf("wrong command passed: %s", w)
				continue
			}
			t.Logf("caught as expected: %v", err)
		}
	})
}
