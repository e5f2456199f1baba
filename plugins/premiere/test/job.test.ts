import assert from "node:assert/strict";
import { test } from "node:test";

import { create } from "@bufbuild/protobuf";

import { GenerateFoleyResponseSchema, ProblemKind, type GenerateFoleyResponse } from "../src/gen/foley/v1/foley_pb";
import { JobProgress, ProtocolError } from "../src/job";

type Init = Parameters<typeof create<typeof GenerateFoleyResponseSchema>>[1];
const event = (init: Init): GenerateFoleyResponse => create(GenerateFoleyResponseSchema, init);

function acceptedTwoClips(): GenerateFoleyResponse {
  return event({
    event: {
      case: "accepted",
      value: {
        jobId: "job-1",
        clipCount: 2,
        plan: {
          engine: "procedural",
          preset: "default",
          timelineName: "cut",
          clips: [
            { clipId: "c1", name: "Shot 1", trackName: "V1", recordTimecode: "01:00:00:00" },
            { clipId: "c2", name: "Shot 2", trackIndex: 2, recordTimecode: "01:00:02:00" },
          ],
          problems: [{ clipId: "c3", name: "Title", trackIndex: 3, kind: ProblemKind.SKIPPED, reason: "generator clip" }],
        },
      },
    },
  });
}

test("overall progress is the mean of the generated clips, skipped clips left out", () => {
  const job = new JobProgress();
  job.apply(acceptedTwoClips());
  job.apply(event({ event: { case: "progress", value: { clipId: "c1", stage: "decode", percent: 50 } } }));
  assert.equal(job.rows.length, 3);
  assert.equal(job.countedRows.length, 2);
  assert.equal(job.overallPercent, 25);
  assert.equal(job.rows[0].state, "running");
  assert.equal(job.rows[2].state, "skipped");
  assert.deepEqual(job.rows.map((row) => row.trackName), ["V1", "V2", "V3"]);
});

test("progress never moves backwards and a finished clip ignores late progress", () => {
  const job = new JobProgress();
  job.apply(acceptedTwoClips());
  job.apply(event({ event: { case: "progress", value: { clipId: "c1", stage: "engine", percent: 80 } } }));
  job.apply(event({ event: { case: "progress", value: { clipId: "c1", stage: "write", percent: 10 } } }));
  assert.equal(job.rows[0].percent, 80);
  job.apply(event({ event: { case: "clipResult", value: { clipId: "c1", fileName: "a.wav", sizeBytes: 0n } } }));
  job.apply(event({ event: { case: "progress", value: { clipId: "c1", stage: "write", percent: 5 } } }));
  assert.equal(job.rows[0].state, "generated");
  assert.equal(job.rows[0].percent, 100);
});

test("audio chunks are joined in order and checked against the announced size", () => {
  const job = new JobProgress();
  job.apply(acceptedTwoClips());
  const chunk = (offset: number, data: number[]) =>
    event({ event: { case: "audioChunk", value: { clipId: "c1", fileName: "c1.wav", offset: BigInt(offset), data: new Uint8Array(data) } } });
  job.apply(chunk(0, [1, 2, 3]));
  job.apply(chunk(3, [4, 5]));
  job.apply(event({ event: { case: "clipResult", value: { clipId: "c1", fileName: "c1.wav", sizeBytes: 5n, sha256: "x" } } }));
  assert.deepEqual(Array.from(job.audioFiles[0].file.bytes), [1, 2, 3, 4, 5]);
  assert.equal(job.audioFiles[0].sha256, "x");
});

test("a chunk out of order is a ProtocolError naming the clip", () => {
  const job = new JobProgress();
  job.apply(acceptedTwoClips());
  job.apply(event({ event: { case: "audioChunk", value: { clipId: "c2", fileName: "c2.wav", offset: 0n, data: new Uint8Array(4) } } }));
  assert.throws(
    () => job.apply(event({ event: { case: "audioChunk", value: { clipId: "c2", fileName: "c2.wav", offset: 9n, data: new Uint8Array(1) } } })),
    (error: unknown) => error instanceof ProtocolError && /clip c2/.test(error.message),
  );
});

test("a truncated file is a ProtocolError", () => {
  const job = new JobProgress();
  job.apply(acceptedTwoClips());
  job.apply(event({ event: { case: "audioChunk", value: { clipId: "c1", fileName: "c1.wav", offset: 0n, data: new Uint8Array(4) } } }));
  assert.throws(
    () => job.apply(event({ event: { case: "clipResult", value: { clipId: "c1", fileName: "c1.wav", sizeBytes: 8n } } })),
    ProtocolError,
  );
});

test("a job that ends normally shows 100 %, a cancelled one keeps its real progress", () => {
  const done = new JobProgress();
  done.apply(acceptedTwoClips());
  done.apply(event({ event: { case: "summary", value: { jobId: "job-1", clipsTotal: 2, clipsGenerated: 2 } } }));
  assert.equal(done.overallPercent, 100);

  const cancelled = new JobProgress();
  cancelled.apply(acceptedTwoClips());
  cancelled.apply(event({ event: { case: "progress", value: { clipId: "c1", stage: "engine", percent: 40 } } }));
  cancelled.apply(event({ event: { case: "clipProblem", value: { clipId: "c2", kind: ProblemKind.CANCELLED, reason: "job cancelled" } } }));
  cancelled.apply(event({ event: { case: "summary", value: { jobId: "job-1", cancelled: true, clipsCancelled: 2 } } }));
  assert.equal(cancelled.overallPercent, 20);
  assert.equal(cancelled.rows[1].state, "cancelled");
  assert.equal(cancelled.rows[1].reason, "job cancelled");
});

test("a failed clip is finished with its reason", () => {
  const job = new JobProgress();
  job.apply(acceptedTwoClips());
  job.apply(event({ event: { case: "clipProblem", value: { clipId: "c1", kind: ProblemKind.FAILED, reason: "decode error" } } }));
  assert.equal(job.rows[0].state, "failed");
  assert.equal(job.finishedCount, 1);
  assert.equal(job.overallPercent, 50);
});

test("a result timeline in pieces is joined, and complete only when the pieces add up", () => {
  const job = new JobProgress();
  job.apply(acceptedTwoClips());
  const piece = (offset: number, text: string) =>
    event({ event: { case: "resultTimeline", value: { fileName: "cut_foley.xml", offset: BigInt(offset), totalSizeBytes: 10n, data: new TextEncoder().encode(text) } } });
  // Read through a function: an assertion on the property would narrow its type for good.
  const result = () => job.resultTimeline;
  job.apply(piece(0, "<xmeml"));
  assert.equal(result(), null);
  job.apply(piece(6, "/>\n\n"));
  assert.equal(new TextDecoder().decode(result()?.bytes), "<xmeml/>\n\n");
  assert.throws(() => job.apply(piece(3, "x")), ProtocolError);
});

test("a result timeline without a total is one whole piece", () => {
  const job = new JobProgress();
  job.apply(event({ event: { case: "resultTimeline", value: { fileName: "a.otio", data: new TextEncoder().encode("{}") } } }));
  assert.equal(new TextDecoder().decode(job.resultTimeline?.bytes), "{}");
});
