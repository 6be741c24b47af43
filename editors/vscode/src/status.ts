/**
 * Status handling: turns the server's `codet5p/status` notifications into what the status-bar
 * item shows (text with a codicon, tooltip, severity).
 *
 * The server sends (lsp_server/engine.py `Engine.status`):
 * `{model: {state, message, path, embedding, matching, decoder},
 *   index: {state, files, symbols, embeddings}, slow, completionP50Ms}`
 * with model states `unloaded | loading | ready | missing | error` and index states
 * `idle | indexing`. Params are read defensively: malformed ones never throw.
 */

/** How the item is coloured: `error`/`warning` use the theme's status-bar error/warning colours. */
export type Severity = "ok" | "busy" | "warning" | "error";

/** What the status-bar item shows. */
export interface StatusView {
  text: string;
  tooltip: string;
  severity: Severity;
}

export const NAME = "CodeT5+";

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Obj) : {};
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** The status-bar view for one notification; the most severe condition decides the icon. */
export function describeStatus(raw: unknown): StatusView {
  const params = obj(raw);
  const model = obj(params.model);
  const index = obj(params.index);
  const modelState = str(model.state).toLowerCase();
  const indexState = str(index.state).toLowerCase();
  const slow = params.slow === true;
  const p50 = num(params.completionP50Ms);

  let icon = "$(check)";
  let label = "";
  let severity: Severity = "ok";
  if (modelState === "error") {
    [icon, label, severity] = ["$(error)", "model error", "error"];
  } else if (modelState === "missing") {
    [icon, label, severity] = ["$(warning)", "no model", "warning"];
  } else if (modelState === "loading" || modelState === "unloaded") {
    [icon, label, severity] = ["$(loading~spin)", "loading model", "busy"];
  } else if (indexState === "indexing") {
    [icon, label, severity] = ["$(sync~spin)", "indexing", "busy"];
  } else if (slow) {
    [icon, label, severity] = ["$(warning)", "slow", "warning"];
  } else if (modelState !== "ready") {
    [icon, label, severity] = ["$(info)", modelState || "unknown", "ok"];
  }

  const lines = [`${NAME}: ${label || "ready"}`];
  const message = str(model.message);
  if (message) {
    lines.push(message);
  }
  if (modelState === "missing" || modelState === "error") {
    lines.push("Completions and summaries are off; search is lexical only. Set codet5p.model.path.");
  }
  const files = num(index.files);
  if (files !== undefined) {
    lines.push(`index: ${files} files, ${num(index.symbols) ?? 0} symbols, ${num(index.embeddings) ?? 0} embeddings`);
  }
  if (p50 !== undefined) {
    lines.push(`completion p50: ${Math.round(p50)} ms${slow ? " (slower than the deadline allows)" : ""}`);
  }
  const text = label ? `${icon} ${NAME} ${label}` : `${icon} ${NAME}`;
  return { text, tooltip: lines.join("\n"), severity };
}

/** The view shown before the server has said anything, and when it cannot start. */
export function startingView(): StatusView {
  return { text: `$(loading~spin) ${NAME} starting`, tooltip: `${NAME}: starting the language server`, severity: "busy" };
}

export function failedView(message: string): StatusView {
  return { text: `$(error) ${NAME}`, tooltip: `${NAME}: not running\n${message}`, severity: "error" };
}
