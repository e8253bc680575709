// Package cli is syncgate's command-line client: the subcommands of the syncgate binary that call a
// running gateway's API (sync, runs, run, cancel, dead-letters, record, schedules, schedule, status, preview)
// over Connect.
//
// Main is driven only by its arguments, environment lookup and writers (no os.Exit, no process
// globals), so the binary's main and tests call it alike. The gateway's address comes from
// SYNCGATE_URL (or --url), the API key from SYNCGATE_API_KEY or the file named by
// SYNCGATE_API_KEY_FILE. Output is human-readable tables by default and protojson with --json.
// The exit codes (ExitOK and friends) are part of the interface scripts rely on.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
)

// Exit codes of Main. They are stable: scripts may rely on them.
const (
	// ExitOK: the command succeeded (for a command that waited for a run, the run SUCCEEDED).
	ExitOK = 0
	// ExitRunFailed: the run the command waited for ended FAILED or CANCELLED (or the command failed
	// in a way no other code names).
	ExitRunFailed = 1
	// ExitUsage: bad arguments or flags, or a bad client environment (both SYNCGATE_API_KEY and
	// SYNCGATE_API_KEY_FILE set, an unreadable key, spec or records file).
	ExitUsage = 2
	// ExitRunPartial: the run the command waited for ended PARTIAL (some records are now dead letters).
	ExitRunPartial = 3
	// ExitAPIError: the gateway answered with an error (invalid argument, not found, failed
	// precondition, unauthenticated, internal, …); the message names the code.
	ExitAPIError = 4
	// ExitUnreachable: the gateway could not be reached, did not answer as the API, or the
	// connection was lost before the answer (or before the watched run ended).
	ExitUnreachable = 5
	// ExitInterrupted: the command was interrupted (its context was cancelled, e.g. by Ctrl-C). A
	// run it started keeps running on the gateway.
	ExitInterrupted = 130
)

// DefaultURL is the gateway address used when SYNCGATE_URL is unset: the gateway's default listen
// address (server/config).
const DefaultURL = "http://127.0.0.1:8080"

// command is one subcommand: its name, its arguments for the usage text, and what it does.
type command struct {
	name, args, help string
	run              func(*session, []string) error
}

// commands are the client's subcommands, in the order the usage lists them.
var commands = []command{
	{"sync", "customers|agents [--dry-run] [--full] [--keys K1,K2] [--limit N] [--use-orgs O1,O2] [--wait | --watch]", "start a run; print its id, or wait for it, or follow it with a progress bar", cmdSync},
	{"runs", "[--flow F] [--status S] [--limit N]", "list runs, newest first", cmdRuns},
	{"run", "ID [--records] [--limit N]", "show one run, optionally with its per-record outcomes", cmdRun},
	{"cancel", "ID", "ask a running run to stop at its next page boundary", cmdCancel},
	{"dead-letters", "[customers|agents] [--limit N] | retry FLOW [KEY…] [--wait | --watch] | discard FLOW KEY… --reason TEXT", "list, retry or discard dead letters", cmdDeadLetters},
	{"record", "customers|agents KEY [--limit N]", "one record's story: mapping, dead letter, audit history", cmdRecord},
	{"schedules", "", "list every flow's schedule", cmdSchedules},
	{"schedule", "customers|agents --every 5m [--jitter 10s] | --cron EXPR | --pause | --resume", "change or pause/resume a flow's schedule", cmdSchedule},
	{"status", "[--runs N]", "every flow's state and every vendor's health (GetOverview)", cmdStatus},
	{"preview", "customers|agents --keys K1,K2 | --pending N | --records FILE.json [--spec FILE]", "what a sync would send for some records (writes nothing)", cmdPreview},
}

// IsCommand reports whether name is one of the client's subcommands (so main hands it to Main).
func IsCommand(name string) bool {
	return slices.ContainsFunc(commands, func(c command) bool { return c.name == name })
}

// options are the knobs tests turn; the zero value is what users get.
type options struct {
	// terminal, when set, decides whether stdout is a terminal (progress bar) instead of checking
	// the file descriptor.
	terminal *bool
	// now is the clock (time.Now when nil).
	now func() time.Time
	// loc is the zone times are shown in (time.Local when nil).
	loc *time.Location
}

// session is one invocation: its context, writers, output mode and API client.
type session struct {
	ctx            context.Context
	stdout, stderr io.Writer
	json           bool
	getenv         func(string) string
	client         syncgatev1connect.SyncServiceClient
	opts           options
	name           string // the command, for messages
	cmd            command
}

// Main runs one client command: args[0] is the command (see IsCommand), the rest its arguments and
// flags. getenv looks up SYNCGATE_URL, SYNCGATE_API_KEY and SYNCGATE_API_KEY_FILE (usually
// os.Getenv). It returns the exit code (ExitOK and friends); it never exits the process.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return run(ctx, args, stdout, stderr, getenv, options{})
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, o options) int {
	if len(args) == 0 || !IsCommand(args[0]) {
		usage(stderr)
		return ExitUsage
	}
	name := args[0]
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	s := &session{ctx: ctx, stdout: stdout, stderr: stderr, getenv: getenv, opts: o, name: name, cmd: commands[i]}
	err := commands[i].run(s, args[1:])
	code := exitCode(ctx, err)
	if err != nil && !errors.Is(err, pflag.ErrHelp) {
		var ee exitErr
		switch {
		case errors.As(err, &ee):
			// the run's outcome was already printed
		case code == ExitUsage:
			fmt.Fprintf(stderr, "syncgate %s: %v\n(see syncgate %s --help)\n", name, err, name)
		case code == ExitInterrupted:
			fmt.Fprintf(stderr, "syncgate %s: interrupted\n", name)
		default:
			fmt.Fprintf(stderr, "syncgate %s: %v\n", name, err)
		}
	}
	return code
}

