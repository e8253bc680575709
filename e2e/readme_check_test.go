package e2e

import (
	"slices"
	"strings"
	"testing"
)

func TestReadmeCommandsExtraction(t *testing.T) {
	md := strings.Join([]string{
		"# Title",                           // 1
		"",                                  // 2
		"Run `go run ./e2e/bench -n 10` or", // 3
		"`syncgate migrate up|down` and the `syncgate.v1.SyncService` service; `buf curl` and `FNumber`", // 4
		"and `go run ./mocks/cmd/syncgate-mocks -seed-customers 1000",                                    // 5
		"-seed-agents 1000` (a span over a line break).",                                                 // 6
		"",                                 // 7
		"```sh",                            // 8
		"# a comment",                      // 9
		"KEY=k; URL=http://127.0.0.1:8080", // 10
		"",                                 // 11
		`buf curl -d '{"a":"#not a comment"}' $URL  # a comment`, // 12
		"go test \\", // 13
		"  ./...",    // 14
		"```",        // 15
		"```",        // 16
		"syncgate settings in a plain block is not a command", // 17
		"```", // 18
	}, "\n")
	var got []string
	for _, c := range readmeCommands("R.md", md) {
		got = append(got, c.where+" "+c.text)
	}
	want := []string{
		"R.md:3 go run ./e2e/bench -n 10",
		"R.md:4 syncgate migrate up",
		"R.md:4 syncgate migrate down",
		"R.md:4 buf curl",
		"R.md:5 go run ./mocks/cmd/syncgate-mocks -seed-customers 1000 -seed-agents 1000",
		"R.md:10 KEY=k; URL=http://127.0.0.1:8080",
		`R.md:12 buf curl -d '{"a":"#not a comment"}' $URL`,
		"R.md:13 go test ./...",
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDemoHelpCommands(t *testing.T) {
	out := "syncgate listening on http://127.0.0.1:1\n\nsyncgate demo is ready. Try:\n\n  buf curl --list-methods http://127.0.0.1:1\n  buf curl -d '{}' http://127.0.0.1:1/x\n\nStop with Ctrl-C.\nlevel=INFO msg=x\n"
	var got []string
	for _, c := range demoHelpCommands(out) {
		got = append(got, c.text)
	}
	if want := []string{"buf curl --list-methods http://127.0.0.1:1", "buf curl -d '{}' http://127.0.0.1:1/x"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckOutput(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		bad       bool
	}{
		{"health", "{\n  \"status\": \"SERVING\"\n}\n", false},
		{"run succeeded", `{"run":{"id":"r1","status":"RUN_STATUS_SUCCEEDED","counts":{"read":"2"}}}`, false},
		{"run running", `{"run":{"id":"r1","status":"RUN_STATUS_RUNNING"}}`, false},
		{"watch stream", `{"run":{"id":"r1","status":"RUN_STATUS_RUNNING"}}` + "\n" + `{"run":{"id":"r1","status":"RUN_STATUS_SUCCEEDED"}}`, false},
		{"preview with warnings", `{"records":[{"sourceKey":"A1","action":"ACTION_UPDATE","warnings":[{"message":"w"}]}]}`, false},
		{"method list", "grpc.health.v1.Health/Check\nsyncgate.v1.SyncService/GetRun\n", false},
		{"settings", "Settings (flag / environment / YAML key): meaning\n  --log-level / SYNCGATE_LOG_LEVEL / log_level: debug, info, warn or error\n", false},
		{"empty", "", false},

		{"buf curl error", "{\n   \"code\": \"not_found\",\n   \"message\": \"run x: not found\"\n}\n", true},
		{"connect error", `{"code":"unauthenticated","message":"missing or invalid API key"}`, true},
		{"preview of a missing key", `{"records":[{"sourceKey":"CUST000001","action":"ACTION_FAIL","errors":[{"message":"no such record"}]}]}`, true},
		{"preview errors", `{"records":[{"sourceKey":"A1","action":"ACTION_ADD","errors":[{"field":"FName","message":"required"}]}]}`, true},
		{"run failed", `{"run":{"id":"r1","status":"RUN_STATUS_FAILED"}}`, true},
		{"run partial in a list", `{"runs":[{"id":"r1","status":"RUN_STATUS_SUCCEEDED"},{"id":"r2","status":"RUN_STATUS_PARTIAL"}]}`, true},
		{"grpcurl error", "ERROR:\n  Code: Unauthenticated\n  Message: missing or invalid API key\n", true},
		{"main error", "syncgate: migrate: want 'up' or 'down', got \"x\"\n", true},
		{"slog error", "time=now level=ERROR msg=boom\n", true},
		{"json then text", "{\"status\":\"SERVING\"}\nError: oops\n", true},
	} {
		err := checkOutput(tc.out)
		if (err != nil) != tc.bad {
			t.Errorf("%s: checkOutput = %v, want error: %v", tc.name, err, tc.bad)
		}
	}
}

func TestLastRunID(t *testing.T) {
	out := `{"run":{"id":"r1","status":"RUN_STATUS_RUNNING"}}` + "\n" + `{"run":{"id":"r2"}}` + "\n" + `{"runs":[{"id":"r3"}]}`
	if got := lastRunID(out); got != "r2" {
		t.Errorf("lastRunID = %q, want r2", got)
	}
	if got := lastRunID("grpc.health.v1.Health/Check\n"); got != "" {
		t.Errorf("lastRunID of text = %q, want empty", got)
	}
}
