// The progress of one GenerateFoley job, folded from its stream of events. Pure: no DOM, no
// network, so the same model drives the panel and the unit tests.

import {
  ClipStatus,
  ProblemKind,
  type ClipPlan,
  type ClipProblem,
  type GenerateFoleyResponse,
  type JobSummary,
} from "./gen/foley/v1/foley_pb";
import type { AudioFile } from "./hosts/host";

export type ClipState = "queued" | "running" | "generated" | "cached" | "skipped" | "failed" | "cancelled";

/** One row of the panel's clip list. */
export interface ClipRow {
  clipId: string;
  name: string;
  trackName: string;
  recordTimecode: string;
  state: ClipState;
  /** Engine stage of the last progress message ("decode", "write", ...). */
  stage: string;
  /** 0..100 for this clip. */
  percent: number;
  /** Why a clip was skipped, failed or cancelled. */
  reason: string;
}

/** A stream that broke the protocol's promises (out-of-order chunks, a size or hash mismatch). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

interface PendingFile {
  clipId: string;
  fileName: string;
  parts: Uint8Array[];
  size: number;
}

/** Clip states that will not change any more. */
const FINISHED: ReadonlySet<ClipState> = new Set(["generated", "cached", "skipped", "failed", "cancelled"]);

const PROBLEM_STATE: Record<number, ClipState> = {
  [ProblemKind.SKIPPED]: "skipped",
  [ProblemKind.MISSING_MEDIA]: "skipped",
  [ProblemKind.OUTSIDE_MEDIA_ROOTS]: "skipped",
  [ProblemKind.CANCELLED]: "cancelled",
};

export class JobProgress {
  jobId = "";
  timelineName = "";
  engine = "";
  preset = "";
  readonly notes: string[] = [];
  readonly rows: ClipRow[] = [];
  summary: JobSummary | null = null;
  /** The whole result timeline, once all its pieces have arrived. */
  resultTimeline: { fileName: string; bytes: Uint8Array } | null = null;
  /** Whole audio files, with the size and SHA-256 the server announced for each. */
  readonly audioFiles: { file: AudioFile; sizeBytes: number; sha256: string }[] = [];
  private readonly pending = new Map<string, PendingFile>();
  private timelinePieces: PendingFile | null = null;
  private readonly byId = new Map<string, ClipRow>();

  /** Fold one stream message into the model. */
  apply(response: GenerateFoleyResponse): void {
    const event = response.event;
    switch (event.case) {
      case "accepted": {
        this.jobId = event.value.jobId;
        const plan = event.value.plan;
        if (plan) {
          this.timelineName = plan.timelineName;
          this.engine = plan.engine;
          this.preset = plan.preset;
          this.notes.push(...plan.notes);
          plan.clips.forEach((clip) => this.addRow(planRow(clip)));
          plan.problems.forEach((problem) => this.addRow(problemRow(problem)));
        }
        return;
      }
      case "progress": {
        const row = this.row(event.value.clipId);
        if (FINISHED.has(row.state)) return;
        row.state = "running";
        row.stage = event.value.stage;
        // Progress only moves forward on screen even if stages report from 0 again.
        row.percent = Math.max(row.percent, clampPercent(event.value.percent));
        return;
      }
      case "audioChunk": {
        const chunk = event.value;
        const key = `${chunk.clipId}\u0000${chunk.fileName}`;
        let file = this.pending.get(key);
        if (!file) {
          file = { clipId: chunk.clipId, fileName: chunk.fileName, parts: [], size: 0 };
          this.pending.set(key, file);
        }
        if (Number(chunk.offset) !== file.size) {
          throw new ProtocolError(
            `audio for clip ${chunk.clipId} (${chunk.fileName}) arrived out of order: ` +
              `offset ${chunk.offset}, expected ${file.size}`,
          );
        }
        file.parts.push(chunk.data);
        file.size += chunk.data.length;
        return;
      }
      case "clipResult": {
        const result = event.value;
        const row = this.row(result.clipId);
        row.state = result.status === ClipStatus.CACHED || result.fromCache ? "cached" : "generated";
        row.percent = 100;
        row.stage = "done";
        const key = `${result.clipId}\u0000${result.fileName}`;
        const file = this.pending.get(key);
        this.pending.delete(key);
        if (file) {
          const bytes = concat(file.parts, file.size);
          if (bytes.length !== Number(result.sizeBytes)) {
            throw new ProtocolError(
              `audio for clip ${result.clipId} (${result.fileName}) is ${bytes.length} bytes, ` +
                `the server announced ${result.sizeBytes}`,
            );
          }
          this.audioFiles.push({
            file: { clipId: result.clipId, fileName: result.fileName, bytes },
            sizeBytes: Number(result.sizeBytes),
            sha256: result.sha256,
          });
        }
        return;
      }
      case "clipProblem": {
        const problem = event.value;
        const row = this.byId.get(problem.clipId) ?? this.addRow(problemRow(problem));
        row.state = PROBLEM_STATE[problem.kind] ?? "failed";
        row.reason = problem.reason;
        if (row.state !== "cancelled") row.percent = 100;
        return;
      }
      case "resultTimeline": {
        // One or more pieces; total_size_bytes 0 means a single whole piece (older servers).
        const piece = event.value;
        const total = Number(piece.totalSizeBytes);
        const timeline = this.timelinePieces ?? { clipId: "", fileName: piece.fileName, parts: [], size: 0 };
        this.timelinePieces = timeline;
        if (Number(piece.offset) !== timeline.size) {
          throw new ProtocolError(
            `result timeline ${piece.fileName} arrived out of order: offset ${piece.offset}, expected ${timeline.size}`,
          );
        }
        timeline.parts.push(piece.data);
        timeline.size += piece.data.length;
        if (total > 0 && timeline.size > total) {
          throw new ProtocolError(`result timeline ${piece.fileName} is longer than the announced ${total} bytes`);
        }
        if (total === 0 || timeline.size === total) {
          this.resultTimeline = { fileName: timeline.fileName, bytes: concat(timeline.parts, timeline.size) };
        }
        return;
      }
      case "summary":
        this.summary = event.value;
        return;
      default:
        // A newer server may send events this panel does not know; they carry nothing it needs.
        return;
    }
  }

