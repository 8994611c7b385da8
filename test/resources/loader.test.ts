import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { loadManifests, parseManifests, withoutNulls } from "../../src/resources/loader.js";
import type { Resource } from "../../src/resources/types.js";

const LOADER = path.resolve(import.meta.dirname, "../fixtures/manifests/loader");
const TREE = path.join(LOADER, "tree");

const names = (resources: Resource[]) => resources.map((r) => r.metadata.name);

describe("loadManifests: finding files", () => {
  it("reads every .yaml/.yml/.json below a directory, recursively and in sorted order, skipping dotfiles and other extensions", async () => {
    const loaded = await loadManifests([TREE]);
    expect(loaded.issues).toEqual([]);
    expect(loaded.files.map((f) => path.relative(TREE, f))).toEqual([
      "a-multi.yaml",
      "b-sink.json",
      path.join("nested", "deeper", "c-trigger.yml"),
    ]);
    expect(names(loaded.resources)).toEqual(["first", "second", "third", "from-json", "deep"]);
  });

  it("reads a file named explicitly whatever its extension", async () => {
    const loaded = await loadManifests([path.join(TREE, "notes.txt")]);
    expect(names(loaded.resources)).toEqual(["from-txt"]);
  });

  it("reads a file once when it is named both directly and through its directory", async () => {
    const loaded = await loadManifests([path.join(TREE, "b-sink.json"), TREE]);
    expect(names(loaded.resources)).toEqual(["from-json", "first", "second", "third", "deep"]);
  });

  it("reports a path that does not exist on line 0 and still reads the others", async () => {
    const missing = path.join(LOADER, "no-such-dir");
    const loaded = await loadManifests([missing, path.join(TREE, "b-sink.json")]);
    expect(loaded.issues).toEqual([
      {
        file: missing,
        line: 0,
        kind: "",
        namespace: "",
        name: "",
        path: "",
        message: "no such file or directory",
      },
    ]);
    expect(names(loaded.resources)).toEqual(["from-json"]);
  });

  describe.skipIf(process.getuid?.() === 0)("unreadable files", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-loader-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it("reports a file it may not read", async () => {
      const file = path.join(dir, "secret.yaml");
      writeFileSync(file, "apiVersion: v1\n");
      chmodSync(file, 0o000);
      const loaded = await loadManifests([dir]);
      expect(loaded.issues.map((i) => [i.file, i.message])).toEqual([[file, "permission denied"]]);
    });
  });
});