// usage prints the list of client commands.
func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: syncgate COMMAND [ARGS] [FLAGS]  (client commands; syncgate --help for the server)")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  syncgate %s %s\n      %s\n", c.name, c.args, c.help)
	}
	fmt.Fprintln(w)
	usageCommon(w)
}

// usageCommon is the part of every usage text about the environment, output and exit codes.
func usageCommon(w io.Writer) {
	fmt.Fprintf(w, `Every command takes --json (protojson output, one document per response) and --url URL.
Environment: SYNCGATE_URL (default %s), SYNCGATE_API_KEY or SYNCGATE_API_KEY_FILE
(a file holding the key; setting both is an error), sent as Authorization: Bearer.
Exit codes: 0 ok; 1 the run ended FAILED or CANCELLED; 2 usage error; 3 the run ended PARTIAL;
4 the gateway answered an error; 5 the gateway could not be reached; 130 interrupted.
`, DefaultURL)
}

// flags makes a command's flag set with the flags every command shares.
func (s *session) flags() (*pflag.FlagSet, *string) {
	fs := pflag.NewFlagSet("syncgate "+s.name, pflag.ContinueOnError)
	fs.SetOutput(s.stderr)
	fs.BoolVar(&s.json, "json", false, "print the responses as protojson, one JSON document per response (one line each)")
	u := fs.String("url", "", "gateway base URL (default: SYNCGATE_URL, else "+DefaultURL+")")
	fs.Usage = func() {
		fmt.Fprintf(s.stderr, "Usage: syncgate %s %s\n  %s\n\nFlags:\n%s\n", s.name, s.cmd.args, s.cmd.help, fs.FlagUsages())
		usageCommon(s.stderr)
	}
	return fs, u
}

// parse parses args into fs; a parse error is a usage error, --help is pflag.ErrHelp (pflag has
// printed the usage then).
func parse(fs *pflag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard) // errors are reported once, by run
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		return err
	}
	if err != nil {
		return usageErr{err}
	}
	return nil
}

// dial makes the API client for base URL flagURL (or SYNCGATE_URL) and the key from the
// environment. It is called after the flags are parsed, so --help needs no environment.
func (s *session) dial(flagURL string) error {
	getenv := s.getenv
	base := flagURL
	if base == "" {
		base = getenv("SYNCGATE_URL")
	}
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErrorf("SYNCGATE_URL / --url: want http://HOST:PORT or https://HOST:PORT, got %q", base)
	}
	key, err := apiKey(getenv)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: bearer{key: key, next: http.DefaultTransport}}
	s.client = syncgatev1connect.NewSyncServiceClient(hc, strings.TrimRight(base, "/"))
	return nil
}

// apiKey reads the key from SYNCGATE_API_KEY or the file SYNCGATE_API_KEY_FILE names (trimmed); an
// empty key means none is sent. Errors never carry the key.
func apiKey(getenv func(string) string) (string, error) {
	key, file := getenv("SYNCGATE_API_KEY"), getenv("SYNCGATE_API_KEY_FILE")
	switch {
	case key != "" && file != "":
		return "", usageErrorf("both SYNCGATE_API_KEY and SYNCGATE_API_KEY_FILE are set; set one")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named below; the error text holds nothing else
			}
			return "", usageErrorf("SYNCGATE_API_KEY_FILE %q: %v", file, err)
		}
		key = strings.TrimSpace(string(b))
		if key == "" {
			return "", usageErrorf("SYNCGATE_API_KEY_FILE %q is empty", file)
		}
		return key, nil
	default:
		return strings.TrimSpace(key), nil
	}
}

// bearer adds the API key to every request.
type bearer struct {
	key  string
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.key == "" {
		return b.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(r)
}

// usageErr is a usage error (exit 2).
type usageErr struct{ err error }

func (e usageErr) Error() string { return e.err.Error() }
func (e usageErr) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error { return usageErr{fmt.Errorf(format, a...)} }

// exitErr ends a command with a code whose reason was already printed (a run's final status).
type exitErr struct{ code int }

func (e exitErr) Error() string { return fmt.Sprintf("exit %d", e.code) }

// exitCode classifies a command's error, once, into an exit code.
func exitCode(ctx context.Context, err error) int {
	var ue usageErr
	var ee exitErr
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return ExitUsage
	case ctx.Err() != nil:
		return ExitInterrupted
	case connect.IsWireError(err):
		return ExitAPIError
	case errors.Is(err, errLost):
		return ExitUnreachable
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		// a client-side error: no answer from the API (connection refused, DNS, TLS, a proxy's
		// HTTP error, the stream cut)
		return ExitUnreachable
	}
	return ExitRunFailed
}

// errLost says a watch ended before its run did.
var errLost = errors.New("the connection ended before the run did")

// isTerminal reports whether w is a terminal (or what the test option says).
func (s *session) isTerminal(w io.Writer) bool {
	if s.opts.terminal != nil {
		return *s.opts.terminal
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (s *session) now() time.Time {
	if s.opts.now != nil {
		return s.opts.now()
	}
	return time.Now()
}

func (s *session) loc() *time.Location {
	if s.opts.loc != nil {
		return s.opts.loc
	}
	return time.Local
}
