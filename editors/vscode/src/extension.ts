/**
 * CodeT5+ for VS Code: starts `codet5p-lsp serve` with vscode-languageclient and wires up what the
 * client library does not do by itself: ghost-text inline completion, the "Search code by
 * description" quick pick, a status-bar item fed by `codet5p/status`, and settings forwarding.
 * Hover and the "Generate docstring" code action come through the client unchanged.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from "vscode-languageclient/node";
import { fillInlineCapability, serverSupportsInline } from "./inline";
import { inlineCompletionProvider } from "./inlineProvider";
import { searchByDescription } from "./searchCommand";
import { Probe, resolveServerCommand, expandVariables } from "./serverCommand";
import { buildServerOptions, configurationPayload, Manifest, SECTION, serverKeys } from "./settings";
import { describeStatus, failedView, startingView, StatusView } from "./status";

/** Languages the server indexes and completes (its `lsp_server/languages.py`). */
const LANGUAGES = ["python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "java", "rust"];

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem | undefined;
let inlineRegistration: vscode.Disposable | undefined;

function showStatus(view: StatusView): void {
  if (!statusItem) {
    return;
  }
  statusItem.text = view.text;
  statusItem.tooltip = view.tooltip;
  statusItem.backgroundColor =
    view.severity === "error"
      ? new vscode.ThemeColor("statusBarItem.errorBackground")
      : view.severity === "warning"
        ? new vscode.ThemeColor("statusBarItem.warningBackground")
        : undefined;
  statusItem.show();
}

function nodeProbe(): Probe {
  const windows = process.platform === "win32";
  return {
    isExecutable(file) {
      try {
        const stat = fs.statSync(file);
        if (!stat.isFile()) {
          return false;
        }
        if (!windows) {
          fs.accessSync(file, fs.constants.X_OK);
        }
        return true;
      } catch {
        return false;
      }
    },
    pathEntries: (process.env.PATH ?? "").split(path.delimiter),
    suffixes: windows ? ["", ".exe", ".cmd", ".bat"] : [""],
  };
}

function serverOptionsFromSettings(manifest: Manifest) {
  const config = vscode.workspace.getConfiguration(SECTION);
  return buildServerOptions(serverKeys(manifest), (key) => config.get(key));
}

async function start(context: vscode.ExtensionContext, output: vscode.OutputChannel): Promise<void> {
  const manifest = context.extension.packageJSON as Manifest;
  const config = vscode.workspace.getConfiguration(SECTION);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const resolved = resolveServerCommand(
    {
      path: config.get<string>("server.path", "codet5p-lsp"),
      pythonPath: config.get<string>("server.pythonPath", ""),
      extraArgs: config.get<string[]>("server.extraArgs", []),
    },
    nodeProbe(),
    (s) => expandVariables(s, { home: os.homedir(), workspaceFolder: folder }),
  );
  if (!resolved.ok) {
    showStatus(failedView(resolved.message));
    output.appendLine(resolved.message);
    const choice = await vscode.window.showErrorMessage(resolved.message, "Open Settings");
    if (choice === "Open Settings") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "codet5p.server");
    }
    return;
  }
  const run = { command: resolved.server.command, args: resolved.server.args, transport: TransportKind.stdio };
  const serverOptions: ServerOptions = { run, debug: run };
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.flatMap((language) => [
      { scheme: "file", language },
      { scheme: "untitled", language },
    ]),
    initializationOptions: serverOptionsFromSettings(manifest),
    outputChannel: output,
  };
  const lc = new LanguageClient("codet5p", "CodeT5+", serverOptions, clientOptions);
  lc.registerFeature({
    fillClientCapabilities: (capabilities) => fillInlineCapability(capabilities),
    initialize: () => undefined,
    getState: () => ({ kind: "static" }),
    clear: () => undefined,
  });
  client = lc;
  showStatus(startingView());
  lc.onNotification("codet5p/status", (params: unknown) => showStatus(describeStatus(params)));
  try {
    await lc.start();
  } catch (error) {
    const message = `CodeT5+: the language server failed to start (${resolved.server.command}): ${String(error)}`;
    showStatus(failedView(message));
    void vscode.window.showErrorMessage(message);
    return;
  }
  if (serverSupportsInline(lc.initializeResult?.capabilities)) {
    const enabled = () => vscode.workspace.getConfiguration(SECTION).get<boolean>("completion.enabled", true);
    inlineRegistration = vscode.languages.registerInlineCompletionItemProvider(
      clientOptions.documentSelector as vscode.DocumentSelector,
      inlineCompletionProvider(lc, enabled),
    );
  }
}

async function stop(): Promise<void> {
  inlineRegistration?.dispose();
  inlineRegistration = undefined;
  const lc = client;
  client = undefined;
  if (lc) {
    await lc.stop().catch(() => undefined);
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel("CodeT5+");
  statusItem = vscode.window.createStatusBarItem("codet5p.status", vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "CodeT5+";
  statusItem.command = "codet5p.showOutput";
  context.subscriptions.push(output, statusItem);

  context.subscriptions.push(
    vscode.commands.registerCommand("codet5p.searchCode", async (query?: string) => {
      if (!client?.isRunning()) {
        void vscode.window.showWarningMessage("CodeT5+: the language server is not running.");
        return;
      }
      await searchByDescription(client, typeof query === "string" ? query : "");
    }),
    vscode.commands.registerCommand("codet5p.restartServer", async () => {
      await stop();
      await start(context, output);
    }),
    vscode.commands.registerCommand("codet5p.showOutput", () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration(SECTION)) {
        return;
      }
      if (event.affectsConfiguration(`${SECTION}.server`)) {
        await stop();
        await start(context, output);
        return;
      }
      if (client?.isRunning()) {
        const manifest = context.extension.packageJSON as Manifest;
        await client.sendNotification("workspace/didChangeConfiguration", configurationPayload(serverOptionsFromSettings(manifest)));
      }
    }),
  );
  await start(context, output);
}

export async function deactivate(): Promise<void> {
  await stop();
}
