package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// This file reads the commands out of README.md and the demo's start-up text and judges their output;
// readme_test.go runs them. The conventions a README command may rely on:
//
//   - Every line of a ```sh block is a command, except blank lines and lines that start with '#'
//     (a trailing '\' continues a command on the next line). An inline code span in prose is a command
//     when it starts with "go ", "syncgate ", "syncgate-mocks ", "buf ", "grpcurl " or "curl ". A '#'
//     after a blank, outside quotes, starts a comment (as in bash).
//   - A line of NAME=value assignments (`KEY=demo-key; URL=http://127.0.0.1:8080`) defines variables
//     for the commands after it; commands run under `bash -o pipefail -u`, so a variable the README never
//     defined fails the command, and so does a failing command piped into another.
//   - 127.0.0.1:8080, the demo's default address, stands for the address of the demo the test runs.
//   - <id> stands for the run id (`run.id`) in the output of the latest earlier command that printed
//     one. Any other <placeholder> in a command fails the test, unless the command's rule skips it.
//   - In prose, `a|b` (no spaces) lists alternatives: `syncgate migrate up|down` runs `migrate up`,
//     then `migrate down`.
//   - `go run ./server/cmd/syncgate` and `go run ./mocks/cmd/syncgate-mocks` run the binaries this
//     package's TestMain built from those packages (`syncgate`, `syncgate-mocks` on PATH), and
//     `go run github.com/bufbuild/buf/cmd/buf@VERSION` runs the buf the test installed, which must be
//     the same version.

// readmeCommand is one command found in a document.
type readmeCommand struct {
	// where is "README.md:LINE" or "demo output".
	where string
	// text is the command as written (continuations joined, prose alternatives expanded).
	text string
	// prose is set for an inline code span (as opposed to a line of a sh block).
	prose bool
}

var (
	fenceLine   = regexp.MustCompile("^\\s*```\\s*(\\S*)")
	inlineSpan  = regexp.MustCompile("`([^`]+)`")
	proseCmd    = regexp.MustCompile(`^(go |syncgate |syncgate-mocks |buf |grpcurl |curl )`)
	alternative = regexp.MustCompile(`^(\S*?)(\w+(?:\|\w+)+)(\S*)$`)
)

