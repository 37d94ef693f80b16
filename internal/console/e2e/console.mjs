// Drives the console in Debian's chromium, for internal/console's
// TestConsoleInBrowser, which starts the gateway and passes:
//   CONSOLE_URL   the admin listener's base URL
//   CONSOLE_TOKEN the admin token
//   SHOTS         the directory for the screenshots
// Steps that need the Go side (breaking a cloud) are asked for with a line
// "STEP <name>" on stdout; the Go side answers "ok" on stdin.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const base = process.env.CONSOLE_URL, token = process.env.CONSOLE_TOKEN, shots = process.env.SHOTS;
const rl = createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
async function step(name) {
  console.log("STEP " + name);
  const { value } = await lines.next();
  if (value !== "ok") throw new Error(`step ${name}: the test answered ${value}`);
}
const log = (m) => console.log("LOG " + m);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run"],
});
try {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(60000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Answers such as 401 (a wrong token) and 404 (no gray policy, no slo) are
  // expected; anything else logged as an error is not.
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text()); });
  page.on("dialog", (d) => d.accept());
  const shot = (name) => page.screenshot({ path: `${shots}/console-${name}.png`, fullPage: true });

  // Log in: a wrong token is refused, the right one opens the console.
  await page.goto(base + "/");
  await page.waitForSelector("#login:not([hidden])");
  await shot("login");
  await page.fill("#token", "not-the-token");
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
  await page.fill("#token", token);
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector("#nav:not([hidden])");
  log("logged in");

  // Topology: three clouds, nine instances, all healthy, ctyun serving.
  for (const c of ["ctyun", "ecloud", "huawei"]) await page.waitForSelector(`[data-cloud="${c}"]`);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-instance][data-status="healthy"]').length === 9);
  await page.waitForSelector("#live.on");
  log("topology: 3 clouds, 9 healthy instances");

  // Traffic: the ctyun cloud answers.
  await page.click('a[data-page="traffic"]');
  const rps = (cloud) => page.evaluate((c) => Number(document.querySelector(`tr[data-cloud="${c}"] td[data-rps]`)?.dataset.rps || 0), cloud);
  await page.waitForFunction(() => Number(document.querySelector('tr[data-cloud="ctyun"] td[data-rps]')?.dataset.rps || 0) > 0);
  await page.waitForFunction(() => document.querySelectorAll("svg.spark polyline").length > 0);
  await shot("traffic");
  log("traffic: ctyun " + await rps("ctyun") + " req/s");
  await page.click('a[data-page="topology"]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-cloud="ctyun"] tr[data-instance]')].some((r) => r.querySelector("td:last-child").textContent !== "0.0"));
  await shot("topology");

  // Break ctyun: its instances turn unhealthy, traffic moves to the others.
  await step("break-ctyun");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-cloud="ctyun"] tr[data-instance]')];
    return rows.length === 3 && rows.every((r) => r.dataset.status !== "healthy");
  }, null, { timeout: 90000 });
  await page.waitForSelector('[data-cloud="ctyun"].down');
  log("ctyun instances unhealthy");
  await page.click('a[data-page="traffic"]');
  await page.waitForFunction(() => ["ecloud", "huawei"].some((c) => Number(document.querySelector(`tr[data-cloud="${c}"] td[data-rps]`)?.dataset.rps || 0) > 0), null, { timeout: 90000 });
  log("traffic moved: ecloud " + await rps("ecloud") + " req/s, huawei " + await rps("huawei") + " req/s");
  await page.click('a[data-page="topology"]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-cloud="ecloud"] tr[data-instance], [data-cloud="huawei"] tr[data-instance]')].some((r) => r.querySelector("td:last-child").textContent !== "0.0"));
  await shot("failover");

  // Gray: apply a policy, dry-run it, roll it back.
  await page.click('a[data-page="gray"]');
  await page.waitForSelector('#gray-route option[value="demo"]', { state: "attached" });
  await page.selectOption("#gray-route", "demo");
  await page.waitForSelector('[data-policy="none"]');
  await page.fill("#gray-policy", JSON.stringify({
    subsets: [{ name: "v2", labels: { version: "v2" } }],
    rules: [{ name: "testers", subset: "v2", headers: [{ name: "x-tester", exact: "yes" }] }],
    weights: [{ subset: "v2", weight: 10 }, { subset: "baseline", weight: 90 }],
  }, null, 2));
  await page.fill("#gray-comment", "canary 10% from the console");
  await page.click("#gray-apply");
  await page.waitForSelector('[data-policy="live"]');
  await page.waitForFunction(() => document.getElementById("gray-msg").className.includes("good"));
  await page.fill("#gray-probe", JSON.stringify({ headers: { "x-tester": "yes" } }));
  await page.click("#gray-dry-live");
  await page.waitForFunction(() => document.getElementById("gray-dry-out").textContent.includes('"subset": "v2"'));
  await shot("gray");
  await page.click("#gray-rollback");
  await page.waitForSelector('#gray-history tr[data-kind="rollback"]');
  await page.waitForSelector('[data-policy="none"]');
  log("gray: applied, dry-run to v2, rolled back");

  // Faults: add one, see it, remove it.
  await page.click('a[data-page="faults"]');
  await page.waitForSelector('[data-faults="0"]');
  await page.fill("#f-name", "slow-hello");
  await page.fill("#f-path", "/hello");
  await page.fill("#f-delay", "20ms");
  await page.fill("#f-dpct", "10");
  await page.click("#fault-form button[type=submit]");
  await page.waitForSelector('tr[data-fault="slow-hello"]');
  await shot("faults");
  await page.click('tr[data-fault="slow-hello"] button');
  await page.waitForSelector('[data-faults="0"]');
  log("faults: added and removed");

  // A page of another site cannot change the gateway, cookie or not.
  const evil = await ctx.newPage();
  await evil.goto(base.replace("127.0.0.1", "localhost") + "/nothing-here");
  await evil.evaluate(async (url) => {
    try {
      await fetch(url + "/ui/api/v1/faults/evil", { method: "PUT", mode: "no-cors", credentials: "include",
        headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ spec: { abort: { status: 503 } } }) });
    } catch { /* refused: fine */ }
  }, base);
  await evil.close();
  await page.click('a[data-page="topology"]');
  await page.click('a[data-page="faults"]');
  await page.waitForSelector('[data-faults="0"]');
  log("cross-site PUT refused");

  // Health and replica: not configured in this topology.
  await page.click('a[data-page="health"]');
  await page.waitForSelector('[data-health="none"]');
  await page.click('a[data-page="replica"]');
  await page.waitForSelector('[data-replica="none"]');

  // Chinese.
  await page.click('a[data-page="topology"]');
  await page.selectOption("#lang", "zh");
  await page.waitForFunction(() => document.querySelector('a[data-page="topology"]').textContent === "拓扑");
  await page.waitForFunction(() => document.body.textContent.includes("健康状态"));
  await shot("topology-zh");
  log("language: 中文");

  // A browser that prefers Chinese gets it first.
  const zhCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "zh-CN" });
  const zp = await zhCtx.newPage();
  zp.setDefaultTimeout(30000);
  await zp.goto(base + "/ui/");
  await zp.waitForSelector("#login:not([hidden])");
  const label = await zp.textContent('label[for="token"]');
  if (label !== "管理令牌") throw new Error(`a browser preferring zh-CN shows the login label ${label}`);
  log("zh-CN browser: " + label);
  await zhCtx.close();

  if (errors.length) throw new Error("errors in the page: " + errors.join("; "));
  console.log("PASS");
} finally {
  rl.close(); // stdin stays open on the Go side until this process ends
  await browser.close();
}
