// Drives the BUILT Premiere panel (plugins/premiere/dist, browser host) in headless Debian
// Chromium through playwright-core, against a real foley-server, and writes what it saw as one
// JSON object to config.result. tests/e2e/test_premiere_panel.py starts the servers, runs this and
// asserts on the observations; this script only acts and records.
//
// Usage: node drive_panel.mjs CONFIG.json
//   {panelDir, panelUrl, serverUrl, token, unreachableUrl, timeline, longTimeline,
//    userDataDir, downloadDir, screenshot, result, timeoutMs}

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
// playwright-core is a dev dependency of the panel; resolve it from there.
const { chromium } = createRequire(join(config.panelDir, "package.json"))("playwright-core");
const timeout = config.timeoutMs ?? 60000;
const seen = { console: [] };

const context = await chromium.launchPersistentContext(config.userDataDir, {
  executablePath: config.chromium ?? "/usr/bin/chromium",
  headless: true,
  acceptDownloads: true,
  viewport: { width: 440, height: 900 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

async function status(page) {
  return page.$eval("#status", (element) => ({ kind: element.dataset.kind ?? "", text: element.textContent ?? "" }));
}

/** Wait until #status has one of `kinds`, then return it. */
async function statusOf(page, kinds) {
  await page.waitForFunction(
    (wanted) => wanted.includes(document.querySelector("#status")?.dataset.kind ?? ""),
    kinds,
    { timeout },
  );
  return status(page);
}

async function checkServer(page, address, token) {
  await page.fill("#server-address", address);
  await page.fill("#server-token", token);
  await page.click("#check-server");
  // "busy" is set synchronously by the click; wait for the answer.
  return statusOf(page, ["done", "error"]);
}

async function clipRows(page) {
  return page.$$eval("#clips li", (items) =>
    items.map((item) => ({ id: item.dataset.clipId, state: item.dataset.state, percent: Number(item.dataset.percent) })),
  );
}

/** Sample the overall percent every 50 ms while `until` has not happened. */
async function sampleProgress(page, until) {
  const samples = [];
  let done = false;
  const finished = until.finally(() => {
    done = true;
  });
  while (!done) {
    try {
      samples.push(Number(await page.$eval("#overall", (element) => element.dataset.percent)));
    } catch {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await finished;
  return samples;
}

try {
  const page = await context.newPage();
  page.on("console", (message) => seen.console.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => seen.console.push(`pageerror: ${error.message}`));
  await page.goto(config.panelUrl, { waitUntil: "load" });
  seen.generateLabel = (await page.textContent("#generate"))?.trim();

  // 1. An unreachable server, then a refused token: both as readable messages.
  seen.unreachable = await checkServer(page, config.unreachableUrl, config.token);
  seen.refusedToken = await checkServer(page, config.serverUrl, "not-the-token");
  await page.setInputFiles("#timeline-file", config.timeline);
  await page.click("#generate");
  seen.refusedTokenGenerate = await statusOf(page, ["error", "done"]);

  // 2. The right token: the engine list comes from the server.
  seen.connected = await checkServer(page, config.serverUrl, config.token);
  seen.engines = await page.$$eval("#engine option", (options) => options.map((option) => option.value));
  await page.selectOption("#engine", "procedural");

  // 3. Cancel a long job once it is running.
  await page.setInputFiles("#timeline-file", config.longTimeline);
  await page.click("#generate");
  await page.waitForFunction(
    () => [...document.querySelectorAll("#clips li")].some((item) => item.dataset.state === "generated" || item.dataset.state === "cached"),
    undefined,
    { timeout },
  );
  const cancelClicked = Date.now();
  await page.click("#cancel");
  seen.cancel = await statusOf(page, ["info", "error", "done"]);
  seen.cancelSeconds = (Date.now() - cancelClicked) / 1000;
  seen.cancelRows = await clipRows(page);
  seen.cancelOverall = Number(await page.$eval("#overall", (element) => element.dataset.percent));

  // 4. A full job: progress to 100 %, per-clip rows, the result offered for download.
  await page.fill("#prompt", "footsteps on a wooden floor");
  await page.setInputFiles("#timeline-file", config.timeline);
  await page.click("#generate");
  const finished = statusOf(page, ["done", "error"]);
  seen.progressSamples = await sampleProgress(page, finished);
  seen.generate = await finished;
  seen.overall = Number(await page.$eval("#overall", (element) => element.dataset.percent));
  seen.overallText = await page.textContent("#overall-percent");
  seen.rows = await clipRows(page);
  seen.links = await page.$$eval("#results a", (anchors) =>
    anchors.map((anchor) => ({ name: anchor.textContent, role: anchor.dataset.role, bytes: Number(anchor.dataset.bytes) })),
  );
  // The first audio file, downloaded as a user would, and the result timeline's text.
  const [download] = await Promise.all([page.waitForEvent("download", { timeout }), page.click("#results a[data-role=result-audio]")]);
  const audioPath = join(config.downloadDir, download.suggestedFilename());
  await download.saveAs(audioPath);
  seen.downloadedAudio = audioPath;
  seen.resultTimelineText = await page.$eval("#results a[data-role=result-timeline]", (anchor) => fetch(anchor.href).then((response) => response.text()));
  seen.persistedSettings = await page.evaluate(() => localStorage.getItem("foley-panel.settings.v1"));
  await page.screenshot({ path: config.screenshot, fullPage: true });

  // 5. Settings persist across a reload.
  await page.reload({ waitUntil: "load" });
  seen.reloadedAddress = await page.inputValue("#server-address");
  seen.reloadedPrompt = await page.inputValue("#prompt");
} catch (error) {
  seen.error = String(error?.stack ?? error);
} finally {
  await context.close();
}
// A file, not stdout: the observations hold a whole result timeline, more than a pipe takes at once.
writeFileSync(config.result, `${JSON.stringify(seen)}\n`);
