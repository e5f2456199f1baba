// The panel's UI: settings, generation options, the Generate and Cancel buttons, per-clip and
// overall progress, readable errors. It knows the host only through the Host interface.

import { createFoleyClient, describeError, type FoleyClient } from "./foley_api";
import { GenerationRun, type Outcome } from "./generation";
import { HostError, type Host } from "./hosts/host";
import type { ClipRow, JobProgress } from "./job";
import { loadSettings, saveSettings, type PanelSettings } from "./settings";

type StatusKind = "info" | "busy" | "done" | "error";

const STATE_LABEL: Record<ClipRow["state"], string> = {
  queued: "queued",
  running: "",
  generated: "done",
  cached: "from cache",
  skipped: "skipped",
  failed: "failed",
  cancelled: "cancelled",
};

/** Elements the panel reads and writes, looked up once by id (see index.html). */
interface Elements {
  serverAddress: HTMLInputElement;
  token: HTMLInputElement;
  checkServer: HTMLButtonElement;
  source: HTMLElement;
  prompt: HTMLTextAreaElement;
  preset: HTMLSelectElement;
  engine: HTMLSelectElement;
  generate: HTMLButtonElement;
  cancel: HTMLButtonElement;
  status: HTMLElement;
  overall: HTMLElement;
  overallBar: HTMLElement;
  overallText: HTMLElement;
  clips: HTMLElement;
  serverInfo: HTMLElement;
}

export class Panel {
  private readonly el: Elements;
  private settings: PanelSettings;
  private run: GenerationRun | null = null;
  private renderQueued = false;

  constructor(
    private readonly doc: Document,
    private readonly host: Host,
  ) {
    this.el = lookUp(doc);
    this.settings = loadSettings(host.store);
  }

  start(): void {
    const { el, settings } = this;
    el.serverAddress.value = settings.serverAddress;
    el.token.value = settings.token;
    el.prompt.value = settings.prompt;
    setOptions(el.preset, [], settings.preset);
    setOptions(el.engine, [], settings.engine);
    el.generate.textContent = this.host.generateLabel;
    const controls = this.host.sourceControls();
    if (controls) el.source.replaceChildren(controls);
    else el.source.hidden = true;
    this.doc.body.dataset.host = this.host.kind;

    for (const input of [el.serverAddress, el.token, el.prompt, el.preset, el.engine]) {
      input.addEventListener("change", () => this.persist());
    }
    el.prompt.addEventListener("input", () => this.persist());
    el.checkServer.addEventListener("click", () => void this.checkServer());
    el.generate.addEventListener("click", () => void this.generate());
    el.cancel.addEventListener("click", () => this.cancel());
    this.setStatus("info", "Set the server, then generate.");
  }

  /** GetCapabilities: fills the engine and preset lists, and proves the address and token. */
  async checkServer(): Promise<boolean> {
    this.persist();
    let client: FoleyClient;
    try {
      client = this.client();
    } catch (error) {
      this.setStatus("error", describeError(error, this.settings.serverAddress));
      return false;
    }
    this.setStatus("busy", `Connecting to ${this.settings.serverAddress} …`);
    try {
      const capabilities = await client.getCapabilities({});
      const engines = capabilities.engines.map((engine) => ({
        value: engine.name,
        label: engine.available ? engine.name : `${engine.name} (unavailable)`,
        title: engine.reason,
      }));
      const presets = capabilities.presets.map((preset) => ({ value: preset.name, label: preset.name }));
      setOptions(this.el.engine, engines, this.settings.engine, capabilities.defaultEngine);
      setOptions(this.el.preset, presets, this.settings.preset, capabilities.defaultPreset);
      this.el.serverInfo.textContent = `foley-server ${capabilities.serverVersion} · ${capabilities.limits?.workers ?? "?"} worker(s)`;
      this.setStatus("done", `Connected to ${this.settings.serverAddress}.`);
      return true;
    } catch (error) {
      this.setStatus("error", describeError(error, this.settings.serverAddress));
      return false;
    }
  }

  async generate(): Promise<void> {
    if (this.run) return;
    this.persist();
    let client: FoleyClient;
    try {
      client = this.client();
    } catch (error) {
      this.setStatus("error", describeError(error, this.settings.serverAddress));
      return;
    }
    const run = new GenerationRun(client, this.host, { ...this.settings });
    this.run = run;
    this.el.generate.disabled = true;
    this.el.cancel.disabled = false;
    this.el.clips.replaceChildren();
    this.renderProgress(run.job);
    this.setStatus("busy", "Exporting the timeline and sending it …");
    const outcome = await run.run((job) => this.queueRender(job));
    this.run = null;
    this.el.generate.disabled = false;
    this.el.cancel.disabled = true;
    this.renderProgress(outcome.job);
    this.report(outcome);
  }

  cancel(): void {
    if (!this.run || this.run.cancelling) return;
    this.el.cancel.disabled = true;
    this.setStatus("busy", "Cancelling …");
    this.run.cancel();
  }

