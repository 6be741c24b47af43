/** Quick-pick formatting of `workspace/symbol` results. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import * as path from "node:path";
import { displayPath, emptyMessage, kindIcon, toPickItems } from "../src/search";

const root = path.resolve("/srv/project");
const uri = (rel: string): string => pathToFileURL(path.join(root, rel)).href;
const range = (line: number) => ({ start: { line, character: 4 }, end: { line: line + 3, character: 0 } });

test("symbols become ranked pick items with icon, relative path, line and container", () => {
  const result = [
    { name: "parse_config", kind: 12, location: { uri: uri("src/config.py"), range: range(9) }, containerName: "config" },
    { name: "Loader.load", kind: 6, location: { uri: uri("src/io/loader.py"), range: range(0) } },
  ];
  const items = toPickItems(result, [root]);
  assert.deepEqual(items.map((i) => i.label), ["$(symbol-function) parse_config", "$(symbol-method) Loader.load"]);
  assert.deepEqual(items.map((i) => i.description), ["src/config.py:10", "src/io/loader.py:1"]);
  assert.equal(items[0].detail, "config");
  assert.equal(items[1].detail, undefined);
  assert.deepEqual(items[0].range, range(9));
  assert.equal(items[0].uri, uri("src/config.py"));
});

test("WorkspaceSymbol without a range has no line", () => {
  const items = toPickItems([{ name: "Thing", kind: 5, location: { uri: uri("a.ts") } }], [root]);
  assert.equal(items[0].description, "a.ts");
  assert.equal(items[0].range, undefined);
});

test("malformed entries and non-arrays are dropped", () => {
  assert.deepEqual(toPickItems(null, [root]), []);
  assert.deepEqual(toPickItems({ name: "x" }, [root]), []);
  const items = toPickItems([{ name: 3 }, { name: "ok", kind: 13, location: { uri: uri("b.go"), range: range(1) } }, "junk"], [root]);
  assert.equal(items.length, 1);
  assert.equal(items[0].label, "$(symbol-variable) ok");
});

test("paths outside every root stay absolute; the closest root wins", () => {
  const outside = pathToFileURL(path.resolve("/elsewhere/x.py")).href;
  assert.equal(displayPath(outside, [root]), path.resolve("/elsewhere/x.py").split(path.sep).join("/"));
  const nested = path.join(root, "sub");
  assert.equal(displayPath(uri("sub/y.py"), [root, nested]), "y.py");
  assert.equal(displayPath("untitled:Untitled-1", [root]), "untitled:Untitled-1");
});

test("unknown kinds get a generic icon", () => {
  assert.equal(kindIcon(99), "$(symbol-misc)");
  assert.equal(kindIcon(5), "$(symbol-class)");
});

test("empty result message", () => {
  assert.equal(emptyMessage("  read csv "), 'No code found for "read csv"');
  assert.match(emptyMessage(""), /Describe the code/);
});
