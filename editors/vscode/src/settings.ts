/**
 * Settings mapping: turns the extension's `codet5p.*` settings into the server's options object.
 *
 * The settings are declared once, in package.json `contributes.configuration`; every key there
 * that is not client-only becomes a nested field of `initializationOptions` (and of the
 * `workspace/didChangeConfiguration` payload), e.g. `codet5p.model.path` -> `{ model: { path } }`.
 * This module does not import `vscode`, so it is unit-tested with plain Node.
 */

/** The settings section every key lives under. */
export const SECTION = "codet5p";

/** Key prefixes (after `codet5p.`) that configure the client itself and are not sent to the server. */
export const CLIENT_ONLY_PREFIXES: readonly string[] = ["server.", "trace.", "client."];

/** A JSON value as the server receives it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A plain nested options object. */
export type Options = { [key: string]: Json };

/** The shape of the part of package.json this module reads. */
export interface Manifest {
  contributes?: {
    configuration?: { properties?: Record<string, unknown> } | Array<{ properties?: Record<string, unknown> }>;
  };
}

/** Every `codet5p.*` setting key declared in the manifest, in declaration order. */
export function declaredKeys(manifest: Manifest): string[] {
  const conf = manifest.contributes?.configuration;
  const blocks = Array.isArray(conf) ? conf : conf ? [conf] : [];
  const keys: string[] = [];
  for (const block of blocks) {
    for (const key of Object.keys(block.properties ?? {})) {
      if (key.startsWith(SECTION + ".")) {
        keys.push(key);
      }
    }
  }
  return keys;
}

/** True when `key` (full, e.g. `codet5p.server.path`) configures only the client. */
export function isClientOnly(key: string): boolean {
  const rest = key.slice(SECTION.length + 1);
  return CLIENT_ONLY_PREFIXES.some((prefix) => rest.startsWith(prefix));
}

/** The keys that are sent to the server (declared keys minus client-only ones). */
export function serverKeys(manifest: Manifest): string[] {
  return declaredKeys(manifest).filter((key) => !isClientOnly(key));
}

/**
 * Build the nested options object from the server keys and a getter for their values.
 *
 * `get(key)` receives the key relative to the section (`model.path`) and returns the effective
 * value (user, workspace or default). Values that are `undefined` are left out, so the server
 * applies its own default.
 */
export function buildServerOptions(keys: readonly string[], get: (relativeKey: string) => unknown): Options {
  const root: Options = {};
  for (const key of keys) {
    const relative = key.startsWith(SECTION + ".") ? key.slice(SECTION.length + 1) : key;
    const value = get(relative);
    if (value === undefined) {
      continue;
    }
    const parts = relative.split(".");
    let node: Options = root;
    for (const part of parts.slice(0, -1)) {
      const child = node[part];
      if (child === undefined || child === null || typeof child !== "object" || Array.isArray(child)) {
        node[part] = {};
      }
      node = node[part] as Options;
    }
    node[parts[parts.length - 1]] = value as Json;
  }
  return root;
}

/** The `workspace/didChangeConfiguration` payload: the options under the section name. */
export function configurationPayload(options: Options): { settings: Options } {
  return { settings: { [SECTION]: options } };
}