  private report(outcome: Outcome): void {
    const summary = outcome.job.summary;
    if (outcome.kind === "cancelled") {
      const done = summary ? ` ${summary.clipsGenerated + summary.clipsCached} of ${summary.clipsTotal} clip(s) had finished.` : "";
      this.setStatus("info", `Cancelled.${done}`);
      return;
    }
    if (outcome.kind === "failed") {
      const error = outcome.error;
      const message = error instanceof HostError || (error instanceof Error && error.name === "ProtocolError")
        ? error.message
        : describeError(error, this.settings.serverAddress);
      this.setStatus("error", message);
      return;
    }
    const parts = summary
      ? [`${summary.clipsGenerated} generated`, `${summary.clipsCached} from cache`]
      : [];
    if (summary?.clipsFailed) parts.push(`${summary.clipsFailed} failed`);
    if (summary?.clipsSkipped) parts.push(`${summary.clipsSkipped} skipped`);
    const seconds = summary ? ` in ${summary.elapsedS.toFixed(1)} s` : "";
    this.setStatus("done", `Done${seconds}: ${parts.join(", ")}. ${outcome.imported?.message ?? ""}`.trim());
  }

  private client(): FoleyClient {
    return createFoleyClient(this.settings.serverAddress, this.settings.token);
  }

  private persist(): void {
    this.settings = {
      serverAddress: this.el.serverAddress.value.trim(),
      token: this.el.token.value.trim(),
      prompt: this.el.prompt.value,
      preset: this.el.preset.value,
      engine: this.el.engine.value,
    };
    saveSettings(this.host.store, this.settings);
  }

  private setStatus(kind: StatusKind, message: string): void {
    this.el.status.dataset.kind = kind;
    this.el.status.textContent = message;
  }

  /** Coalesce a burst of stream events into one repaint per frame. */
  private queueRender(job: JobProgress): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    const paint = (): void => {
      this.renderQueued = false;
      this.renderProgress(job);
    };
    if (typeof requestAnimationFrame === "function") requestAnimationFrame(paint);
    else setTimeout(paint, 16);
  }

  private renderProgress(job: JobProgress): void {
    const overall = Math.round(job.overallPercent);
    this.el.overall.dataset.percent = String(overall);
    this.el.overallBar.style.width = `${overall}%`;
    const counted = job.countedRows.length;
    const clips = counted ? ` · ${job.finishedCount}/${counted} clips` : "";
    this.el.overallText.textContent = `${overall} %${clips}`;
    if (job.jobId && this.run) {
      this.setStatus("busy", `Generating ${job.timelineName || "the timeline"} on ${job.engine || "the server"} (${job.preset || "default"}) …`);
    }
    const rows = job.rows.map((row) => this.clipRow(row));
    this.el.clips.replaceChildren(...rows);
  }

  private clipRow(row: ClipRow): HTMLElement {
    const item = this.doc.createElement("li");
    item.className = `clip clip-${row.state}`;
    item.dataset.clipId = row.clipId;
    item.dataset.state = row.state;
    item.dataset.percent = String(Math.round(row.percent));
    const name = this.doc.createElement("span");
    name.className = "clip-name";
    name.textContent = row.trackName ? `${row.trackName} · ${row.name}` : row.name;
    name.title = [row.trackName, row.recordTimecode, row.name].filter(Boolean).join(" · ");
    const bar = this.doc.createElement("span");
    bar.className = "bar";
    const fill = this.doc.createElement("span");
    fill.className = "bar-fill";
    fill.style.width = `${Math.round(row.percent)}%`;
    bar.append(fill);
    const state = this.doc.createElement("span");
    state.className = "clip-state";
    state.textContent = row.state === "running" ? `${row.stage} ${Math.round(row.percent)} %` : STATE_LABEL[row.state];
    item.append(name, bar, state);
    if (row.reason) {
      const reason = this.doc.createElement("span");
      reason.className = "clip-reason";
      reason.textContent = row.reason;
      item.append(reason);
    }
    return item;
  }
}

function lookUp(doc: Document): Elements {
  const byId = <T extends HTMLElement>(id: string): T => {
    const element = doc.getElementById(id);
    if (!element) throw new Error(`panel markup lacks #${id}`);
    return element as T;
  };
  return {
    serverAddress: byId("server-address"),
    token: byId("server-token"),
    checkServer: byId("check-server"),
    source: byId("source"),
    prompt: byId("prompt"),
    preset: byId("preset"),
    engine: byId("engine"),
    generate: byId("generate"),
    cancel: byId("cancel"),
    status: byId("status"),
    overall: byId("overall"),
    overallBar: byId("overall-bar"),
    overallText: byId("overall-percent"),
    clips: byId("clips"),
    serverInfo: byId("server-info"),
  };
}

/** Options for a select: "(server default: X)" first, the server's names, and the saved choice. */
interface SelectOption {
  value: string;
  label: string;
  /** Shown on hover: why an engine is unavailable. */
  title?: string;
}

function setOptions(select: HTMLSelectElement, options: SelectOption[], chosen: string, serverDefault = ""): void {
  const doc = select.ownerDocument;
  const all: SelectOption[] = [{ value: "", label: serverDefault ? `server default: ${serverDefault}` : "server default" }, ...options];
  if (chosen && !all.some((option) => option.value === chosen)) all.push({ value: chosen, label: chosen });
  select.replaceChildren(
    ...all.map((option) => {
      const element = doc.createElement("option");
      element.value = option.value;
      element.textContent = option.label;
      if (option.title) element.title = option.title;
      return element;
    }),
  );
  select.value = chosen;
}
