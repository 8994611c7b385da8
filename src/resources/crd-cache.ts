/**
 * The CRDs in crds/ parsed once at build time into dist/crds.json: parsing 220 KB of YAML took
 * most of the configuration reader's start-up, and JSON parses in a fraction of it. The cache
 * holds each file's SHA-256, so an edited crds/ file is read as YAML again until the next build.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

interface CacheFile {
  readonly files: Record<string, { sha256: string; documents: unknown[] }>;
}

function cachePath(crds: string): string {
  return path.join(path.dirname(crds), "dist", "crds.json");
}

export function crdFiles(crds: string): string[] {
  return readdirSync(crds)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Parsed documents of every crds/ file whose content the cache matches; undefined for a miss. */
export function readCrdCache(crds: string): Map<string, unknown[]> | undefined {
  const file = cachePath(crds);
  if (!existsSync(file)) return undefined;
  let cache: CacheFile;
  try {
    cache = JSON.parse(readFileSync(file, "utf8")) as CacheFile;
  } catch {
    return undefined;
  }
  const out = new Map<string, unknown[]>();
  for (const name of crdFiles(crds)) {
    const entry = cache.files?.[name];
    if (!entry || entry.sha256 !== digest(readFileSync(path.join(crds, name), "utf8")))
      return undefined;
    out.set(name, entry.documents);
  }
  return out;
}

/** Writes dist/crds.json from crds/, each file parsed by `parse` (the same reader as at run time). */
export function writeCrdCache(crds: string, parse: (file: string) => unknown[]): string {
  const files: CacheFile["files"] = {};
  for (const name of crdFiles(crds)) {
    const full = path.join(crds, name);
    files[name] = { sha256: digest(readFileSync(full, "utf8")), documents: parse(full) };
  }
  const target = cachePath(crds);
  writeFileSync(target, JSON.stringify({ files }));
  return target;
}

/**
 * Each CRD schema's Ajv validator, compiled at build time into dist/crd-validators (standalone
 * code): compiling at start-up cost the configuration worker most of its validation time
 * (issue 22). index.json, written last, maps `apiVersion/kind` to the files.
 */
function validatorsPath(crds: string): string {
  return path.join(path.dirname(crds), "dist", "crd-validators");
}

/** Absolute paths of the compiled validators by `apiVersion/kind`; undefined when none were built. */
export function readValidatorIndex(crds: string): Map<string, string> | undefined {
  const dir = validatorsPath(crds);
  let index: Record<string, string>;
  try {
    index = JSON.parse(readFileSync(path.join(dir, "index.json"), "utf8")) as Record<
      string,
      string
    >;
  } catch {
    return undefined;
  }
  return new Map(Object.entries(index).map(([key, file]) => [key, path.join(dir, file)]));
}

/**
 * Writes dist/crd-validators from `code` (standalone Ajv modules that read a `formats` variable),
 * each wrapped as `module.exports = (formats, require) => validate`: the caller's require finds
 * ajv's runtime helpers wherever dist/ is. Call after writeCrdCache.
 */
export function writeValidators(crds: string, code: ReadonlyMap<string, string>): string {
  const dir = validatorsPath(crds);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const index: Record<string, string> = {};
  for (const [key, source] of code) {
    const file = `${key.replace(/[^A-Za-z0-9]+/g, "_")}.cjs`;
    const body = `"use strict";\nmodule.exports = function (formats, require) {\nconst module = { exports: {} };\n${source}\nreturn module.exports;\n};\n`;
    writeFileSync(path.join(dir, file), body);
    index[key] = file;
  }
  writeFileSync(path.join(dir, "index.json"), JSON.stringify(index));
  return dir;
}
