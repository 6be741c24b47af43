/**
 * How the extension starts the language server: `codet5p-lsp serve`, either as an executable on
 * PATH (or at a configured path) or as `<python> -m lsp_server serve` with a configured interpreter.
 *
 * Pure logic with injected file-system checks, so that the "missing server" message can be
 * unit-tested without VS Code.
 */
import * as path from "node:path";

/** The client-only settings that choose the server process. */
export interface ServerSettings {
  /** Executable name or path (default `codet5p-lsp`). */
  path: string;
  /** Python interpreter; when set it wins over `path` and runs `-m lsp_server serve`. */
  pythonPath: string;
  /** Extra command-line arguments appended after `serve`. */
  extraArgs: readonly string[];
}

/** What to spawn. */
export interface ServerCommand {
  command: string;
  args: string[];
}

/** The result of resolving the settings: a command or a message for the user. */
export type Resolved = { ok: true; server: ServerCommand } | { ok: false; message: string };

/** File-system look-ups, injected for tests. */
export interface Probe {
  /** True when `file` exists and is an executable file. */
  isExecutable(file: string): boolean;
  /** The PATH entries to search. */
  pathEntries: readonly string[];
  /** Executable suffixes to try (on Windows `.exe`, `.cmd`, ...; elsewhere just ""). */
  suffixes: readonly string[];
}

export const DEFAULT_EXECUTABLE = "codet5p-lsp";

/** Find `name` on PATH (or check it directly when it contains a path separator). */
export function which(name: string, probe: Probe): string | undefined {
  const hasSeparator = name.includes("/") || name.includes("\\");
  const candidates = hasSeparator ? [name] : probe.pathEntries.filter((p) => p.length > 0).map((dir) => path.join(dir, name));
  for (const base of candidates) {
    for (const suffix of probe.suffixes) {
      if (probe.isExecutable(base + suffix)) {
        return base + suffix;
      }
    }
  }
  return undefined;
}

/**
 * Turn the settings into a command, or explain exactly what is missing and which setting to change.
 * `expand` replaces `~` and `${workspaceFolder}` style variables before the look-up.
 */
export function resolveServerCommand(settings: ServerSettings, probe: Probe, expand: (s: string) => string = (s) => s): Resolved {
  const extra = settings.extraArgs.map(expand);
  const python = expand(settings.pythonPath.trim());
  if (python) {
    const found = which(python, probe);
    if (!found) {
      return {
        ok: false,
        message:
          `CodeT5+: the Python interpreter "${python}" (setting codet5p.server.pythonPath) was not found ` +
          `or is not executable. Point it at the interpreter of the environment where codet5p-lsp is installed ` +
          `(e.g. .venv/bin/python), or clear it to use the codet5p-lsp executable.`,
      };
    }
    return { ok: true, server: { command: found, args: ["-m", "lsp_server", "serve", ...extra] } };
  }
  const exe = expand(settings.path.trim()) || DEFAULT_EXECUTABLE;
  const found = which(exe, probe);
  if (!found) {
    return {
      ok: false,
      message:
        `CodeT5+: the language server "${exe}" was not found` +
        (exe.includes("/") || exe.includes("\\") ? "" : " on PATH") +
        `. Install it with \`pip install codet5p-lsp\` (or \`make install\` in a checkout), then set ` +
        `codet5p.server.path to the codet5p-lsp executable or codet5p.server.pythonPath to its Python interpreter.`,
    };
  }
  return { ok: true, server: { command: found, args: ["serve", ...extra] } };
}

/** Expand a leading `~` and `${workspaceFolder}` / `${userHome}` variables. */
export function expandVariables(value: string, vars: { home: string; workspaceFolder?: string }): string {
  let out = value;
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) {
    out = vars.home + out.slice(1);
  }
  out = out.split("${userHome}").join(vars.home);
  if (vars.workspaceFolder !== undefined) {
    out = out.split("${workspaceFolder}").join(vars.workspaceFolder);
  }
  return out;
}
