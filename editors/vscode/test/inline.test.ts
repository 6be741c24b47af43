/** Inline completion protocol helpers: params and result normalisation. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { buildParams, fillInlineCapability, serverSupportsInline, toItems, TRIGGER_AUTOMATIC, TRIGGER_INVOKED } from "../src/inline";

const range = { start: { line: 2, character: 4 }, end: { line: 2, character: 9 } };

test("params carry uri, position and trigger kind", () => {
  assert.deepEqual(buildParams("file:///a.py", 3, 7, true), {
    textDocument: { uri: "file:///a.py" },
    position: { line: 3, character: 7 },
    context: { triggerKind: TRIGGER_AUTOMATIC },
  });
  const p = buildParams("file:///a.py", 0, 0, false, { range, text: "foo" });
  assert.equal(p.context.triggerKind, TRIGGER_INVOKED);
  assert.deepEqual(p.context.selectedCompletionInfo, { range, text: "foo" });
});

test("a list result, a bare array and null are normalised", () => {
  assert.deepEqual(toItems({ items: [{ insertText: "return x", range }] }), [{ insertText: "return x", snippet: false, range }]);
  assert.deepEqual(toItems([{ insertText: "a" }, { insertText: "b", filterText: "b" }]), [
    { insertText: "a", snippet: false },
    { insertText: "b", snippet: false, filterText: "b" },
  ]);
  assert.deepEqual(toItems(null), []);
  assert.deepEqual(toItems({ items: "nope" }), []);
});

test("snippet strings keep their value and are flagged", () => {
  assert.deepEqual(toItems([{ insertText: { kind: "snippet", value: "f(${1:x})" } }]), [{ insertText: "f(${1:x})", snippet: true }]);
});

test("empty or malformed items are dropped, bad ranges ignored", () => {
  assert.deepEqual(toItems([{ insertText: "" }, {}, null, 7, { insertText: "ok", range: { start: 1 } }]), [{ insertText: "ok", snippet: false }]);
});

test("capability detection", () => {
  assert.equal(serverSupportsInline({ inlineCompletionProvider: true }), true);
  assert.equal(serverSupportsInline({ inlineCompletionProvider: {} }), true);
  assert.equal(serverSupportsInline({ inlineCompletionProvider: false }), false);
  assert.equal(serverSupportsInline({}), false);
  assert.equal(serverSupportsInline(undefined), false);
});

test("the client capability is added without dropping others", () => {
  const caps: { textDocument?: object } = { textDocument: { hover: { contentFormat: ["markdown"] } } };
  fillInlineCapability(caps);
  assert.deepEqual(caps, { textDocument: { hover: { contentFormat: ["markdown"] }, inlineCompletion: { dynamicRegistration: false } } });
  const empty: { textDocument?: object } = {};
  fillInlineCapability(empty);
  assert.deepEqual(empty, { textDocument: { inlineCompletion: { dynamicRegistration: false } } });
});
