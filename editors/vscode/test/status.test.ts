/** Status handling: `codet5p/status` params (lsp_server Engine.status) -> status-bar item. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { describeStatus, failedView, startingView } from "../src/status";

function status(model: string, index = "idle", extra: Record<string, unknown> = {}) {
  return {
    model: { state: model, message: model === "ready" ? "model loaded from /b" : `model ${model}`, path: "/b", embedding: true, matching: true, decoder: true },
    index: { state: index, files: 12, symbols: 40, embeddings: 38 },
    slow: false,
    completionP50Ms: null,
    ...extra,
  };
}

test("ready shows a check and counts in the tooltip", () => {
  const view = describeStatus(status("ready"));
  assert.equal(view.text, "$(check) CodeT5+");
  assert.equal(view.severity, "ok");
  assert.equal(view.tooltip, "CodeT5+: ready\nmodel loaded from /b\nindex: 12 files, 40 symbols, 38 embeddings");
});

test("loading the model and indexing spin", () => {
  assert.equal(describeStatus(status("loading")).text, "$(loading~spin) CodeT5+ loading model");
  assert.equal(describeStatus(status("unloaded")).severity, "busy");
  const indexing = describeStatus(status("ready", "indexing"));
  assert.equal(indexing.text, "$(sync~spin) CodeT5+ indexing");
  assert.equal(indexing.severity, "busy");
});

test("a missing model warns and says what still works", () => {
  const view = describeStatus(status("missing"));
  assert.equal(view.text, "$(warning) CodeT5+ no model");
  assert.equal(view.severity, "warning");
  assert.match(view.tooltip, /search is lexical only/);
  assert.match(view.tooltip, /codet5p\.model\.path/);
});

test("a model error wins over indexing and slowness", () => {
  const view = describeStatus(status("error", "indexing", { slow: true }));
  assert.equal(view.severity, "error");
  assert.equal(view.text, "$(error) CodeT5+ model error");
});

test("slow completions warn with the measured p50", () => {
  const view = describeStatus(status("ready", "idle", { slow: true, completionP50Ms: 1432.6 }));
  assert.equal(view.text, "$(warning) CodeT5+ slow");
  assert.equal(view.severity, "warning");
  assert.match(view.tooltip, /completion p50: 1433 ms \(slower than the deadline allows\)/);
  assert.match(describeStatus(status("ready", "idle", { completionP50Ms: 80 })).tooltip, /completion p50: 80 ms$/);
});

test("malformed params never throw", () => {
  for (const raw of [null, undefined, 3, "ready", [], { model: 5 }, { model: { state: 7 } }, { index: [] }]) {
    const view = describeStatus(raw);
    assert.ok(view.text.includes("CodeT5+"));
    assert.equal(typeof view.tooltip, "string");
  }
  assert.equal(describeStatus({ model: { state: "weird" } }).text, "$(info) CodeT5+ weird");
  assert.equal(describeStatus({}).text, "$(info) CodeT5+ unknown");
});

test("starting and failed views", () => {
  assert.equal(startingView().severity, "busy");
  const failed = failedView("not found");
  assert.equal(failed.severity, "error");
  assert.match(failed.tooltip, /not found/);
});
