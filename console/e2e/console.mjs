// Browser end-to-end test of the web console, in headless Chromium driven by playwright-core (Debian's
// chromium; Playwright never downloads a browser). Run by e2e/console_test.go against a real gateway
// with the mock vendors; it can also be run by hand:
//
//   CONSOLE_URL=http://127.0.0.1:8080 CONSOLE_KEY=demo-key SCREENSHOT_DIR=/tmp/shots node e2e/console.mjs
//
// Environment: CONSOLE_URL, CONSOLE_KEY, SCREENSHOT_DIR (a PNG of each page), DOCS_DIR (when set, also
// overview.png and run-detail.png for the README), CHROMIUM (default /usr/bin/chromium),
// DEAD_LETTER_FLOW/DEAD_LETTER_KEY (a dead letter whose cause is fixed: retried here; its run must
// succeed), PREVIEW_FLOW/PREVIEW_KEY (a delivered record to preview with an edited spec).
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (name, def) => {
  const v = process.env[name] ?? def;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const url = env("CONSOLE_URL").replace(/\/$/, "");
const key = env("CONSOLE_KEY");
const shots = env("SCREENSHOT_DIR");
const docs = process.env.DOCS_DIR ?? "";
const deadFlow = env("DEAD_LETTER_FLOW", "");
const deadKey = env("DEAD_LETTER_KEY", "");
const previewFlow = env("PREVIEW_FLOW", "agents");
const previewKey = env("PREVIEW_KEY", "");
mkdirSync(shots, { recursive: true });
if (docs) mkdirSync(docs, { recursive: true });

const step = (what) => console.log(`step: ${what}`);
const fail = (msg) => {
  throw new Error(msg);
};

const profile = mkdtempSync(join(tmpdir(), "syncgate-console-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  locale: "en-US",
  viewport: { width: 1360, height: 900 },
});
const problems = [];
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(20000);
page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
page.on("console", (msg) => {
  if (msg.type() === "error" && /Content Security Policy|Refused to/.test(msg.text())) problems.push(`console: ${msg.text()}`);
});
const requests = [];
page.on("request", (req) => requests.push(req.url()));
const shot = async (name, docName) => {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  if (docs && docName) await page.screenshot({ path: join(docs, docName), fullPage: false });
};

try {
  step("sign-in screen; a wrong key comes back to it");
  await page.goto(`${url}/`);
  await page.getByLabel("API key").fill("not-the-key");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("The gateway did not accept the key").waitFor();
  await shot("01-sign-in");

  step("sign in with the key");
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("link", { name: "Runs" }).waitFor();
  const stored = await page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage }, cookie: document.cookie }));
  if (!Object.values(stored.session).includes(key)) fail(`the key is not in sessionStorage: ${JSON.stringify(stored.session)}`);
  if (JSON.stringify(stored.local).includes(key) || stored.cookie.includes(key)) fail("the key is in localStorage or a cookie");

  step("overview");
  const overview = page.getByTestId("overview");
  await overview.or(page.getByRole("alert")).first().waitFor();
  if (!(await overview.isVisible())) fail(`the overview did not load: ${await page.getByRole("alert").innerText()}`);
  await overview.locator('[data-flow="customers"]').waitFor();
  // The agents run the test made before: PARTIAL, with its dead letters counted.
  await overview.locator('[data-flow="agents"] [data-status="PARTIAL"]').first().waitFor();
  if (deadKey) {
    const n = Number(await overview.locator('[data-flow="agents"] [data-testid="dead-letter-count"]').innerText());
    if (!(n > 0)) fail(`the overview counts ${n} agents dead letters`);
  }
  await overview.getByTestId("vendors").locator("tbody tr").nth(2).waitFor();
  // The default policy (age 90 days) and the pass the gateway ran at start-up, which removed nothing.
  await overview.getByTestId("retention-removed").waitFor({ timeout: 30000 });
  const retention = await overview.getByTestId("retention").innerText();
  if (!retention.includes("age 2160h0m0s, runs 0") || !/0 runs \(0 audit rows\)/.test(retention)) fail(`the overview's retention: ${retention}`);
  await shot("02-overview");

  step("start a customers sync and watch it reach SUCCEEDED");
  await page.getByRole("link", { name: "Runs" }).click();
  const form = page.getByTestId("start-run");
  await form.getByLabel("Flow").selectOption({ label: "customers (Kingdee → Greatonce)" });
  await form.getByRole("button", { name: "Start" }).click();
  await page.getByTestId("run-detail").waitFor();
  const runId = (await page.locator("h1 code").innerText()).trim();
  await page.locator('[data-testid="live"][data-status="SUCCEEDED"]').waitFor({ timeout: 60000 });
  const counts = await page.getByTestId("counts").first().innerText();
  if (!/read [1-9]/.test(counts)) fail(`the run read nothing: ${counts}`);
  console.log(`run ${runId}: ${counts}`);

  step("the run's audit trail, filtered by outcome, bodies as JSON");
  const trail = page.getByTestId("records");
  await trail.locator("tbody tr[data-source-key]").first().waitFor();
  await page.getByLabel("Outcome").selectOption("ok");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="records"] tbody tr[data-outcome]')];
    return rows.length > 0 && rows.every((r) => r.getAttribute("data-outcome") === "ok");
  });
  await page.getByLabel("Outcome").selectOption("permanent");
  await trail.getByText("Nothing here.").waitFor();
  await page.getByLabel("Outcome").selectOption("");
  const recordKey = await trail
    .locator('tbody tr[data-source-key]:not([data-source-key=""])')
    .filter({ has: page.getByRole("button", { name: "show" }) })
    .first()
    .getAttribute("data-source-key");
  const firstRow = trail.locator(`tbody tr[data-source-key="${recordKey}"]`).first();
  await firstRow.getByRole("button", { name: "show" }).click();
  const body = await firstRow.locator('pre[aria-label="Request"]').innerText();
  if (!body.startsWith("{\n  ")) fail(`the request body is not indented JSON: ${body.slice(0, 80)}`);
  if (/\\u[0-9a-f]{4}/i.test(body)) fail("the request body shows \\u escapes instead of characters");
  await shot("03-run-detail", "run-detail.png");

  step("a record's story from the trail");
  await firstRow.getByRole("link", { name: recordKey }).click();
  await page.getByTestId("mapping").waitFor();
  await page.locator('[data-testid="records"] tbody tr[data-outcome]').first().waitFor();
  await shot("04-record");

  if (deadKey) {
    step(`retry the dead letter ${deadFlow} ${deadKey}`);
    await page.goto(`${url}/#/dead-letters?flow=${deadFlow}`);
    const row = page.locator(`[data-testid="letters"] tr[data-source-key="${deadKey}"]`);
    await row.waitFor();
    const before = Number((await page.getByTestId("total").innerText()).replace(/\D/g, ""));
    await shot("05-dead-letters");
    await row.getByRole("checkbox").check();
    await page.getByRole("button", { name: /Retry selected/ }).click();
    const retryLink = page.getByTestId("retry-run").getByRole("link");
    await retryLink.waitFor();
    await retryLink.click();
    await page.locator('[data-testid="live"][data-status="SUCCEEDED"]').waitFor({ timeout: 60000 });
    await page.goto(`${url}/#/dead-letters?flow=${deadFlow}`);
    await page.waitForFunction((n) => {
      const el = document.querySelector('[data-testid="total"]');
      return el && Number(el.textContent.replace(/\D/g, "")) === n;
    }, before - 1);
    if (await row.count()) fail(`the letter ${deadKey} is still listed after its retry succeeded`);
  }

  step("preview playground: an edited spec shows its diff");
  await page.getByRole("link", { name: "Preview" }).click();
  const pv = page.getByTestId("preview");
  await pv.getByLabel("Flow").selectOption(previewFlow === "agents" ? { label: "agents (Zhilong → Kingdee)" } : { label: "customers (Kingdee → Greatonce)" });
  await pv.locator('select[name="mode"]').selectOption("keys");
  await pv.locator('input[name="keys"]').fill(previewKey);
  await pv.getByRole("button", { name: "Load the built-in spec" }).click();
  const editor = pv.locator('textarea[name="spec"]');
  let spec = await editor.inputValue();
  const from = 'template: "{{remark}}"';
  if (!spec.includes(from)) fail(`the built-in ${previewFlow} spec has no ${from}`);
  await editor.fill(spec.replace(from, 'template: "{{remark}}（已核对）"'));
  await pv.getByRole("button", { name: "Preview", exact: true }).click();
  const rec = pv.getByTestId("preview-record").first();
  await rec.waitFor();
  const action = await rec.getByTestId("action").innerText();
  const changed = rec.locator('[data-testid="diff"] tr[data-field="FDescription"] td.new');
  await changed.waitFor();
  if (!(await changed.innerText()).includes("已核对")) fail(`the diff does not show the edited FDescription: ${await changed.innerText()}`);
  console.log(`preview ${previewKey}: action ${action}`);
  await shot("06-preview-diff");

  step("preview playground: a validation error placed on its line");
  spec = await editor.inputValue();
  const lines = spec.split("\n");
  const badLine = lines.findIndex((l) => l.includes('template: "{{agentName}}"')) + 1;
  if (badLine === 0) fail("no FName template line to break");
  lines[badLine - 1] = lines[badLine - 1].replace("{{agentName}}", "{{agentName nosuchfunc}}");
  await editor.fill(lines.join("\n"));
  await pv.getByRole("button", { name: "Preview", exact: true }).click();
  const list = pv.getByTestId("spec-problems");
  await list.waitFor();
  const text = await list.innerText();
  if (!text.includes(`line ${badLine}`)) fail(`the problem is not placed on line ${badLine}: ${text}`);
  const marked = await pv.locator(".gutter .line.bad").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-line"))));
  if (!marked.includes(badLine)) fail(`the gutter marks lines ${marked}, not ${badLine}`);
  const caretLine = await editor.evaluate((ta) => ta.value.slice(0, ta.selectionStart).split("\n").length);
  if (caretLine !== badLine) fail(`the cursor is on line ${caretLine}, not ${badLine}`);
  console.log(`spec problem: ${text.replace(/\s+/g, " ")}`);
  await shot("07-preview-error");

  step("Chinese interface");
  await page.getByTestId("lang").click();
  await page.getByRole("link", { name: "运行" }).click();
  await page.getByRole("heading", { name: "启动运行" }).waitFor();
  await page.getByRole("link", { name: "概览" }).click();
  await page.getByRole("heading", { name: "供应商" }).waitFor();
  await shot("08-overview-zh");
  await page.getByTestId("lang").click();
  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByTestId("overview").locator('[data-flow="customers"] [data-status="SUCCEEDED"]').first().waitFor();
  await shot("02-overview", "overview.png");

  step("the key never went into a URL");
  const leaked = requests.filter((r) => r.includes(key));
  if (leaked.length) fail(`the key appears in request URLs: ${leaked[0]}`);
  if (problems.length) fail(problems.join("\n"));
  console.log(`PASS: screenshots in ${shots}`);
} catch (err) {
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
  console.error(`FAIL: ${err.stack ?? err}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
