/**
 * The CRDs in crds/ parsed once at build time into dist/crds.json: parsing 220 KB of YAML took
 * most of the configuration reader's start-up, and JSON parses in a fraction of it. The cache
 * holds each file's SHA-256, so an edited crds/ file is read as YAML again until the next build.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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
