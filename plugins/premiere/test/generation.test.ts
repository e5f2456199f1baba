import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import { createFoleyClient, describeError, serverBaseUrl, SettingsError } from "../src/foley_api";
import { GenerationRun } from "../src/generation";
import type { GeneratedResult, Host, KeyValueStore, TimelineExport } from "../src/hosts/host";
import { DEFAULT_SETTINGS } from "../src/settings";
import { base64, fakeConnectFetch, type RecordedCall } from "./fake_server";

const WAV = new TextEncoder().encode("RIFF....WAVEfmt fake audio bytes");
const RESULT_XML = new TextEncoder().encode("<xmeml version=\"4\"/>");

class FakeHost implements Host {
  readonly kind = "fake";
  readonly generateLabel = "Generate";
  readonly store: KeyValueStore = { getItem: () => null, setItem: () => undefined };
  imported: GeneratedResult | null = null;
  sourceControls(): null {
    return null;
  }
  async exportTimeline(): Promise<TimelineExport> {
    return { fileName: "cut.xml", displayName: "cut", bytes: new TextEncoder().encode("<xmeml/>"), format: "fcp_xml" };
  }
  async prepareAudioFolder(): Promise<string> {
    return "/Projects/Foley/cut";
  }
  async importResult(result: GeneratedResult) {
    this.imported = result;
    return { message: "imported" };
  }
}

function oneClipStream(sha256: string): unknown[] {
  return [
    { accepted: { jobId: "job-7", clipCount: 1, plan: { engine: "procedural", clips: [{ clipId: "c1", name: "Shot" }] } } },
    { progress: { clipId: "c1", stage: "decode", percent: 30 } },
    { audioChunk: { clipId: "c1", fileName: "c1.wav", offset: "0", data: base64(WAV) } },
    { clipResult: { clipId: "c1", status: "CLIP_STATUS_GENERATED", fileName: "c1.wav", sizeBytes: String(WAV.length), sha256 } },
    { resultTimeline: { data: base64(RESULT_XML), format: "fcp_xml", fileName: "cut_foley.xml" } },
    { summary: { jobId: "job-7", clipsTotal: 1, clipsGenerated: 1, elapsedS: 0.5 } },
  ];
}

test("a bare host:port means plain http; trailing slashes go", () => {
  assert.equal(serverBaseUrl("127.0.0.1:8080"), "http://127.0.0.1:8080");
  assert.equal(serverBaseUrl(" https://foley.studio.lan/api/ "), "https://foley.studio.lan/api");
  assert.throws(() => serverBaseUrl(""), SettingsError);
  assert.throws(() => serverBaseUrl("ftp://x"), /http:\/\/ or https:\/\//);
});

test("a job streams, sends the token and the timeline bytes, and hands the checked result to the host", async () => {
  const calls: RecordedCall[] = [];
  const sha = createHash("sha256").update(WAV).digest("hex");
  const client = createFoleyClient("127.0.0.1:9", "tok", fakeConnectFetch({ GenerateFoley: { kind: "stream", messages: oneClipStream(sha) } }, calls));
  const host = new FakeHost();
  const updates: number[] = [];
  const run = new GenerationRun(client, host, { ...DEFAULT_SETTINGS, prompt: "gravel", preset: "light" });
  const outcome = await run.run((job) => updates.push(job.overallPercent));

  assert.equal(outcome.kind, "done", String(outcome.error));
  assert.equal(calls[0].authorization, "Bearer tok");
  const request = calls[0].body as { timeline: { data: string; format: string }; options: Record<string, string> };
  assert.equal(Buffer.from(request.timeline.data, "base64").toString(), "<xmeml/>");
  assert.equal(request.timeline.format, "fcp_xml");
  assert.equal(request.options.prompt, "gravel");
  assert.equal(request.options.preset, "light");
  assert.equal(request.options.inlineAudioDir, "/Projects/Foley/cut");
  assert.deepEqual(updates.slice(0, 2), [0, 30]);
  assert.equal(updates.at(-1), 100);
  assert.equal(host.imported?.timelineFileName, "cut_foley.xml");
  assert.deepEqual(host.imported?.audioFiles.map((file) => new TextDecoder().decode(file.bytes)), [new TextDecoder().decode(WAV)]);
});

test("audio whose SHA-256 differs from the server's is refused, nothing imported", async () => {
  const client = createFoleyClient("127.0.0.1:9", "", fakeConnectFetch({ GenerateFoley: { kind: "stream", messages: oneClipStream("00".repeat(32)) } }));
  const host = new FakeHost();
  const outcome = await new GenerationRun(client, host, DEFAULT_SETTINGS).run(() => undefined);
  assert.equal(outcome.kind, "failed");
  assert.match(String(outcome.error), /clip c1 .*damaged/);
  assert.equal(host.imported, null);
});

test("a refused token reads as a refused token", async () => {
  const client = createFoleyClient("127.0.0.1:9", "wrong", fakeConnectFetch({
    GetCapabilities: { kind: "unary", status: 401, body: { code: "unauthenticated", message: "the bearer token was not accepted" } },
  }));
  const error = await client.getCapabilities({}).then(() => null, (reason: unknown) => reason);
  const message = describeError(error, "127.0.0.1:9");
  assert.match(message, /refused the token \(the bearer token was not accepted\)/);
});

test("a refusal at the end of a stream fails the run with the server's reason", async () => {
  const client = createFoleyClient("127.0.0.1:9", "", fakeConnectFetch({
    GenerateFoley: { kind: "stream", messages: [], endError: { code: "unauthenticated", message: "this server needs a bearer token" } },
  }));
  const outcome = await new GenerationRun(client, new FakeHost(), DEFAULT_SETTINGS).run(() => undefined);
  assert.equal(outcome.kind, "failed");
  assert.match(describeError(outcome.error, "127.0.0.1:9"), /refused the token \(this server needs a bearer token\)/);
});

test("an unreachable server reads as unreachable, naming the address", async () => {
  const client = createFoleyClient("127.0.0.1:9", "", fakeConnectFetch({ GetCapabilities: { kind: "refuse-connection" } }));
  const error = await client.getCapabilities({}).then(() => null, (reason: unknown) => reason);
  assert.match(describeError(error, "127.0.0.1:9"), /^Cannot reach the Foley server at 127\.0\.0\.1:9/);
});

test("cancel before the job is accepted aborts the request", async () => {
  const never: typeof fetch = (_input, init) =>
    new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
  const client = createFoleyClient("127.0.0.1:9", "", never);
  const run = new GenerationRun(client, new FakeHost(), DEFAULT_SETTINGS);
  const finished = run.run(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 20));
  run.cancel();
  const outcome = await finished;
  assert.equal(outcome.kind, "cancelled");
});
