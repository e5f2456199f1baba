// Builds the panel into dist/ (what UXP Developer Tool loads and what the browser tests serve):
// main.js (one bundle), index.html, panel.css, manifest.json (version from package.json).
// With --tests, bundles test/*.test.ts into dist-test/ for `node --test` instead.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const panel = resolve(dirname(fileURLToPath(import.meta.url)), "..");

if (process.argv.includes("--tests")) {
  const out = join(panel, "dist-test");
  rmSync(out, { recursive: true, force: true });
  const tests = readdirSync(join(panel, "test")).filter((name) => name.endsWith(".test.ts"));
  await build({
    entryPoints: tests.map((name) => join(panel, "test", name)),
    outdir: out,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
  });
} else {
  const out = join(panel, "dist");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(panel, "src", "main.ts")],
    outfile: join(out, "main.js"),
    bundle: true,
    format: "iife",
    // UXP's JavaScript engine and current browsers both run ES2020 (BigInt, which protobuf-es
    // needs for 64-bit fields, cannot be lowered further).
    target: "es2020",
    sourcemap: "linked",
    logLevel: "warning",
  });
  copyFileSync(join(panel, "src", "index.html"), join(out, "index.html"));
  copyFileSync(join(panel, "src", "panel.css"), join(out, "panel.css"));
  const version = JSON.parse(readFileSync(join(panel, "package.json"), "utf8")).version;
  const manifest = JSON.parse(readFileSync(join(panel, "manifest.json"), "utf8"));
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify({ ...manifest, version }, null, 2)}\n`);
  console.log(`build: wrote ${out}`);
}