  /** Clips that are generated by the job (skipped ones are listed but not counted). */
  get countedRows(): ClipRow[] {
    return this.rows.filter((row) => row.state !== "skipped");
  }

  /** 0..100 for the whole job: the mean of its clips, 100 once a job that was not cancelled ends. */
  get overallPercent(): number {
    if (this.summary && !this.summary.cancelled) return 100;
    const rows = this.countedRows;
    if (rows.length === 0) return this.summary ? 100 : 0;
    const total = rows.reduce((sum, row) => sum + row.percent, 0);
    return Math.min(100, total / rows.length);
  }

  get finishedCount(): number {
    return this.countedRows.filter((row) => FINISHED.has(row.state)).length;
  }

  private row(clipId: string): ClipRow {
    // A clip the plan did not list (a newer server) still gets a row rather than being lost.
    return this.byId.get(clipId) ?? this.addRow(emptyRow(clipId));
  }

  private addRow(row: ClipRow): ClipRow {
    this.rows.push(row);
    this.byId.set(row.clipId, row);
    return row;
  }
}

function planRow(clip: ClipPlan): ClipRow {
  return {
    ...emptyRow(clip.clipId),
    name: clip.name || clip.clipId,
    trackName: trackLabel(clip.trackName, clip.trackIndex),
    recordTimecode: clip.recordTimecode,
    // A clip the server already holds (`cached`) still arrives as a clip_result; it just comes fast.
    state: "queued",
    percent: 0,
  };
}

function problemRow(problem: ClipProblem): ClipRow {
  return {
    ...emptyRow(problem.clipId),
    name: problem.name || problem.clipId,
    trackName: trackLabel(problem.trackName, problem.trackIndex),
    recordTimecode: problem.recordTimecode,
    state: PROBLEM_STATE[problem.kind] ?? "failed",
    percent: 100,
    reason: problem.reason,
  };
}

/** Unnamed tracks (FCP 7 XML from Premiere names none) read as the editor's "V1", "V2". */
function trackLabel(name: string, index: number): string {
  return name || (index > 0 ? `V${index}` : "");
}

function emptyRow(clipId: string): ClipRow {
  return {
    clipId,
    name: clipId,
    trackName: "",
    recordTimecode: "",
    state: "queued",
    stage: "",
    percent: 0,
    reason: "",
  };
}

function clampPercent(value: number): number {
  return Number.isFinite(value) ? Math.min(100, Math.max(0, value)) : 0;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