// readmeCommands returns the commands of a Markdown document in document order: every command line of
// its ```sh blocks and every inline code span in prose that starts like a command.
func readmeCommands(name, md string) []readmeCommand {
	var cmds []readmeCommand
	lines := strings.Split(md, "\n")
	var para []string // the current prose paragraph
	paraStart := 0
	flush := func() {
		text := strings.Join(para, "\n")
		for _, m := range inlineSpan.FindAllStringSubmatchIndex(text, -1) {
			span := strings.Join(strings.Fields(text[m[2]:m[3]]), " ")
			if !proseCmd.MatchString(span) {
				continue
			}
			where := fmt.Sprintf("%s:%d", name, paraStart+1+strings.Count(text[:m[0]], "\n"))
			for _, alt := range expandAlternatives(span) {
				cmds = append(cmds, readmeCommand{where: where, text: alt, prose: true})
			}
		}
		para = para[:0]
	}
	for i := 0; i < len(lines); i++ {
		m := fenceLine.FindStringSubmatch(lines[i])
		if m == nil {
			if strings.TrimSpace(lines[i]) == "" {
				flush()
			} else {
				if len(para) == 0 {
					paraStart = i
				}
				para = append(para, lines[i])
			}
			continue
		}
		flush()
		lang := m[1]
		var pending string
		pendingLine := 0
		for i++; i < len(lines) && !fenceLine.MatchString(lines[i]); i++ {
			if lang != "sh" && lang != "bash" && lang != "shell" {
				continue
			}
			l := strings.TrimSpace(lines[i])
			if pending == "" && (l == "" || strings.HasPrefix(l, "#")) {
				continue
			}
			if pending == "" {
				pendingLine = i
			}
			if cont, ok := strings.CutSuffix(l, `\`); ok {
				pending += strings.TrimSpace(cont) + " "
				continue
			}
			cmds = append(cmds, readmeCommand{where: fmt.Sprintf("%s:%d", name, pendingLine+1), text: stripComment(pending + l)})
			pending = ""
		}
		if pending != "" {
			cmds = append(cmds, readmeCommand{where: fmt.Sprintf("%s:%d", name, pendingLine+1), text: stripComment(pending)})
		}
	}
	flush()
	return cmds
}

// stripComment removes a trailing shell comment: a '#' at the start or after a blank, outside quotes.
func stripComment(cmd string) string {
	var quote rune
	prev := ' '
	for i, r := range cmd {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (prev == ' ' || prev == '\t'):
			return strings.TrimSpace(cmd[:i])
		}
		prev = r
	}
	return strings.TrimSpace(cmd)
}

// expandAlternatives turns a prose command with one `a|b` word into one command per alternative.
func expandAlternatives(cmd string) []string {
	words := strings.Fields(cmd)
	for i, w := range words {
		m := alternative.FindStringSubmatch(w)
		if m == nil {
			continue
		}
		var out []string
		for _, alt := range strings.Split(m[2], "|") {
			ws := append(append(append([]string{}, words[:i]...), m[1]+alt+m[3]), words[i+1:]...)
			out = append(out, strings.Join(ws, " "))
		}
		return out
	}
	return []string{cmd}
}

// demoHelpCommands returns the commands the demo prints at start-up: the indented lines of its
// "syncgate demo is ready" text.
func demoHelpCommands(out string) []readmeCommand {
	_, help, ok := strings.Cut(out, "syncgate demo is ready")
	if !ok {
		return nil
	}
	var cmds []readmeCommand
	sc := bufio.NewScanner(strings.NewReader(help))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "  ") && strings.TrimSpace(l) != "" {
			cmds = append(cmds, readmeCommand{where: "demo output", text: strings.TrimSpace(l)})
		}
	}
	return cmds
}

var (
	// errorLine matches the error lines of the tools and binaries the README runs: grpcurl's
	// "ERROR:", a Go main's "name: error" exit line, panics, slog error records.
	errorLine = regexp.MustCompile(`(?m)^\s*(ERROR:|Error:|error:|panic:|fatal error:|(syncgate|syncgate-mocks|bench|buf|go): |.*\blevel=ERROR\b)`)
	// badRunStatus are the run statuses that mean a sync did not do its job.
	badRunStatus = map[string]bool{"RUN_STATUS_PARTIAL": true, "RUN_STATUS_FAILED": true, "RUN_STATUS_CANCELLED": true}
)

// checkOutput reports whether a command's output shows an error although the command exited 0: a
// Connect/gRPC error object ({"code": …, "message": …}, what buf curl and curl print for an RPC error),
// a Preview record that would fail (action ACTION_FAIL or non-empty errors, e.g. for a source key the
// source system does not hold), a run that ended partial, failed or cancelled, or an error line.
func checkOutput(out string) error {
	trimmed := strings.TrimSpace(out)
	if strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
		dec := json.NewDecoder(strings.NewReader(trimmed))
		for {
			var v any
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				// Not (only) JSON: judge it as text.
				return checkText(out)
			}
			if obj, ok := v.(map[string]any); ok {
				if code, ok := obj["code"].(string); ok {
					msg, _ := obj["message"].(string)
					return fmt.Errorf("RPC error %s: %s", code, msg)
				}
			}
			if err := checkJSON("", v); err != nil {
				return err
			}
		}
	}
	return checkText(out)
}

func checkText(out string) error {
	if m := errorLine.FindString(out); m != "" {
		return fmt.Errorf("error line in output: %q", strings.TrimSpace(m))
	}
	return nil
}

// checkJSON walks a response and reports the first field that means failure.
func checkJSON(path string, v any) error {
	switch v := v.(type) {
	case map[string]any:
		if a, _ := v["action"].(string); a == "ACTION_FAIL" {
			return fmt.Errorf("%s: action ACTION_FAIL (source key %v): %s", path, v["sourceKey"], compactJSON(v["errors"]))
		}
		if errs, ok := v["errors"].([]any); ok && len(errs) > 0 {
			return fmt.Errorf("%s.errors: %s", path, compactJSON(errs))
		}
		if s, _ := v["status"].(string); badRunStatus[s] {
			return fmt.Errorf("%s.status: %s", path, s)
		}
		for k, x := range v {
			if err := checkJSON(path+"."+k, x); err != nil {
				return err
			}
		}
	case []any:
		for i, x := range v {
			if err := checkJSON(fmt.Sprintf("%s[%d]", path, i), x); err != nil {
				return err
			}
		}
	}
	return nil
}

func compactJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// lastRunID returns the id of the last `run` object in a command's JSON output ("" if none).
// runIDText is a run id in text output (the command-line client's).
var runIDText = regexp.MustCompile(`\b\d{8}T\d{6}-[0-9a-f]{8}\b`)

func lastRunID(out string) string {
	if t := strings.TrimSpace(out); !strings.HasPrefix(t, "{") {
		ids := runIDText.FindAllString(out, -1)
		if len(ids) == 0 {
			return ""
		}
		return ids[len(ids)-1]
	}
	id := ""
	dec := json.NewDecoder(bytes.NewReader([]byte(strings.TrimSpace(out))))
	for {
		var v struct {
			Run struct {
				ID string `json:"id"`
			} `json:"run"`
		}
		if err := dec.Decode(&v); err != nil {
			return id
		}
		if v.Run.ID != "" {
			id = v.Run.ID
		}
	}
}
