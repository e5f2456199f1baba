// Every Premiere Pro call of the panel, and nothing else. Targets the Premiere Pro UXP DOM API
// of Premiere Pro 25.6 (manifest v5; `host.minVersion` in manifest.json), as documented at:
//   - the module and the active project/sequence:
//     https://developer.adobe.com/premiere-pro/uxp/ppro_reference/
//     (`require("premierepro")`, `await app.Project.getActiveProject()`,
//     `await project.getActiveSequence()`)
//   - Project (`importFiles(filePaths, suppressUI, targetBin, asNumberedStills)`, `path`, `name`):
//     https://developer.adobe.com/premiere-pro/uxp/ppro_reference/classes/project
//   - ProjectConverter (`exportAsFinalCutProXML(sequence, outputFilePath, suppressUI)`, since 25.0):
//     https://developer.adobe.com/premiere-pro/uxp/ppro_reference/classes/projectconverter
//   - UXP's path-based `fs` module (`readFile`, `writeFile`, `mkdir`, `rename`; "plugin-temp:"):
//     https://developer.adobe.com/premiere-pro/uxp/resources/recipes/filesystem-operations/
// Only the members used here are declared below, so a renamed API fails to type-check here, in one
// file, rather than across the panel.

import { HostError, safeFileStem, type GeneratedResult, type Host, type ImportReport, type KeyValueStore, type TimelineExport } from "./host";

interface PproSequence {
  readonly name: string;
}

interface PproProject {
  readonly name: string;
  /** Absolute path of the .prproj file. */
  readonly path: string;
  getActiveSequence(): Promise<PproSequence | null>;
  importFiles(filePaths: string[], suppressUI: boolean, targetBin: unknown, asNumberedStills: boolean): Promise<boolean>;
}

interface PremiereModule {
  Project: { getActiveProject(): Promise<PproProject | null> };
  ProjectConverter: {
    exportAsFinalCutProXML(sequence: PproSequence, outputFilePath: string, suppressUI: boolean): Promise<boolean>;
  };
}

interface UxpFs {
  readFile(path: string): Promise<ArrayBuffer>;
  writeFile(path: string, data: ArrayBuffer | Uint8Array): Promise<number>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<unknown>;
  rename(oldPath: string, newPath: string): Promise<unknown>;
}

interface UxpModule {
  storage: { localFileSystem: { getTemporaryFolder(): Promise<{ nativePath: string }> } };
}

type RequireFunction = (name: string) => unknown;

/** UXP's CommonJS `require`, present only inside a UXP host. */
function uxpRequire(): RequireFunction | null {
  const candidate = (globalThis as { require?: unknown }).require;
  return typeof candidate === "function" ? (candidate as RequireFunction) : null;
}

/** True when the panel runs inside Premiere Pro (the `premierepro` module loads). */
export function insidePremiere(): boolean {
  const load = uxpRequire();
  if (!load) return false;
  try {
    return Boolean(load("premierepro"));
  } catch {
    return false;
  }
}

export class PremiereHost implements Host {
  readonly kind = "premiere";
  readonly generateLabel = "Generate Foley for the active sequence";
  private readonly ppro: PremiereModule;
  private readonly uxp: UxpModule;
  private readonly fs: UxpFs;

  constructor(readonly store: KeyValueStore) {
    const load = uxpRequire();
    if (!load) throw new HostError("Not running inside Premiere Pro (no UXP require).");
    this.ppro = load("premierepro") as PremiereModule;
    this.uxp = load("uxp") as UxpModule;
    this.fs = load("fs") as UxpFs;
  }

  sourceControls(): null {
    return null;
  }

  async exportTimeline(): Promise<TimelineExport> {
    const project = await this.activeProject();
    const sequence = await project.getActiveSequence();
    if (!sequence) throw new HostError("No active sequence: open the sequence in the Timeline panel first.");
    const temporary = await this.uxp.storage.localFileSystem.getTemporaryFolder();
    const fileName = `${safeFileStem(sequence.name)}.xml`;
    const path = joinPath(temporary.nativePath, fileName);
    const exported = await this.ppro.ProjectConverter.exportAsFinalCutProXML(sequence, path, true);
    if (!exported) throw new HostError(`Premiere could not export "${sequence.name}" as FCP 7 XML.`);
    const bytes = new Uint8Array(await this.fs.readFile(path));
    return { fileName, displayName: sequence.name, bytes, format: "fcp_xml" };
  }

  async prepareAudioFolder(timeline: TimelineExport): Promise<string> {
    // Beside the project file, one folder per run: an editor finds the audio with the project,
    // and a re-run never overwrites audio an earlier import still uses.
    const project = await this.activeProject();
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const folder = joinPath(dirname(project.path), "Foley", `${safeFileStem(timeline.displayName)}_${stamp}`);
    await this.fs.mkdir(folder, { recursive: true });
    // Forward slashes: the server writes this into the result's file references as a POSIX-style
    // path, and UXP's fs (libuv) takes "/" on Windows too.
    return folder.replace(/\\/g, "/");
  }

  async importResult(result: GeneratedResult): Promise<ImportReport> {
    const folder = result.audioFolder;
    for (const audio of result.audioFiles) {
      await this.writeAtomically(joinPath(folder, safeFileStem(audio.fileName)), audio.bytes);
    }
    const timelinePath = joinPath(folder, safeFileStem(result.timelineFileName));
    await this.writeAtomically(timelinePath, result.timelineBytes);
    const project = await this.activeProject();
    // Importing the FCP XML brings in its sequence (the edit plus the Foley tracks) and, through
    // its file references, the audio files written above.
    const imported = await project.importFiles([timelinePath], true, null, false);
    if (!imported) throw new HostError(`Premiere could not import ${timelinePath}; the files are in ${folder}.`);
    return { message: `Imported ${result.timelineFileName} with ${result.audioFiles.length} audio file(s) from ${folder}.` };
  }

  private async activeProject(): Promise<PproProject> {
    const project = await this.ppro.Project.getActiveProject();
    if (!project) throw new HostError("No open project in Premiere Pro.");
    return project;
  }

  /** Write under a temporary name and rename, so no half-written file is ever imported. */
  private async writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
    const partial = `${path}.partial`;
    await this.fs.writeFile(partial, bytes);
    await this.fs.rename(partial, path);
  }
}

/** Premiere reports native paths: "\" on Windows, "/" on macOS. */
function separatorOf(path: string): string {
  return path.includes("\\") && !path.includes("/") ? "\\" : "/";
}

function joinPath(folder: string, ...names: string[]): string {
  const separator = separatorOf(folder);
  return [folder.replace(/[\\/]+$/, ""), ...names].join(separator);
}

function dirname(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut > 0 ? path.slice(0, cut) : path;
}
