/**
 * "Search code by description": formats `workspace/symbol` results for a quick pick.
 *
 * The server answers natural-language queries through the standard `workspace/symbol` request
 * (ranked best first); this module turns each `SymbolInformation` / `WorkspaceSymbol` into a pick
 * item with a codicon for its kind, the workspace-relative file and line, and its container.
 * No `vscode` import: unit-tested with plain Node.
 */
import { fileURLToPath } from "node:url";
import * as path from "node:path";

/** LSP `Position` / `Range` / `Location` (0-based lines and characters). */
export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}

/** `SymbolInformation` or `WorkspaceSymbol` (whose location may lack a range). */
export interface LspSymbol {
  name: string;
  kind: number;
  containerName?: string;
  location: { uri: string; range?: Range };
  data?: unknown;
}

/** One quick-pick row plus where to go when it is accepted. */
export interface PickItem {
  label: string;
  description: string;
  detail?: string;
  uri: string;
  range?: Range;
}

/** LSP SymbolKind -> codicon name (https://microsoft.github.io/vscode-codicons). */
const KIND_ICONS: Record<number, string> = {
  1: "symbol-file", 2: "symbol-module", 3: "symbol-namespace", 4: "symbol-package", 5: "symbol-class",
  6: "symbol-method", 7: "symbol-property", 8: "symbol-field", 9: "symbol-constructor", 10: "symbol-enum",
  11: "symbol-interface", 12: "symbol-function", 13: "symbol-variable", 14: "symbol-constant",
  15: "symbol-string", 16: "symbol-number", 17: "symbol-boolean", 18: "symbol-array", 19: "symbol-object",
  20: "symbol-key", 21: "symbol-null", 22: "symbol-enum-member", 23: "symbol-struct", 24: "symbol-event",
  25: "symbol-operator", 26: "symbol-type-parameter",
};

/** The codicon for a SymbolKind (a generic one for unknown kinds). */
export function kindIcon(kind: number): string {
  return `$(${KIND_ICONS[kind] ?? "symbol-misc"})`;
}

/** A file URI as a path relative to the workspace folder that contains it (else the full path). */
export function displayPath(uri: string, roots: readonly string[]): string {
  let file: string;
  try {
    file = uri.startsWith("file:") ? fileURLToPath(uri) : uri;
  } catch {
    return uri;
  }
  let best: string | undefined;
  for (const root of roots) {
    const rel = path.relative(root, file);
    if (rel && !rel.startsWith("..") && !path.isAbsolute(rel) && (best === undefined || rel.length < best.length)) {
      best = rel;
    }
  }
  return (best ?? file).split(path.sep).join("/");
}

/** True when `value` looks like an LSP symbol (malformed entries are dropped, not shown). */
export function isSymbol(value: unknown): value is LspSymbol {
  if (value === null || typeof value !== "object") {
    return false;
  }
  const v = value as Record<string, unknown>;
  const loc = v.location as Record<string, unknown> | undefined;
  return typeof v.name === "string" && typeof v.kind === "number" && !!loc && typeof loc.uri === "string";
}

/** Quick-pick items for a `workspace/symbol` result, in the server's (ranked) order. */
export function toPickItems(result: unknown, roots: readonly string[]): PickItem[] {
  if (!Array.isArray(result)) {
    return [];
  }
  return result.filter(isSymbol).map((sym) => {
    const where = displayPath(sym.location.uri, roots);
    const line = sym.location.range ? `:${sym.location.range.start.line + 1}` : "";
    const item: PickItem = {
      label: `${kindIcon(sym.kind)} ${sym.name}`,
      description: `${where}${line}`,
      uri: sym.location.uri,
    };
    if (sym.containerName) {
      item.detail = sym.containerName;
    }
    if (sym.location.range) {
      item.range = sym.location.range;
    }
    return item;
  });
}

/** The placeholder text while the user types, and the message when nothing matched. */
export const PLACEHOLDER = "Describe the code you are looking for, e.g. \"parse a config file\"";
export function emptyMessage(query: string): string {
  return query.trim() ? `No code found for "${query.trim()}"` : PLACEHOLDER;
}
