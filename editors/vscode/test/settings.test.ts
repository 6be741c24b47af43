/** Settings mapping: package.json settings -> the server's initializationOptions. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { buildServerOptions, configurationPayload, declaredKeys, isClientOnly, Manifest, serverKeys } from "../src/settings";

const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8")) as Manifest & {
  contributes: { configuration: { properties: Record<string, { default?: unknown; type?: unknown }> } };
};
const properties = manifest.contributes.configuration.properties;

/** The effective values VS Code would return with nothing set: each setting's default. */
function defaults(relative: string): unknown {
  return properties[`codet5p.${relative}`]?.default;
}

test("client-only settings are recognised", () => {
  assert.equal(isClientOnly("codet5p.server.path"), true);
  assert.equal(isClientOnly("codet5p.trace.server"), true);
  assert.equal(isClientOnly("codet5p.model.path"), false);
  assert.equal(isClientOnly("codet5p.completion.enabled"), false);
});

test("every declared setting has a default and a description", () => {
  for (const key of declaredKeys(manifest)) {
    const spec = properties[key] as { default?: unknown; description?: string; markdownDescription?: string };
    assert.ok("default" in spec, `${key} has no default`);
    assert.ok(spec.description || spec.markdownDescription, `${key} has no description`);
  }
});

test("client settings are not sent to the server", () => {
  const keys = serverKeys(manifest);
  assert.ok(keys.length >= 20, `only ${keys.length} server keys`);
  assert.ok(!keys.some((k) => k.startsWith("codet5p.server.") || k.startsWith("codet5p.trace.")));
  const options = buildServerOptions(keys, defaults);
  assert.equal("server" in options, false);
  assert.equal("trace" in options, false);
});

test("dotted keys become nested camelCase options with the defaults", () => {
  const options = buildServerOptions(serverKeys(manifest), defaults);
  assert.deepEqual(options.model, { path: null, threads: null, precision: "auto", device: "cpu" });
  assert.deepEqual(options.completion, {
    enabled: true, maxNewTokens: 48, deadlineMs: 1500, maxPrefixTokens: 640, maxSuffixTokens: 128,
    multiline: "auto", cacheSize: 128, reusePrompt: true, draftTokens: 6,
  });
  assert.deepEqual(Object.keys(options), ["model", "completion", "hover", "index", "search", "log"]);
  assert.deepEqual(options.index && (options.index as Record<string, unknown>).exclude, []);
});

test("user values override defaults and undefined values are left out", () => {
  const user: Record<string, unknown> = { "model.path": "/bundles/tiny", "completion.maxNewTokens": 12, "hover.enabled": undefined };
  const get = (k: string): unknown => (k in user ? user[k] : defaults(k));
  const options = buildServerOptions(serverKeys(manifest), get);
  assert.equal((options.model as Record<string, unknown>).path, "/bundles/tiny");
  assert.equal((options.completion as Record<string, unknown>).maxNewTokens, 12);
  assert.equal("enabled" in (options.hover as Record<string, unknown>), false);
  assert.equal((options.hover as Record<string, unknown>).budgetMs, 2000);
});

test("keys without the section prefix and deep nesting work", () => {
  const options = buildServerOptions(["a.b.c", "a.d", "codet5p.e"], (k) => k.length);
  assert.deepEqual(options, { a: { b: { c: 5 }, d: 3 }, e: 1 });
});

test("didChangeConfiguration payload wraps options under the section", () => {
  assert.deepEqual(configurationPayload({ hover: { enabled: false } }), { settings: { codet5p: { hover: { enabled: false } } } });
});

test("manifest: settings and commands are consistent", () => {
  const contributes = (manifest as unknown as { contributes: { commands: Array<{ command: string }> } }).contributes;
  const commands = contributes.commands.map((c) => c.command);
  assert.deepEqual(commands.sort(), ["codet5p.restartServer", "codet5p.searchCode", "codet5p.showOutput"]);
});
