/**
 * Reads manifests from files and directories: every `.yaml`, `.yml` and `.json` file below each
 * path (recursively, in sorted order; dotfiles such as editor lock files skipped), every document
 * of a multi-document YAML file, and the items of a `kind: List`. Each resource remembers the
 * file and line it came from, and the line of each of its fields, so issues can point at them.
 *
 * Only problems that keep a document from being a resource are reported here (syntax, missing
 * apiVersion/kind/name, unknown top-level fields); validateResources checks the rest.
 */
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import {
  Composer,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  Parser,
  type YAMLMap,
} from "yaml";
import { CORE_KINDS, isCoreKind } from "./core-kinds.js";
import { namespaceOrDefault } from "./defaults.js";
import { deepFreeze } from "./freeze.js";
import { isInertKind } from "./inert-kinds.js";
import { childPath, nearestLine, type ValidationIssue } from "./issue.js";
import { isManifestFile } from "./manifest-files.js";
import type { ObjectMeta, Resource } from "./types.js";

export { isManifestFile, MANIFEST_EXTENSIONS } from "./manifest-files.js";

export interface LoadResult {
  readonly resources: Resource[];
  readonly issues: ValidationIssue[];
  /** The manifest files read, in order. */
  readonly files: string[];
}

export async function loadManifests(paths: readonly string[]): Promise<LoadResult> {
  const { files, issues } = await listManifestFiles(paths);
  const resources: Resource[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      issues.push(pathIssue(file, describeFsError(error)));
      continue;
    }
    const parsed = parseManifests(text, file);
    resources.push(...parsed.resources);
    issues.push(...parsed.issues);
  }
  return { resources, issues, files };
}

/** A path named explicitly is read whatever its extension; directories are searched. */
async function listManifestFiles(
  paths: readonly string[],
): Promise<{ files: string[]; issues: ValidationIssue[] }> {
  const files: string[] = [];
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  const add = async (file: string) => {
    const real = await realpath(file).catch(() => file);
    if (seen.has(real)) return;
    seen.add(real);
    files.push(file);
  };
  const walk = async (dir: string, visited: Set<string>): Promise<void> => {
    const real = await realpath(dir);
    if (visited.has(real)) return;
    visited.add(real);
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const full = path.join(dir, entry.name);
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await isDirectory(full)));
      if (isDir) await walk(full, visited);
      else if (isManifestFile(entry.name)) await add(full);
    }
  };
  for (const given of paths) {
    try {
      const info = await stat(given);
      if (info.isDirectory()) await walk(given, new Set());
      else await add(given);
    } catch (error) {
      issues.push(pathIssue(given, describeFsError(error)));
    }
  }
  return { files, issues };
}

/** Parses one file's text; `file` is only used to label resources and issues. */
export function parseManifests(
  text: string,
  file: string,
): { resources: Resource[]; issues: ValidationIssue[] } {
  const lineCounter = new LineCounter();
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const resources: Resource[] = [];
  const issues: ValidationIssue[] = [];
  // Documents are composed one at a time (what parseAllDocuments does, without keeping every
  // document's syntax tree alive at once), so a large file never holds all its trees in memory.
  const composer = new Composer({ merge: true, prettyErrors: false });
  const documents = composer.compose(new Parser(lineCounter.addNewLine).parse(text));
  for (const document of documents) {
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        issues.push({ ...pathIssue(file, error.message), line: lineAt(error.pos[0]) });
      }
      continue;
    }
    const node = document.contents as Node | null;
    if (!node) continue;
    const value: unknown = withoutNulls(document.toJS({ maxAliasCount: 1_000 }));
    if (value === null || value === undefined) continue;
    const read = (item: unknown, itemNode: Node | undefined) => {
      const resource = toResource(item, itemNode, file, lineAt, issues);
      if (resource) resources.push(resource);
    };
    const items = isPlainObject(value) && value["kind"] === "List" ? value["items"] : undefined;
    if (Array.isArray(items)) {
      const itemNodes = isMap(node) ? (node as YAMLMap).get("items", true) : undefined;
      items.forEach((item, index) => {
        read(item, isSeq(itemNodes) ? (itemNodes.items[index] as Node | undefined) : undefined);
      });
    } else {
      read(value, node);
    }
  }
  return { resources, issues };
}

const ENVELOPE = ["apiVersion", "kind", "metadata", "status"];

