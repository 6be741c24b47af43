/** Status handling: `codet5p/status` params -> status-bar text, tooltip and colour. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { describeStatus, failedView, percent, startingView } from "../src/status";

test("ready shows a check and no label", () => {
  const view = describeStatus({ state: "ready", message: "model tiny loaded in 0.4 s" });
  assert.equal(view.text, "$(check) CodeT5+");
  assert.equal(view.severity, "ok");
  assert.equal(view.tooltip, "CodeT5+: ready\nmodel tiny loaded in 0.4 s");
});

test("indexing shows a spinner and progress", () => {
  assert.equal(describeStatus({ state: "indexing", progress: 0.4 }).text, "$(sync~spin) CodeT5+ indexing 40%");
  assert.equal(describeStatus({ state: "indexing", done: 3, total: 4 }).text, "$(sync~spin) CodeT5+ indexing 75%");
  assert.equal(describeStatus({ state: "Indexing", progress: 55 }).severity, "busy");
});

test("progress is clamped and ignored when absent or bad", () => {
  assert.equal(percent({ progress: 1 }), 100);
  assert.equal(percent({ progress: 1.7 }), 2); // above 1: already a percentage
  assert.equal(percent({ progress: 250 }), 100);
  assert.equal(percent({ progress: -3 }), 0);
  assert.equal(percent({ progress: "half" }), undefined);
  assert.equal(percent({ done: 1, total: 0 }), undefined);
  assert.equal(percent({}), undefined);
});

test("progress is not shown on a ready item", () => {
  assert.equal(describeStatus({ state: "ready", progress: 1 }).text, "$(check) CodeT5+");
});

test("slow and error states carry their severity and message", () => {
  const slow = describeStatus({ state: "slow", message: "completion p50 3.2 s" });
  assert.equal(slow.severity, "warning");
  assert.equal(slow.text, "$(warning) CodeT5+ slow");
  const error = describeStatus({ state: "error", detail: "bundle: manifest.json missing" });
  assert.equal(error.severity, "error");
  assert.match(error.tooltip, /manifest\.json missing/);
});

test("malformed params never throw", () => {
  for (const raw of [null, undefined, 3, "ready", [], { state: 5 }, { state: "weird" }]) {
    const view = describeStatus(raw);
    assert.equal(typeof view.text, "string");
    assert.ok(view.text.includes("CodeT5+"));
  }
  assert.equal(describeStatus({ state: "weird" }).text, "$(info) CodeT5+");
});

test("model name is in the tooltip", () => {
  assert.match(describeStatus({ state: "ready", model: "codet5p-220m" }).tooltip, /model: codet5p-220m/);
});

test("starting and failed views", () => {
  assert.equal(startingView().severity, "busy");
  const failed = failedView("not found");
  assert.equal(failed.severity, "error");
  assert.match(failed.tooltip, /not found/);
});
