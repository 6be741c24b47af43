/**
 * The "CodeT5+: Search code by description" command: a quick pick whose items come from
 * `workspace/symbol` as the user types (debounced, stale answers dropped), opening the chosen
 * symbol's location.
 */
import * as vscode from "vscode";
import type { BaseLanguageClient } from "vscode-languageclient";
import { emptyMessage, PickItem, PLACEHOLDER, toPickItems } from "./search";

type Item = vscode.QuickPickItem & { target?: PickItem };

const DEBOUNCE_MS = 250;

export async function searchByDescription(client: BaseLanguageClient, initialQuery = ""): Promise<void> {
  const pick = vscode.window.createQuickPick<Item>();
  pick.title = "CodeT5+: Search code by description";
  pick.placeholder = PLACEHOLDER;
  pick.matchOnDescription = false;
  pick.matchOnDetail = false;
  let generation = 0;
  let timer: NodeJS.Timeout | undefined;
  let source: vscode.CancellationTokenSource | undefined;
  const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);

  const run = async (query: string): Promise<void> => {
    const mine = ++generation;
    source?.cancel();
    source = new vscode.CancellationTokenSource();
    if (!query.trim()) {
      pick.items = [];
      pick.busy = false;
      return;
    }
    pick.busy = true;
    try {
      const result = await client.sendRequest("workspace/symbol", { query }, source.token);
      if (mine !== generation) {
        return;
      }
      const items = toPickItems(result, roots);
      // alwaysShow: the server already ranked by meaning; VS Code's fuzzy filter would hide hits.
      pick.items = items.length
        ? items.map((target) => ({ label: target.label, description: target.description, detail: target.detail, alwaysShow: true, target }))
        : [{ label: emptyMessage(query), alwaysShow: true }];
    } catch (error) {
      if (mine === generation) {
        pick.items = [{ label: `$(error) Search failed: ${String(error)}`, alwaysShow: true }];
      }
    } finally {
      if (mine === generation) {
        pick.busy = false;
      }
    }
  };

  pick.onDidChangeValue((value) => {
    if (timer) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => void run(value), DEBOUNCE_MS);
  });
  pick.onDidAccept(async () => {
    const target = pick.selectedItems[0]?.target;
    if (!target) {
      return;
    }
    pick.hide();
    const uri = client.protocol2CodeConverter.asUri(target.uri);
    const document = await vscode.workspace.openTextDocument(uri);
    const range = target.range ? client.protocol2CodeConverter.asRange(target.range) : undefined;
    await vscode.window.showTextDocument(document, range ? { selection: new vscode.Range(range.start, range.start) } : {});
  });
  pick.onDidHide(() => {
    if (timer) {
      clearTimeout(timer);
    }
    source?.cancel();
    pick.dispose();
  });
  pick.show();
  if (initialQuery) {
    pick.value = initialQuery;
    await run(initialQuery);
  }
}