function toResource(
  value: unknown,
  node: Node | undefined,
  file: string,
  lineAt: (offset: number) => number,
  issues: ValidationIssue[],
): Resource | undefined {
  const fieldLines = new Map<string, number>();
  if (node) collectLines(node, "", fieldLines, lineAt);
  const line = node?.range ? lineAt(node.range[0]) : 1;
  const meta = isPlainObject(value) && isPlainObject(value["metadata"]) ? value["metadata"] : {};
  const identity = {
    kind: isPlainObject(value) && typeof value["kind"] === "string" ? value["kind"] : "",
    namespace: typeof meta["namespace"] === "string" ? namespaceOrDefault(meta["namespace"]) : "",
    name: typeof meta["name"] === "string" ? meta["name"] : "",
  };
  const report = (at: string, message: string) =>
    issues.push({ file, line: nearestLine(fieldLines, at, line), ...identity, path: at, message });

  if (!isPlainObject(value)) {
    report("", "a manifest must be a mapping with apiVersion, kind and metadata");
    return undefined;
  }
  let readable = true;
  for (const field of ["apiVersion", "kind"]) {
    const given = value[field];
    if (typeof given !== "string" || given === "") {
      report(
        field,
        given === undefined ? "required field is missing" : "must be a non-empty string",
      );
      readable = false;
    }
  }
  if (value["metadata"] !== undefined && !isPlainObject(value["metadata"])) {
    report("metadata", "must be a mapping");
    readable = false;
  } else if (typeof meta["name"] !== "string" || meta["name"] === "") {
    report(
      "metadata.name",
      meta["name"] === undefined ? "required field is missing" : "must be a non-empty string",
    );
    readable = false;
  }
  if (meta["namespace"] !== undefined && typeof meta["namespace"] !== "string") {
    report("metadata.namespace", "must be a string");
    readable = false;
  }
  if (!readable) return undefined;

  const apiVersion = value["apiVersion"] as string;
  const kind = value["kind"] as string;
  const content = isCoreKind(apiVersion, kind) ? CORE_KINDS[kind]!.fields : ["spec"];
  // Inert kinds (a Deployment, a Role) are never read, so their other fields are not checked.
  for (const key of isInertKind(apiVersion, kind) ? [] : Object.keys(value)) {
    if (!ENVELOPE.includes(key) && !content.includes(key)) report(key, "unknown field");
  }
  const metadata: Record<string, unknown> = {
    name: meta["name"],
    namespace: namespaceOrDefault(meta["namespace"] as string | undefined),
  };
  for (const field of ["labels", "annotations"]) {
    const map = meta[field];
    if (map === undefined || map === null) continue;
    const bad = !isPlainObject(map)
      ? [childPath("metadata", field)]
      : Object.entries(map)
          .filter(([, v]) => typeof v !== "string")
          .map(([k]) => childPath(childPath("metadata", field), k));
    for (const at of bad) report(at, 'must be a string map (quote values like "true" and "1")');
    if (bad.length === 0) metadata[field] = map;
  }
  // Kept for status.observedGeneration (CONTRACT §11); a Kubernetes export carries it.
  const generation = meta["generation"];
  if (typeof generation === "number" && Number.isSafeInteger(generation) && generation > 0) {
    metadata["generation"] = generation;
  }
  const resource: Record<string, unknown> = {
    apiVersion,
    kind,
    metadata: metadata as unknown as ObjectMeta,
  };
  if (content.includes("spec")) resource["spec"] = value["spec"] ?? {};
  else resource["spec"] = undefined;
  for (const field of content) {
    if (field !== "spec" && value[field] !== undefined) resource[field] = value[field];
  }
  resource["origin"] = { file, line, fieldLines };
  return deepFreeze(resource) as unknown as Resource;
}

/** Records the line of every key and sequence item, by field path. */
function collectLines(
  node: unknown,
  at: string,
  lines: Map<string, number>,
  lineAt: (offset: number) => number,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined) continue;
      const keyNode = pair.key as Node;
      const child = childPath(at, key);
      if (keyNode.range) lines.set(child, lineAt(keyNode.range[0]));
      collectLines(pair.value, child, lines, lineAt);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const child = childPath(at, index);
      const range = (item as Node | null)?.range;
      if (range) lines.set(child, lineAt(range[0]));
      collectLines(item, child, lines, lineAt);
    });
  }
}

/**
 * The same resources without the line of every field. Field lines only serve validation
 * messages; once a configuration is accepted they would be kept for nothing (a Map per resource:
 * tens of megabytes for 10,000 triggers).
 */
export function withoutFieldLines(resources: readonly Resource[]): Resource[] {
  return resources.map((resource) => {
    if (resource.origin.fieldLines === undefined) return resource;
    const { file, line } = resource.origin;
    return Object.freeze({ ...resource, origin: Object.freeze({ file, line }) });
  });
}

/**
 * The object as the Kubernetes API server stores it: a field set to null (`description:` with
 * nothing after it) is unset, so an optional field given as null is simply absent. Items of a
 * list stay as written (a null item is an error there too). A node YAML aliases is copied once
 * and shared, as toJS shares it, so aliases never multiply the work.
 */
export function withoutNulls(value: unknown, copies = new WeakMap<object, unknown>()): unknown {
  if (typeof value !== "object" || value === null) return value;
  const done = copies.get(value);
  if (done !== undefined) return done;
  let out: unknown;
  if (Array.isArray(value)) {
    const items: unknown[] = [];
    copies.set(value, items);
    for (const item of value) items.push(withoutNulls(item, copies));
    out = items;
  } else {
    const fields: Record<string, unknown> = {};
    copies.set(value, fields);
    for (const [key, item] of Object.entries(value)) {
      if (item === null) continue;
      // A "__proto__" key is data here, never the object's prototype.
      Object.defineProperty(fields, key, {
        value: withoutNulls(item, copies),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    out = fields;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function pathIssue(file: string, message: string): ValidationIssue {
  return { file, line: 0, kind: "", namespace: "", name: "", path: "", message };
}

async function isDirectory(file: string): Promise<boolean> {
  return stat(file).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return error instanceof Error ? error.message : String(error);
}

/**
 * One object as the Kubernetes API server returns it (the controller's feed), read like a
 * manifest document: `status` and server-set metadata (uid, resourceVersion, managedFields) are
 * dropped, generation is kept. `source` names it in messages, e.g. `kubernetes:Broker/ns/name`.
 */
export function resourceFromObject(
  value: unknown,
  source: string,
  issues: ValidationIssue[],
): Resource | undefined {
  return toResource(withoutNulls(value), undefined, source, () => 1, issues);
}
