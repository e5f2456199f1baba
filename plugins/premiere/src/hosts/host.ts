// The seam between the panel and the application it runs in. The panel's UI and logic only ever
// talk to a `Host`; everything Premiere-specific lives in premiere.ts, and browser.ts lets the same
// panel run (and be tested) in any browser.

/** A timeline exported from the editor (or chosen by the user), ready to send. */
export interface TimelineExport {
  /** File name the bytes came from: the server guesses the format from it and names it in messages. */
  fileName: string;
  /** What the user sees: a sequence name, or the chosen file's name. */
  displayName: string;
  bytes: Uint8Array;
  /** Format name for the server ("fcp_xml", ...); empty: guessed from the content. */
  format: string;
}

/** One generated audio file, whole and checked against the server's size and SHA-256. */
export interface AudioFile {
  clipId: string;
  fileName: string;
  bytes: Uint8Array;
}

/** What a finished job hands to the host to bring into the project. */
export interface GeneratedResult {
  timelineFileName: string;
  timelineBytes: Uint8Array;
  audioFiles: AudioFile[];
  /** The folder the result timeline's media references point at (see `prepareAudioFolder`). */
  audioFolder: string;
}

/** The outcome of an import, for the status line. */
export interface ImportReport {
  message: string;
}

export interface Host {
  /** "premiere" or "browser": shown in the panel's footer and used by its styling. */
  readonly kind: string;
  /** Label of the main button. */
  readonly generateLabel: string;
  /** Extra controls the host needs (the browser's file chooser); null when it needs none. */
  sourceControls(): HTMLElement | null;
  /** Export (or read) the timeline to send. Throws HostError with a readable message. */
  exportTimeline(): Promise<TimelineExport>;
  /**
   * The folder the audio will be saved in, decided before the job starts so that the server
   * writes it into the result timeline's media references; "" for bare file names.
   */
  prepareAudioFolder(timeline: TimelineExport): Promise<string>;
  /** Save the audio and the result timeline and bring them into the project (or offer them). */
  importResult(result: GeneratedResult): Promise<ImportReport>;
  /** Where settings persist (localStorage in both hosts). */
  readonly store: KeyValueStore;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** A failure inside the host application, with a message the editor can act on. */
export class HostError extends Error {
  override name = "HostError";
}

/** A file or sequence name made safe for a file system (no separators, no reserved characters). */
export function safeFileStem(name: string): string {
  const cleaned = name.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, "_").replace(/^\.+/, "").trim();
  return (cleaned || "timeline").slice(0, 120);
}