describe("loadManifests: documents and lines", () => {
  it("keeps the line each document of a multi-document file starts on, past comments and empty documents", async () => {
    const loaded = await loadManifests([path.join(TREE, "a-multi.yaml")]);
    expect(loaded.resources.map((r) => [r.metadata.name, r.origin.line])).toEqual([
      ["first", 2],
      ["second", 9],
      ["third", 19],
    ]);
    expect(loaded.resources.every((r) => r.origin.file === path.join(TREE, "a-multi.yaml"))).toBe(
      true,
    );
  });

  it.each([
    ["spec", 14],
    ["spec.broker", 15],
    ["spec.subscriber.uri", 17],
    ["metadata.namespace", 13],
  ])("knows the line of field %s of a later document (%d)", async (field, line) => {
    const loaded = await loadManifests([path.join(TREE, "a-multi.yaml")]);
    expect(loaded.resources[1]!.origin.fieldLines?.get(field)).toBe(line);
  });

  it("reads JSON, with the lines of its fields", async () => {
    const loaded = await loadManifests([path.join(TREE, "b-sink.json")]);
    const [sink] = loaded.resources;
    expect(sink).toMatchObject({
      apiVersion: "sinks.knative.dev/v1alpha1",
      kind: "IntegrationSink",
      metadata: { name: "from-json", namespace: "default", labels: { team: "a" } },
      spec: { log: {} },
      origin: { line: 1 },
    });
    expect(sink!.origin.fieldLines?.get("spec.log")).toBe(9);
  });

  it("expands a kind: List into its items, each with its own line", () => {
    const text = [
      "apiVersion: v1",
      "kind: List",
      "items:",
      "  - apiVersion: eventing.knative.dev/v1",
      "    kind: Broker",
      "    metadata: {name: one}",
      "  - apiVersion: eventing.knative.dev/v1",
      "    kind: Broker",
      "    metadata:",
      "      name: two",
    ].join("\n");
    const { resources, issues } = parseManifests(text, "list.yaml");
    expect(issues).toEqual([]);
    expect(resources.map((r) => [r.metadata.name, r.origin.line])).toEqual([
      ["one", 4],
      ["two", 7],
    ]);
    expect(resources[1]!.origin.fieldLines?.get("metadata.name")).toBe(10);
  });

  it.each([
    ["absent", "metadata:\n  name: a\n", "default"],
    ["empty", 'metadata:\n  name: a\n  namespace: ""\n', "default"],
    ["given", "metadata:\n  name: a\n  namespace: team-b\n", "team-b"],
  ])("defaults the namespace when it is %s", (_what, metadata, namespace) => {
    const text = `apiVersion: eventing.knative.dev/v1\nkind: Broker\n${metadata}`;
    expect(parseManifests(text, "ns.yaml").resources[0]!.metadata.namespace).toBe(namespace);
  });

  it("gives CRD kinds an empty spec when none is written, and core kinds their data", () => {
    const { resources } = parseManifests(
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n---\n" +
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {token: t}\ntype: Opaque\n",
      "kinds.yaml",
    );
    expect(resources[0]!.spec).toEqual({});
    expect(resources[1]).toMatchObject({
      spec: undefined,
      stringData: { token: "t" },
      type: "Opaque",
    });
  });

  it("resolves YAML anchors and merge keys", () => {
    const text = [
      "apiVersion: eventing.knative.dev/v1",
      "kind: Trigger",
      "metadata: {name: t}",
      "spec:",
      "  broker: default",
      "  subscriber: &sink",
      "    uri: http://127.0.0.1:9/",
      "  delivery:",
      "    deadLetterSink: *sink",
      "    <<: {retry: 2}",
    ].join("\n");
    const [trigger] = parseManifests(text, "anchors.yaml").resources;
    expect(trigger!.spec).toEqual({
      broker: "default",
      subscriber: { uri: "http://127.0.0.1:9/" },
      delivery: { deadLetterSink: { uri: "http://127.0.0.1:9/" }, retry: 2 },
    });
  });

  it("hands out frozen resources, so no runtime can edit what others read", () => {
    const [broker] = parseManifests(
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\nspec: {delivery: {retry: 1}}\n",
      "frozen.yaml",
    ).resources;
    expect(Object.isFrozen(broker)).toBe(true);
    expect(Object.isFrozen((broker!.spec as { delivery: object }).delivery)).toBe(true);
  });
});

describe("loadManifests: documents that are not resources", () => {
  it("reports a YAML syntax error where the parser finds it and still reads the other documents of the file", () => {
    // Written here rather than as a fixture: Biome parses every .yaml file in the tree.
    const text = [
      "apiVersion: eventing.knative.dev/v1",
      "kind: Broker",
      "metadata:",
      "  name: before",
      "---",
      "apiVersion: eventing.knative.dev/v1",
      "kind: Broker",
      "metadata:",
      "  name: [unclosed",
      "---",
      "apiVersion: eventing.knative.dev/v1",
      "kind: Broker",
      "metadata:",
      "  name: after",
    ].join("\n");
    const { resources, issues } = parseManifests(text, "syntax.yaml");
    expect(names(resources)).toEqual(["before", "after"]);
    // The flow sequence opened on line 9 is found unclosed where its document ends, on line 10.
    expect(issues).toEqual([
      expect.objectContaining({
        file: "syntax.yaml",
        line: 10,
        message: expect.stringContaining("end with a ]"),
      }),
    ]);
  });

  it.each([
    ["a document that is not a mapping", "", 1, "- just\n- a list\n", "must be a mapping"],
    [
      "a missing apiVersion",
      "apiVersion",
      1,
      "kind: Broker\nmetadata: {name: b}\n",
      "required field is missing",
    ],
    [
      "an empty kind",
      "kind",
      2,
      'apiVersion: v1\nkind: ""\nmetadata: {name: b}\n',
      "must be a non-empty string",
    ],
    [
      "a missing metadata.name",
      "metadata.name",
      3,
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  namespace: x\n",
      "required field is missing",
    ],
    [
      "a namespace that is not a string",
      "metadata.namespace",
      5,
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: b\n  namespace: 7\n",
      "must be a string",
    ],
    [
      "a top-level field no kind has (a typo of spec)",
      "specc",
      4,
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\nspecc: {}\n",
      "unknown field",
    ],
    [
      "data on a CRD kind",
      "data",
      4,
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\ndata: {a: b}\n",
      "unknown field",
    ],
    [
      "a label value that is not a string",
      "metadata.labels.enabled",
      6,
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: b\n  labels:\n    enabled: true\n",
      "must be a string map",
    ],
  ])("reports %s at %j, line %d", (_what, at, line, text, fragment) => {
    const { issues } = parseManifests(text, "doc.yaml");
    expect(issues).toEqual([
      expect.objectContaining({
        file: "doc.yaml",
        path: at,
        line,
        message: expect.stringContaining(fragment),
      }),
    ]);
  });

  it("still hands out a resource whose problem does not hide who it is (unknown top-level field)", () => {
    const { resources } = parseManifests(
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\nspecc: {}\n",
      "doc.yaml",
    );
    expect(names(resources)).toEqual(["b"]);
  });

  it("ignores status, which controllers write and exported manifests carry", () => {
    const { resources, issues } = parseManifests(
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b, uid: x}\nstatus: {ready: true}\n",
      "doc.yaml",
    );
    expect(issues).toEqual([]);
    expect(resources[0]).not.toHaveProperty("status");
  });
});

