/**
 * Readers for the cloudevents/conformance HTTP vectors copied into
 * test/fixtures/cloudevents-http (see its SOURCE.md): the YAML events and the raw HTTP
 * requests of the Gherkin feature. Shared by the binding tests and the end-to-end tests.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { type AttributeValue, type CloudEvent, createEvent } from "../../src/events/event.js";

export const CONFORMANCE_DIR = path.resolve(import.meta.dirname, "../fixtures/cloudevents-http");

export interface ConformanceVector {
  /** File and position, plus the event id: names the test case. */
  name: string;
  mode: "binary" | "structured";
  event: CloudEvent;
  /** Extra HTTP headers the upstream tool sends with the event (e.g. user-agent). */
  transportHeaders: Record<string, string>;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

function stringMap(value: unknown, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`${where} must be a map`);
  }
  return value as Record<string, string>;
}

/** Every event in yaml/**; the failsafe schema keeps `specversion: 1.0` the string "1.0". */
export function loadConformanceVectors(dir = CONFORMANCE_DIR): ConformanceVector[] {
  const vectors: ConformanceVector[] = [];
  for (const file of yamlFiles(path.join(dir, "yaml"))) {
    const relative = path.relative(dir, file);
    const documents = parseAllDocuments(readFileSync(file, "utf8"), { schema: "failsafe" });
    if (!Array.isArray(documents)) throw new Error(`${relative}: not a YAML document stream`);
    documents.forEach((document, index) => {
      const where = `${relative}#${index + 1}`;
      if (document.errors.length > 0) throw new Error(`${where}: ${document.errors[0]!.message}`);
      const raw = document.toJS() as Record<string, unknown> | null;
      if (raw === null) return;
      const context = stringMap(raw["ContextAttributes"], `${where} ContextAttributes`);
      const attributes: Record<string, AttributeValue> = {};
      for (const [name, value] of Object.entries(context)) {
        if (name === "Extensions") continue;
        attributes[name] = value;
      }
      for (const [name, value] of Object.entries(stringMap(context["Extensions"], where))) {
        attributes[name] = value;
      }
      const data = raw["Data"] === undefined ? undefined : Buffer.from(String(raw["Data"]), "utf8");
      const mode = raw["Mode"] === "structured" ? "structured" : "binary";
      vectors.push({
        name: `${where} ${mode} ${String(attributes["id"])}`,
        mode,
        event: createEvent(attributes, data),
        transportHeaders: stringMap(raw["TransportExtensions"], `${where} TransportExtensions`),
      });
    });
  }
  return vectors;
}

export interface FeatureRequest {
  /** Scenario name with the Examples row filled in. */
  name: string;
  method: string;
  path: string;
  /** Header names lower-cased, as node's IncomingHttpHeaders has them. */
  headers: Record<string, string>;
  body: Buffer;
  expectedAttributes: Record<string, string>;
  expectedData: unknown;
}

/** Gherkin docstrings drop the indentation of their opening quotes from every line. */
function docstring(lines: string[], start: number): { text: string; end: number } {
  const indent = lines[start]!.indexOf('"""');
  const body: string[] = [];
  let i = start + 1;
  while (lines[i]!.trim() !== '"""') {
    body.push(lines[i]!.slice(Math.min(indent, lines[i]!.search(/\S|$/))));
    i++;
  }
  return { text: body.join("\n"), end: i };
}

function tableRow(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, "")
    .split("|")
    .map((cell) => cell.trim());
}

interface Outline {
  title: string;
  request: string;
  attributes: Array<[string, string]>;
  data: string;
  examples: Array<Record<string, string>>;
}

function parseOutlines(text: string): Outline[] {
  const lines = text.split("\n");
  const outlines: Outline[] = [];
  let current: Outline | undefined;
  let table: "attributes" | "examples" | undefined;
  let exampleHeader: string[] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.startsWith("Scenario Outline:")) {
      current = {
        title: line.slice(17).trim(),
        request: "",
        attributes: [],
        data: "",
        examples: [],
      };
      outlines.push(current);
      table = undefined;
      continue;
    }
    if (current === undefined) continue;
    if (line === '"""') {
      const { text: block, end } = docstring(lines, i);
      if (current.request === "") current.request = block;
      else current.data = block;
      i = end;
    } else if (line.startsWith("Then the attributes are")) {
      table = "attributes";
    } else if (line.startsWith("Examples:")) {
      table = "examples";
      exampleHeader = undefined;
    } else if (line.startsWith("|") && table === "attributes") {
      const [key, value] = tableRow(line);
      if (key !== "key") current.attributes.push([key!, value!]);
    } else if (line.startsWith("|") && table === "examples") {
      const cells = tableRow(line);
      if (exampleHeader === undefined) exampleHeader = cells;
      else current.examples.push(Object.fromEntries(exampleHeader.map((h, j) => [h, cells[j]!])));
    } else if (!line.startsWith("|")) {
      if (table === "attributes") table = undefined;
    }
  }
  return outlines;
}

function fill(template: string, row: Record<string, string>): string {
  return template.replace(/<(\w+)>/g, (whole, key: string) => row[key] ?? whole);
}

function parseRequest(text: string): Pick<FeatureRequest, "method" | "path" | "headers" | "body"> {
  const blank = text.indexOf("\n\n");
  const head = text.slice(0, blank).split("\n");
  const [method, target] = head[0]!.split(" ");
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { method: method!, path: target!, headers, body: Buffer.from(text.slice(blank + 2)) };
}

/** The raw requests of features/http-protocol-binding.feature, one per Examples row. */
export function loadFeatureRequests(dir = CONFORMANCE_DIR): FeatureRequest[] {
  const text = readFileSync(path.join(dir, "features/http-protocol-binding.feature"), "utf8");
  return parseOutlines(text).flatMap((outline) =>
    outline.examples.map((row) => ({
      name: fill(outline.title, row),
      ...parseRequest(fill(outline.request, row)),
      expectedAttributes: Object.fromEntries(
        outline.attributes.map(([key, value]) => [key, fill(value, row)]),
      ),
      expectedData: JSON.parse(outline.data) as unknown,
    })),
  );
}
