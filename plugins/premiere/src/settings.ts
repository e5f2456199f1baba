// The panel's settings, kept in the host's key-value store (localStorage in Premiere's UXP and in
// browsers) as one JSON record, read and validated once at start.

import type { KeyValueStore } from "./hosts/host";

export interface PanelSettings {
  /** Address of `foley-server serve --http-port`, e.g. http://127.0.0.1:8080. */
  serverAddress: string;
  /** Bearer token; empty when the server has none. */
  token: string;
  prompt: string;
  /** Preset name; empty: the server's default. */
  preset: string;
  /** Engine name; empty: the server's default. */
  engine: string;
}

export const SETTINGS_KEY = "foley-panel.settings.v1";

export const DEFAULT_SETTINGS: PanelSettings = {
  serverAddress: "http://127.0.0.1:8080",
  token: "",
  prompt: "",
  preset: "",
  engine: "",
};

export function loadSettings(store: KeyValueStore): PanelSettings {
  const raw = store.getItem(SETTINGS_KEY);
  if (!raw) return { ...DEFAULT_SETTINGS };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // A damaged record (edited by hand, truncated) falls back to defaults instead of breaking the panel.
    return { ...DEFAULT_SETTINGS };
  }
  const record = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const text = (key: keyof PanelSettings): string =>
    typeof record[key] === "string" ? (record[key] as string) : DEFAULT_SETTINGS[key];
  return {
    serverAddress: text("serverAddress"),
    token: text("token"),
    prompt: text("prompt"),
    preset: text("preset"),
    engine: text("engine"),
  };
}

export function saveSettings(store: KeyValueStore, settings: PanelSettings): void {
  store.setItem(SETTINGS_KEY, JSON.stringify(settings));
}
