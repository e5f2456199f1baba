// One "Generate Foley" run: export the timeline from the host, stream GenerateFoley, fold the
// events into a JobProgress, check the audio, hand the result to the host. Cancelling asks the
// server (CancelJob) and, if the stream has not ended soon after, aborts it: the server cancels
// a job whose client went away, so either way the job stops.

import { Code, ConnectError } from "@connectrpc/connect";

import { sha256Hex, type FoleyClient } from "./foley_api";
import type { Host, ImportReport } from "./hosts/host";
import { JobProgress, ProtocolError } from "./job";
import type { PanelSettings } from "./settings";

/** How long a CancelJob may take to end the stream before the panel drops the connection. */
export const CANCEL_GRACE_MS = 5000;

export type OutcomeKind = "done" | "cancelled" | "failed";

export interface Outcome {
  kind: OutcomeKind;
  job: JobProgress;
  /** The host's import report (done), or null. */
  imported: ImportReport | null;
  /** The error when kind is "failed". */
  error: unknown;
}

export class GenerationRun {
  readonly job = new JobProgress();
  private readonly abort = new AbortController();
  private cancelRequested = false;

  constructor(
    private readonly client: FoleyClient,
    private readonly host: Host,
    private readonly settings: PanelSettings,
  ) {}

  get cancelling(): boolean {
    return this.cancelRequested;
  }

  /** Run to the end; never throws (failures come back as an Outcome). */
  async run(onUpdate: (job: JobProgress) => void): Promise<Outcome> {
    try {
      const timeline = await this.host.exportTimeline();
      if (this.cancelRequested) return this.outcome("cancelled");
      const audioFolder = await this.host.prepareAudioFolder(timeline);
      const stream = this.client.generateFoley(
        {
          timeline: {
            source: { case: "data", value: timeline.bytes },
            format: timeline.format,
            sourceName: timeline.fileName,
          },
          options: {
            engine: this.settings.engine,
            preset: this.settings.preset,
            prompt: this.settings.prompt,
            inlineAudioDir: audioFolder,
          },
        },
        { signal: this.abort.signal },
      );
      for await (const response of stream) {
        this.job.apply(response);
        onUpdate(this.job);
      }
      if (this.cancelRequested || this.job.summary?.cancelled) return this.outcome("cancelled");
      if (!this.job.summary || !this.job.resultTimeline) {
        throw new ProtocolError("the server ended the job without a result timeline and summary");
      }
      for (const { file, sha256 } of this.job.audioFiles) {
        const actual = await sha256Hex(file.bytes);
        if (actual && sha256 && actual !== sha256) {
          throw new ProtocolError(`audio for clip ${file.clipId} (${file.fileName}) is damaged: its SHA-256 does not match the server's`);
        }
      }
      const imported = await this.host.importResult({
        timelineFileName: this.job.resultTimeline.fileName,
        timelineBytes: this.job.resultTimeline.bytes,
        audioFiles: this.job.audioFiles.map((entry) => entry.file),
        audioFolder,
      });
      return { ...this.outcome("done"), imported };
    } catch (error) {
      if (this.cancelRequested && ConnectError.from(error).code === Code.Canceled) {
        return this.outcome("cancelled");
      }
      return { ...this.outcome("failed"), error };
    }
  }

  /** Ask the server to stop the job; drop the stream if that does not end it in time. */
  cancel(): void {
    if (this.cancelRequested) return;
    this.cancelRequested = true;
    const jobId = this.job.jobId;
    if (!jobId) {
      this.abort.abort();
      return;
    }
    const timer = setTimeout(() => this.abort.abort(), CANCEL_GRACE_MS);
    this.client
      .cancelJob({ jobId })
      .then((answer) => {
        // found=false: the job already ended; its stream is about to close by itself.
        if (!answer.found) clearTimeout(timer);
      })
      .catch(() => {
        clearTimeout(timer);
        this.abort.abort();
      });
  }

  private outcome(kind: OutcomeKind): Outcome {
    return { kind, job: this.job, imported: null, error: null };
  }
}
