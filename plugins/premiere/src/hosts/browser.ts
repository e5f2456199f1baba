// The browser host: a file chooser stands in for "export the active sequence", and the result
// is offered as downloads. It lets the panel's UI and logic run, and be tested, in any browser.

import { HostError, safeFileStem, type GeneratedResult, type Host, type ImportReport, type KeyValueStore, type TimelineExport } from "./host";

export class BrowserHost implements Host {
  readonly kind = "browser";
  readonly generateLabel = "Generate Foley for the chosen timeline";
  private readonly input: HTMLInputElement;
  private readonly urls: string[] = [];

  constructor(
    private readonly doc: Document,
    /** Where the download links of a finished job are listed. */
    private readonly results: HTMLElement,
    readonly store: KeyValueStore,
  ) {
    this.input = doc.createElement("input");
    this.input.type = "file";
    this.input.id = "timeline-file";
    this.input.accept = ".xml,.otio,.otioz,.fcpxml,.aaf,.edl";
  }

  sourceControls(): HTMLElement {
    const label = this.doc.createElement("label");
    label.className = "field";
    label.append("Timeline file (FCP 7 XML, OTIO, FCPXML, AAF, EDL)", this.input);
    return label;
  }

  async exportTimeline(): Promise<TimelineExport> {
    const file = this.input.files?.[0];
    if (!file) throw new HostError("Choose a timeline file first.");
    const bytes = new Uint8Array(await file.arrayBuffer());
    if (bytes.length === 0) throw new HostError(`${file.name} is empty.`);
    // The server guesses the format from the content and the name.
    return { fileName: file.name, displayName: file.name, bytes, format: "" };
  }

  async prepareAudioFolder(): Promise<string> {
    // Bare file names: the timeline finds its audio when both are saved in one folder.
    return "";
  }

  async importResult(result: GeneratedResult): Promise<ImportReport> {
    this.urls.splice(0).forEach((url) => URL.revokeObjectURL(url));
    this.results.replaceChildren();
    const heading = this.doc.createElement("h3");
    heading.textContent = "Result (save all in one folder)";
    const list = this.doc.createElement("ul");
    list.className = "downloads";
    const links = [
      this.link(result.timelineFileName, result.timelineBytes, "application/xml", "result-timeline"),
      ...result.audioFiles.map((audio) => this.link(audio.fileName, audio.bytes, "audio/wav", "result-audio")),
    ];
    for (const link of links) {
      const item = this.doc.createElement("li");
      item.append(link);
      list.append(item);
    }
    const all = this.doc.createElement("button");
    all.type = "button";
    all.id = "download-all";
    all.textContent = "Download all";
    all.addEventListener("click", () => links.forEach((link) => link.click()));
    this.results.append(heading, all, list);
    return {
      message: `Ready: ${result.timelineFileName} and ${result.audioFiles.length} audio file(s) to download.`,
    };
  }

  private link(fileName: string, bytes: Uint8Array, type: string, role: string): HTMLAnchorElement {
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
    this.urls.push(url);
    const anchor = this.doc.createElement("a");
    anchor.href = url;
    anchor.download = safeFileStem(fileName);
    anchor.textContent = fileName;
    anchor.dataset.role = role;
    anchor.dataset.bytes = String(bytes.length);
    return anchor;
  }
}
