import assert from "node:assert/strict";
import { test } from "node:test";

import type { KeyValueStore } from "../src/hosts/host";
import { DEFAULT_SETTINGS, loadSettings, saveSettings, SETTINGS_KEY } from "../src/settings";

function memoryStore(): KeyValueStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, getItem: (key) => data.get(key) ?? null, setItem: (key, value) => void data.set(key, value) };
}

test("settings survive a save and a load", () => {
  const store = memoryStore();
  const settings = { serverAddress: "http://10.0.0.5:8080", token: "s3cret", prompt: "boots", preset: "light", engine: "procedural" };
  saveSettings(store, settings);
  assert.deepEqual(loadSettings(store), settings);
});

test("no record gives the defaults", () => {
  assert.deepEqual(loadSettings(memoryStore()), DEFAULT_SETTINGS);
});

test("a damaged record falls back to defaults field by field", () => {
  const store = memoryStore();
  store.setItem(SETTINGS_KEY, "{not json");
  assert.deepEqual(loadSettings(store), DEFAULT_SETTINGS);
  store.setItem(SETTINGS_KEY, JSON.stringify({ serverAddress: "http://h:1", token: 42 }));
  assert.deepEqual(loadSettings(store), { ...DEFAULT_SETTINGS, serverAddress: "http://h:1" });
});
