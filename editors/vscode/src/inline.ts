/**
 * Inline completion (ghost text) over LSP 3.18 `textDocument/inlineCompletion`.
 *
 * vscode-languageclient 9 ships this feature only as a proposal, so the extension registers its
 * own provider (inlineProvider.ts) when the server advertises `inlineCompletionProvider`. This
 * module holds the protocol side without `vscode`: the request params and the normalisation of
 * the result (`InlineCompletionList | InlineCompletionItem[] | null`) into plain items.
 */
import type { Range } from "./search";

export const METHOD = "textDocument/inlineCompletion";

/** LSP `InlineCompletionTriggerKind`: 1 = invoked explicitly, 2 = automatically while typing. */
export const TRIGGER_INVOKED = 1;
export const TRIGGER_AUTOMATIC = 2;

/** The request params. */
export interface InlineCompletionParams {
  textDocument: { uri: string };
  position: { line: number; character: number };
  context: {
    triggerKind: number;
    selectedCompletionInfo?: { range: Range; text: string };
  };
}

/** One suggestion, normalised (`insertText` is plain text; snippet values are kept as `snippet`). */
export interface InlineItem {
  insertText: string;
  snippet: boolean;
  range?: Range;
  filterText?: string;
}

export function buildParams(
  uri: string,
  line: number,
  character: number,
  automatic: boolean,
  selected?: { range: Range; text: string },
): InlineCompletionParams {
  const params: InlineCompletionParams = {
    textDocument: { uri },
    position: { line, character },
    context: { triggerKind: automatic ? TRIGGER_AUTOMATIC : TRIGGER_INVOKED },
  };
  if (selected) {
    params.context.selectedCompletionInfo = selected;
  }
  return params;
}

function isRange(value: unknown): value is Range {
  const r = value as Range | undefined;
  return (
    !!r && typeof r === "object" && !!r.start && !!r.end &&
    typeof r.start.line === "number" && typeof r.start.character === "number" &&
    typeof r.end.line === "number" && typeof r.end.character === "number"
  );
}

/** Normalise one raw item; undefined when it carries no text. */
export function toItem(raw: unknown): InlineItem | undefined {
  if (raw === null || typeof raw !== "object") {
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  let text: string | undefined;
  let snippet = false;
  if (typeof r.insertText === "string") {
    text = r.insertText;
  } else if (r.insertText && typeof r.insertText === "object") {
    const value = (r.insertText as Record<string, unknown>).value;
    if (typeof value === "string") {
      text = value;
      snippet = true;
    }
  }
  if (text === undefined || text.length === 0) {
    return undefined;
  }
  const item: InlineItem = { insertText: text, snippet };
  if (isRange(r.range)) {
    item.range = r.range;
  }
  if (typeof r.filterText === "string") {
    item.filterText = r.filterText;
  }
  return item;
}

/** Normalise a whole result: a list object, a bare array, or null. */
export function toItems(result: unknown): InlineItem[] {
  let raw: unknown[] = [];
  if (Array.isArray(result)) {
    raw = result;
  } else if (result && typeof result === "object" && Array.isArray((result as { items?: unknown }).items)) {
    raw = (result as { items: unknown[] }).items;
  }
  const items: InlineItem[] = [];
  for (const entry of raw) {
    const item = toItem(entry);
    if (item) {
      items.push(item);
    }
  }
  return items;
}

/** True when the server's capabilities advertise inline completion. */
export function serverSupportsInline(capabilities: unknown): boolean {
  if (!capabilities || typeof capabilities !== "object") {
    return false;
  }
  const value = (capabilities as Record<string, unknown>).inlineCompletionProvider;
  return value === true || (!!value && typeof value === "object");
}

/**
 * Declare inline-completion support in the client capabilities (vscode-languageclient 9 only does
 * so for its proposed feature), so that the server sends ghost text instead of duplicating it as
 * `textDocument/completion` items.
 */
export function fillInlineCapability(capabilities: { textDocument?: object }): void {
  const textDocument = (capabilities.textDocument ?? {}) as Record<string, unknown>;
  textDocument.inlineCompletion = { dynamicRegistration: false };
  capabilities.textDocument = textDocument;
}
