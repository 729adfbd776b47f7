// Browser test of pneumo-serve's page: headless Chromium
// driven by playwright-core uploads a real X-ray through the page's file input,
// sees the sentence, the probability and the Grad-CAM overlay, toggles the
// overlay by keyboard, drops two more X-rays on the drop zone, saves a
// screenshot and checks that the page made no request to any other origin.
//
//   node browser.js SERVE SYNTH TRAIN SHARED_DATA SCREENSHOT.png
//
// playwright-core comes from NODE_PATH (.ci/install-npm puts it in
// <builddir>/npm). Exits 77 (skip) with a message when playwright-core,
// /usr/bin/chromium or the real X-rays are absent, unless
// PNEUMO_BROWSER_REQUIRED=1 (CI), where a missing tool fails.
"use strict";
const { spawn, execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [serve, synth, train, shared, shot] = process.argv.slice(2).map(p => path.resolve(p));
const required = process.env.PNEUMO_BROWSER_REQUIRED === "1";

function skip(msg) {
  console.log((required ? "FAIL: " : "SKIP: ") + msg);
  process.exit(required ? 1 : 77);
}

let chromium;
try {
  ({ chromium } = require("playwright-core"));
} catch (e) {
  skip("playwright-core not found (NODE_PATH=" + process.env.NODE_PATH + "); run .ci/install-npm BUILDDIR");
}
if (!fs.existsSync("/usr/bin/chromium")) skip("/usr/bin/chromium not installed (apt-get install chromium)");
const xrayDir = path.join(shared, "chest_xray_224", "val", "Opacity");
const xrays = fs.existsSync(xrayDir) ? fs.readdirSync(xrayDir).filter(f => f.endsWith(".jpeg")).sort() : [];
if (!xrays.length) {
  console.log("SKIP: real X-rays absent (" + xrayDir + " not found)");
  process.exit(77);
}
const xray = path.join(xrayDir, xrays[0]);

function fail(msg) {
  console.log("FAIL: " + msg);
  process.exitCode = 1;
  throw new Error(msg);
}

async function startServer(model) {
  const proc = spawn(serve, ["--model", model, "--listen", "127.0.0.1:0", "--threads", "2"],
                     { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("pneumo-serve did not start: " + log)), 30000);
    proc.stderr.on("data", d => {
      log += d;
      const m = /on http:\/\/127\.0\.0\.1:(\d+)\//.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on("exit", code => reject(new Error("pneumo-serve exited with " + code + ": " + log)));
  });
  return { proc, port, log: () => log };
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pneumo-browser-"));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "pneumo-chromium-"));
  let server, browser;
  try {
    execFileSync(synth, [path.join(tmp, "ds"), "--count", "24", "--size", "96"], { stdio: "ignore" });
    const model = path.join(tmp, "model.safetensors");
    execFileSync(train, ["--data", path.join(tmp, "ds"), "--size", "96", "--epochs", "1", "--threads", "2",
                         "--quiet", "--out", model, "--history", path.join(tmp, "h.csv"),
                         "--report", path.join(tmp, "r.txt")], { stdio: "ignore", cwd: tmp });
    server = await startServer(model);
    const origin = "http://127.0.0.1:" + server.port;

    browser = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1000, height: 1100 },
    });
    const page = browser.pages()[0] || await browser.newPage();
    const requests = [];
    page.on("request", r => requests.push(r.url()));
    const consoleErrors = [];
    page.on("console", m => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", e => consoleErrors.push(String(e)));

    await page.goto(origin + "/");
    // the provenance of the model, from /api/v1/model
    await page.waitForSelector("#model-info dt:has-text('epochs')");
    const info = await page.textContent("#model-info");
    if (!/epochs\s*1/.test(info)) fail("the model section does not show 1 epoch: " + info);
    if (!(await page.textContent("body")).includes("Research demo, not a medical device"))
      fail("no research-demo notice");

    // the file input is reachable by its label and by the keyboard
    const input = page.getByLabel("Choose chest X-ray images");
    if (await input.count() !== 1) fail("the file input has no label 'Choose chest X-ray images'");
    await page.keyboard.press("Tab");
    if (!(await page.evaluate(() => document.activeElement && document.activeElement.id === "files")))
      fail("Tab does not reach the file input first");
    await input.setInputFiles(xray);

    const sentence = page.locator(".result .sentence").first();
    await sentence.filter({ hasText: /percent confirmed that this is a (Pneumonia|Normal) case/ })
      .waitFor({ timeout: 30000 });
    const text = await sentence.textContent();
    // the same answer as the API gives for this file
    const api = JSON.parse(execFileSync("/usr/bin/python3", ["-c",
      "import http.client,sys,json;c=http.client.HTTPConnection('127.0.0.1'," + server.port + ");" +
      "c.request('POST','/api/v1/diagnose',open(sys.argv[1],'rb').read(),{'Content-Type':'image/jpeg'});" +
      "print(c.getresponse().read().decode())", xray]).toString());
    if (text !== api.sentence) fail("the page says '" + text + "', the API '" + api.sentence + "'");
    const numbers = await page.textContent(".result .numbers");
    if (!numbers.includes((100 * api.probability_pneumonia).toFixed(2) + "%") ||
        !numbers.includes((100 * api.threshold).toFixed(2) + "%"))
      fail("the probability against the threshold is not shown: " + numbers);

    // the overlay is shown, and the toggle (by keyboard) switches back to the X-ray
    const img = page.locator(".result figure img").first();
    const overlaySrc = await img.getAttribute("src");
    if (!overlaySrc.startsWith("data:image/png;base64,")) fail("the overlay is not shown: " + overlaySrc.slice(0, 40));
    const size = await img.evaluate(i => [i.naturalWidth, i.naturalHeight]);
    if (size[0] !== 224 || size[1] !== 224) fail("the overlay is " + size + ", not the X-ray's 224x224");
    const toggle = page.getByLabel(/Show the Grad-CAM heat map/);
    await toggle.focus();
    await page.keyboard.press("Space");
    if (!(await img.getAttribute("src")).startsWith("blob:")) fail("the toggle does not show the X-ray");
    await page.keyboard.press("Space");
    if (!(await img.getAttribute("src")).startsWith("data:image/png")) fail("the toggle does not bring back the overlay");

    // two more X-rays dropped on the drop zone at once: each gets its own answer
    const dropped = xrays.slice(1, 3).map(f => ({ name: f,
      b64: fs.readFileSync(path.join(xrayDir, f)).toString("base64") }));
    const dt = await page.evaluateHandle(files => {
      const t = new DataTransfer();
      for (const f of files) {
        const bytes = Uint8Array.from(atob(f.b64), c => c.charCodeAt(0));
        t.items.add(new File([bytes], f.name, { type: "image/jpeg" }));
      }
      return t;
    }, dropped);
    await page.dispatchEvent("#drop", "drop", { dataTransfer: dt });
    await page.waitForFunction(n => document.querySelectorAll(".result .sentence.pneumonia, " +
                                                             ".result .sentence.normal").length === n,
                               1 + dropped.length, { timeout: 30000 });
    const names = await page.$$eval(".result figcaption", els => els.map(e => e.textContent));
    for (const f of dropped)
      if (!names.includes(f.name)) fail("the dropped " + f.name + " is not shown: " + names);

    await page.screenshot({ path: shot, fullPage: true });
    const foreign = requests.filter(u => !u.startsWith(origin + "/") && !u.startsWith("data:") &&
                                         !u.startsWith("blob:" + origin + "/"));
    if (foreign.length) fail("requests to other origins: " + foreign.join(", "));
    if (!requests.some(u => u.startsWith(origin + "/api/v1/diagnose?heatmap=1")))
      fail("the page did not call /api/v1/diagnose?heatmap=1: " + requests.join(", "));
    if (consoleErrors.length) fail("console errors: " + consoleErrors.join("; "));
    console.log("ok: '" + text + "', " + requests.length + " requests, all to " + origin + "; screenshot " + shot);
  } finally {
    if (browser) await browser.close();
    if (server) {
      server.proc.kill("SIGTERM");
      const code = await new Promise(r => server.proc.exitCode !== null ? r(server.proc.exitCode)
                                                                        : server.proc.on("exit", r));
      if (code !== 0) fail("pneumo-serve exited with " + code + " after SIGTERM:\n" + server.log());
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch(e => {
  if (!process.exitCode) console.log("FAIL: " + (e && e.stack || e));
  process.exitCode = 1;
});
