/**
 * Contract check of the extension's own logic against the REAL language server, without VS Code.
 *
 * Driven by tests/editors/test_vscode_contract.py:
 *   node out/contract/serverContract.js <python> <workspace> <bundle> <cacheDir> <file> <typed> <query>
 * (`typed` is appended to `file` as if the user typed it; the completion is asked at its end).
 * It resolves the server command the way the extension does (`codet5p.server.pythonPath`), sends
 * the settings mapping of package.json's defaults (plus model path / cache dir) as
 * initializationOptions, declares inline completion like the extension, turns every
 * `codet5p/status` into the status-bar view, asks `textDocument/inlineCompletion` and
 * `workspace/symbol` and formats them with the extension's modules, then prints one JSON object.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { buildParams, fillInlineCapability, METHOD, serverSupportsInline, toItems } from "../src/inline";
import { toPickItems } from "../src/search";
import { resolveServerCommand } from "../src/serverCommand";
import { buildServerOptions, configurationPayload, Manifest, serverKeys } from "../src/settings";
import { describeStatus, StatusView } from "../src/status";

type Obj = Record<string, unknown>;

async function main(): Promise<void> {
  const [python, workspace, bundle, cacheDir, file, typed, query] = process.argv.slice(2);
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as Manifest & {
    contributes: { configuration: { properties: Record<string, { default?: unknown }> } };
  };
  const props = manifest.contributes.configuration.properties;
  const user: Record<string, unknown> = {
    "model.path": bundle,
    "model.threads": 1,
    "index.cacheDir": cacheDir,
    "search.rerank": false, // the test model's matching head has random weights
    "completion.deadlineMs": 20000, // a loaded CI machine must not make the suggestion "too late"
  };
  const options = buildServerOptions(serverKeys(manifest), (key) => (key in user ? user[key] : props[`codet5p.${key}`]?.default));

  const resolved = resolveServerCommand(
    { path: "codet5p-lsp", pythonPath: python, extraArgs: ["--log-level", "info"] },
    {
      isExecutable: (f) => {
        try {
          fs.accessSync(f, fs.constants.X_OK);
          return fs.statSync(f).isFile();
        } catch {
          return false;
        }
      },
      pathEntries: (process.env.PATH ?? "").split(path.delimiter),
      suffixes: [""],
    },
  );
  if (!resolved.ok) {
    throw new Error(resolved.message);
  }
  const child = spawn(resolved.server.command, resolved.server.args, { cwd: workspace, stdio: ["pipe", "pipe", "inherit"] });
  const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const views: StatusView[] = [];
  let indexed: (() => void) | undefined;
  const indexedPromise = new Promise<void>((resolve) => (indexed = resolve));
  let sawIndexing = false;
  connection.onNotification("codet5p/status", (params: Obj) => {
    views.push(describeStatus(params));
    const index = (params.index ?? {}) as Obj;
    const model = (params.model ?? {}) as Obj;
    sawIndexing = sawIndexing || index.state === "indexing";
    if (sawIndexing && index.state === "idle" && model.state !== "loading" && model.state !== "unloaded") {
      indexed?.();
    }
  });
  connection.onNotification("window/showMessage", (params: Obj) => views.push({ text: `message: ${String(params.message)}`, tooltip: "", severity: "warning" }));
  connection.onRequest("window/workDoneProgress/create", () => null);
  connection.onRequest("client/registerCapability", () => null);
  connection.onNotification("$/progress", () => undefined);
  connection.listen();

  const rootUri = pathToFileURL(workspace).href;
  const capabilities: { textDocument?: object } = { textDocument: { hover: { contentFormat: ["markdown"] } } };
  fillInlineCapability(capabilities);
  const init = await connection.sendRequest<{ capabilities: unknown }>("initialize", {
    processId: process.pid,
    rootUri,
    workspaceFolders: [{ uri: rootUri, name: path.basename(workspace) }],
    capabilities: { ...capabilities, window: { workDoneProgress: true } },
    initializationOptions: options,
  });
  await connection.sendNotification("initialized", {});
  const timeout = setTimeout(() => {
    console.error("timed out waiting for the index");
    process.exit(3);
  }, 90_000);
  await indexedPromise;
  clearTimeout(timeout);

  const uri = pathToFileURL(path.join(workspace, file)).href;
  const text = fs.readFileSync(path.join(workspace, file), "utf8") + typed;
  await connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "python", version: 1, text } });
  const lines = text.split("\n");
  const inline = await connection.sendRequest(METHOD, buildParams(uri, lines.length - 1, lines[lines.length - 1].length, true));
  const symbols = await connection.sendRequest("workspace/symbol", { query });
  // Settings change: the payload the extension sends when a setting changes.
  await connection.sendNotification("workspace/didChangeConfiguration", configurationPayload(options));
  const after = await connection.sendRequest("workspace/symbol", { query });
  await connection.sendRequest("shutdown");
  await connection.sendNotification("exit");
  connection.dispose();
  process.stdout.write(
    JSON.stringify({
      command: resolved.server,
      options,
      inlineAdvertised: serverSupportsInline(init.capabilities),
      inline: toItems(inline),
      picks: toPickItems(symbols, [workspace]),
      picksAfterConfigChange: toPickItems(after, [workspace]).map((p) => p.label),
      views,
    }) + "\n",
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
