/**
 * The VS Code side of inline completion: an `InlineCompletionItemProvider` that sends
 * `textDocument/inlineCompletion` through the language client and shows the answer as ghost text.
 * VS Code itself debounces and cancels stale requests (the token is forwarded to the server).
 */
import * as vscode from "vscode";
import type { BaseLanguageClient } from "vscode-languageclient";
import { buildParams, METHOD, toItems } from "./inline";

export function inlineCompletionProvider(client: BaseLanguageClient, enabled: () => boolean): vscode.InlineCompletionItemProvider {
  return {
    async provideInlineCompletionItems(document, position, context, token) {
      if (!enabled() || token.isCancellationRequested) {
        return undefined;
      }
      const selected = context.selectedCompletionInfo
        ? {
            range: client.code2ProtocolConverter.asRange(context.selectedCompletionInfo.range),
            text: context.selectedCompletionInfo.text,
          }
        : undefined;
      const params = buildParams(
        client.code2ProtocolConverter.asUri(document.uri),
        position.line,
        position.character,
        context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic,
        selected,
      );
      let result: unknown;
      try {
        result = await client.sendRequest(METHOD, params, token);
      } catch (error) {
        if (!token.isCancellationRequested) {
          client.warn(`inline completion failed: ${String(error)}`);
        }
        return undefined;
      }
      if (token.isCancellationRequested) {
        return undefined;
      }
      return toItems(result).map((item) => {
        const insert = item.snippet ? new vscode.SnippetString(item.insertText) : item.insertText;
        const range = item.range ? client.protocol2CodeConverter.asRange(item.range) : undefined;
        const out = new vscode.InlineCompletionItem(insert, range);
        if (item.filterText !== undefined) {
          out.filterText = item.filterText;
        }
        return out;
      });
    },
  };
}
