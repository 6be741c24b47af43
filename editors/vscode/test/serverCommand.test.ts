/** Server command resolution and the message shown when the server is missing. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { expandVariables, Probe, resolveServerCommand, which } from "../src/serverCommand";

function probe(files: string[], pathEntries = ["/usr/bin", "/opt/venv/bin"], suffixes = [""]): Probe {
  const set = new Set(files);
  return { isExecutable: (f) => set.has(f), pathEntries, suffixes };
}

test("default executable is found on PATH", () => {
  const r = resolveServerCommand({ path: "codet5p-lsp", pythonPath: "", extraArgs: [] }, probe(["/opt/venv/bin/codet5p-lsp"]));
  assert.deepEqual(r, { ok: true, server: { command: path.join("/opt/venv/bin", "codet5p-lsp"), args: ["serve"] } });
});

test("an empty path falls back to codet5p-lsp and extra args follow serve", () => {
  const r = resolveServerCommand({ path: " ", pythonPath: "", extraArgs: ["--log-level", "debug"] }, probe(["/usr/bin/codet5p-lsp"]));
  assert.ok(r.ok);
  assert.deepEqual(r.server.args, ["serve", "--log-level", "debug"]);
});

test("a python interpreter wins and runs the module", () => {
  const r = resolveServerCommand(
    { path: "codet5p-lsp", pythonPath: "~/proj/.venv/bin/python", extraArgs: [] },
    probe(["/home/u/proj/.venv/bin/python"]),
    (s) => expandVariables(s, { home: "/home/u" }),
  );
  assert.deepEqual(r, { ok: true, server: { command: "/home/u/proj/.venv/bin/python", args: ["-m", "lsp_server", "serve"] } });
});

test("a missing executable names the setting and how to install", () => {
  const r = resolveServerCommand({ path: "codet5p-lsp", pythonPath: "", extraArgs: [] }, probe([]));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(r.message, /"codet5p-lsp" was not found on PATH/);
    assert.match(r.message, /codet5p\.server\.path/);
    assert.match(r.message, /pip install codet5p-lsp/);
  }
});

test("a missing explicit path does not say 'on PATH'", () => {
  const r = resolveServerCommand({ path: "/nope/codet5p-lsp", pythonPath: "", extraArgs: [] }, probe([]));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(r.message, /"\/nope\/codet5p-lsp" was not found\./);
  }
});

test("a missing interpreter names codet5p.server.pythonPath", () => {
  const r = resolveServerCommand({ path: "codet5p-lsp", pythonPath: "/venv/bin/python", extraArgs: [] }, probe(["/usr/bin/codet5p-lsp"]));
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.match(r.message, /interpreter "\/venv\/bin\/python"/);
    assert.match(r.message, /codet5p\.server\.pythonPath/);
  }
});

test("windows suffixes are tried in order", () => {
  const p = probe(["C:/tools/codet5p-lsp.cmd"], ["C:/tools"], ["", ".exe", ".cmd"]);
  assert.equal(which("codet5p-lsp", p), path.join("C:/tools", "codet5p-lsp") + ".cmd");
});

test("variables expand", () => {
  assert.equal(expandVariables("${workspaceFolder}/.venv/bin/python", { home: "/h", workspaceFolder: "/w" }), "/w/.venv/bin/python");
  assert.equal(expandVariables("~", { home: "/h" }), "/h");
  assert.equal(expandVariables("${userHome}/x", { home: "/h" }), "/h/x");
  assert.equal(expandVariables("a~b", { home: "/h" }), "a~b");
});
