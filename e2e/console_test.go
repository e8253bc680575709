package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/clients/kingdee"
)

// TestConsoleInABrowser drives the web console in headless Chromium (console/e2e/console.mjs, through
// playwright-core and Debian's chromium) against the real gateway and mock vendors: sign in with the key
// (a wrong one first), the overview, a customers sync started in the page and watched to SUCCEEDED, the
// run's audit trail filtered and its bodies as JSON, a record's story, a dead letter retried, the preview
// playground's diff for an edited spec and a validation error placed on its YAML line, and the Chinese
// interface. Screenshots of each page go to console/e2e/out/ (printed; not committed); with
// SYNCGATE_CONSOLE_DOCS=1 the test also writes console/docs/overview.png and run-detail.png.
//
// Skipped when node, console/node_modules (npm ci in console/) or chromium are missing, except when CI is
// set: then it fails.
func TestConsoleInABrowser(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	node, nodeErr := exec.LookPath("node")
	for what, missing := range map[string]bool{
		"node is not installed":                                nodeErr != nil,
		"console/node_modules is missing (npm ci in console/)": !exists(filepath.Join(root, "console", "node_modules", "playwright-core")),
		chromium + " is missing (apt-get install -y chromium)": !exists(chromium),
	} {
		if missing {
			if os.Getenv("CI") != "" {
				t.Fatalf("browser test cannot run under CI: %s", what)
			}
			t.Skipf("browser test skipped: %s", what)
		}
	}

	// Agents whose customer numbers Kingdee already uses become dead letters (as in
	// TestOperateDeadLettersRetriedAndDiscardedThroughTheCLI); one conflict is then fixed, so that its
	// retry from the page succeeds.
	v := startVendors(t, 600, 8)
	ctx := context.Background()
	agents, err := v.zl.ZhilongAgents(ctx)
	if err != nil || len(agents) != 8 {
		t.Fatalf("agents: %v %v", agents, err)
	}
	fixed, other := agents[2].AgentID, agents[5].AgentID
	kd := kingdeeClient(t, v)
	save := kingdee.SaveRequest{FormID: "BD_Customer"}
	for _, id := range []string{fixed, other} {
		save.Model = append(save.Model, map[string]any{"FCUSTID": 0, "FName": "号码冲突客户" + id, "FNumber": id,
			"FCreateOrgId": map[string]any{"FNumber": "100"}, "FUseOrgId": map[string]any{"FNumber": "100"}})
	}
	res, err := kd.BatchSave(ctx, save)
	if err != nil || len(res.Failed()) > 0 {
		t.Fatalf("create the conflicting customers: %v %v", res, err)
	}
	g := startGatewayEnv(t, v, filepath.Join(t.TempDir(), "console.db"), agentsNumberSpec(t))
	c := g.grpc(t)
	sync, err := c.SyncAgents(authCtx(), &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Wait: true}})
	if err != nil || sync.GetRun().GetCounts().GetFailed() != 2 {
		t.Fatalf("agents run: want 2 dead letters: %v %v", sync, err)
	}
	if res, err := kd.BatchSave(ctx, kingdee.SaveRequest{FormID: "BD_Customer", NeedUpDateFields: []string{"FNumber"},
		Model: []map[string]any{{"FCUSTID": res.Items[0].ID, "FNumber": "OLD-" + fixed}}}); err != nil || len(res.Failed()) > 0 {
		t.Fatalf("renumber the conflicting customer: %v %v", res, err)
	}

	shots := filepath.Join(root, "console", "e2e", "out")
	if err := os.RemoveAll(shots); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "CONSOLE_URL="+g.url, "CONSOLE_KEY="+apiKey, "SCREENSHOT_DIR="+shots, "CHROMIUM="+chromium,
		"DEAD_LETTER_FLOW=agents", "DEAD_LETTER_KEY="+fixed, "PREVIEW_FLOW=agents", "PREVIEW_KEY="+agents[0].AgentID)
	if os.Getenv("SYNCGATE_CONSOLE_DOCS") != "" {
		env = append(env, "DOCS_DIR="+filepath.Join(root, "console", "docs"))
	}
	rctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(rctx, node, filepath.Join(root, "console", "e2e", "console.mjs"))
	cmd.Dir = filepath.Join(root, "console")
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	t.Logf("browser test output:\n%s", out.String())
	t.Logf("screenshots: %s", shots)
	if err != nil {
		t.Fatalf("browser test: %v (screenshots, failure.png among them, in %s)", err, shots)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