describe("parseManifests: a null field is an unset field, as the Kubernetes API server stores it", () => {
  const eventType = (spec: string) =>
    `apiVersion: eventing.knative.dev/v1beta2\nkind: EventType\nmetadata:\n  name: push\nspec:\n${spec}`;

  it.each([
    [
      "EventType fields left empty in Knative's docs (schema:, description:)",
      eventType("  type: dev.knative.source.github.push\n  schema:\n  description:\n"),
      { type: "dev.knative.source.github.push" },
    ],
    [
      "a null nested deep in a spec",
      eventType("  type: t\n  reference:\n    namespace: null\n    name: x\n"),
      { type: "t", reference: { name: "x" } },
    ],
    ["a null spec is an empty spec", eventType("").replace("spec:\n", "spec: ~\n"), {}],
    [
      "list items stay as written (a null item is still refused by the schema)",
      eventType("  type: t\n  items: [a, null]\n"),
      { type: "t", items: ["a", null] },
    ],
  ])("%s", (_what, text, spec) => {
    const { resources, issues } = parseManifests(text, "nulls.yaml");
    expect(issues).toEqual([]);
    expect(resources[0]?.spec).toEqual(spec);
  });

  it("a null namespace is the default one, and null labels are no labels", () => {
    const text =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace:\n  labels:\ndata:\n  a: x\n  b:\n";
    const { resources, issues } = parseManifests(text, "nulls.yaml");
    expect(issues).toEqual([]);
    expect(resources[0]).toMatchObject({ metadata: { name: "c", namespace: "default" } });
    expect(resources[0]?.metadata.labels).toBeUndefined();
    expect(resources[0]?.data).toEqual({ a: "x" });
  });

  it("a __proto__ key stays a key of the data, never the object's prototype", () => {
    const text =
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  "__proto__": x\n  b:\n';
    const { resources } = parseManifests(text, "nulls.yaml");
    const data = resources[0]?.data as Record<string, string>;
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.keys(data)).toEqual(["__proto__"]);
  });

  it("property: no mapping keeps a null value; everything else, list items included, is kept", () => {
    const nullFree = (value: unknown, inList: boolean): boolean => {
      if (value === null) return inList;
      if (Array.isArray(value)) return value.every((item) => nullFree(item, true));
      if (typeof value === "object") return Object.values(value).every((v) => nullFree(v, false));
      return true;
    };
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const out = withoutNulls(value);
        expect(nullFree(out, true)).toBe(true);
        if (value === null) return;
        // Dropping the null fields of the input gives the same value (compared as JSON text,
        // where -0 and 0 are one number).
        const expected = JSON.stringify(value, function (this: unknown, _key, v) {
          return v === null && !Array.isArray(this) ? undefined : v;
        });
        expect(JSON.stringify(out)).toBe(expected);
      }),
    );
  });
});
