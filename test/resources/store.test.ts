import { describe, expect, it } from "vitest";
import { parseManifests } from "../../src/resources/loader.js";
import { type ResourceChange, ResourceStore } from "../../src/resources/store.js";
import type { Resource } from "../../src/resources/types.js";

/** Resources as the loader makes them, from YAML documents. */
function read(yaml: string, file = "store.yaml"): Resource[] {
  const { resources, issues } = parseManifests(yaml, file);
  expect(issues).toEqual([]);
  return resources;
}

const broker = (name: string, extra = "") =>
  `apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: ${name}\n${extra}---\n`;
const trigger = (name: string, broker: string, uri = "http://127.0.0.1:9/") =>
  `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: ${name}\nspec:\n  broker: ${broker}\n  subscriber:\n    uri: ${uri}\n---\n`;
const configMap = (name: string, backing: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  backing: ${backing}\n---\n`;

const summary = (changes: readonly ResourceChange[]) =>
  changes.map((c) => `${c.type} ${c.resource.kind}/${c.resource.metadata.name}`);

function recording(store: ResourceStore): ResourceChange[] {
  const seen: ResourceChange[] = [];
  store.on("change", (change) => seen.push(change));
  return seen;
}

describe("ResourceStore.replaceAll", () => {
  it("emits added for everything on first load, ConfigMaps and Brokers before the Triggers that use them", () => {
    const store = new ResourceStore();
    const seen = recording(store);
    store.replaceAll(read(trigger("t1", "b1") + broker("b1") + configMap("cm", "memory")));
    expect(summary(seen)).toEqual(["added ConfigMap/cm", "added Broker/b1", "added Trigger/t1"]);
  });

  it.each([
    [
      "a spec value changed",
      configMap("cm", "memory") + broker("b1") + trigger("t1", "b1", "http://127.0.0.1:9/other"),
      ["modified Trigger/t1"],
    ],
    [
      "a label was added",
      configMap("cm", "memory") + broker("b1", "  labels:\n    team: a\n") + trigger("t1", "b1"),
      ["modified Broker/b1"],
    ],
    [
      "ConfigMap data changed",
      configMap("cm", "redis") + broker("b1") + trigger("t1", "b1"),
      ["modified ConfigMap/cm"],
    ],
    ["a resource was removed", broker("b1") + configMap("cm", "memory"), ["deleted Trigger/t1"]],
    [
      "a resource was renamed (one deleted, one added)",
      broker("b1") + configMap("cm", "memory") + trigger("t2", "b1"),
      ["deleted Trigger/t1", "added Trigger/t2"],
    ],
    [
      "nothing changed but the order and lines in the file",
      `# moved\n\n${broker("b1")}${trigger("t1", "b1")}${configMap("cm", "memory")}`,
      [],
    ],
  ])("emits only what differs when %s", (_what, next, expected) => {
    const store = new ResourceStore();
    store.replaceAll(read(configMap("cm", "memory") + broker("b1") + trigger("t1", "b1")));
    const seen = recording(store);
    const returned = store.replaceAll(read(next, "moved.yaml"));
    expect(summary(seen)).toEqual(expected);
    expect(summary(returned)).toEqual(expected);
  });

  it("hands a modified change the previous resource beside the new one", () => {
    const store = new ResourceStore();
    const [before] = read(trigger("t1", "b1", "http://127.0.0.1:9/a"));
    const [after] = read(trigger("t1", "b1", "http://127.0.0.1:9/b"));
    store.replaceAll([before!]);
    expect(store.replaceAll([after!])).toEqual([
      { type: "modified", resource: after, previous: before },
    ]);
    expect(store.get("Trigger", "default", "t1")).toBe(after);
  });

  it("deletes dependents before what they depend on, and deletions before additions", () => {
    const store = new ResourceStore();
    store.replaceAll(read(configMap("cm", "memory") + broker("b1") + trigger("t1", "b1")));
    const seen = recording(store);
    store.replaceAll(read(broker("b2") + trigger("t2", "b2")));
    expect(summary(seen)).toEqual([
      "deleted Trigger/t1",
      "deleted Broker/b1",
      "deleted ConfigMap/cm",
      "added Broker/b2",
      "added Trigger/t2",
    ]);
  });

  it("sends one changes event per replaceAll that changed something, and none otherwise", () => {
    const store = new ResourceStore();
    const batches: string[][] = [];
    store.on("changes", (changes) => batches.push(summary(changes)));
    const world = read(broker("b1") + trigger("t1", "b1"));
    store.replaceAll(world);
    store.replaceAll(world);
    expect(batches).toEqual([["added Broker/b1", "added Trigger/t1"]]);
  });

  it("keeps the first of two resources with the same kind, namespace and name", () => {
    const store = new ResourceStore();
    store.replaceAll(read(trigger("t1", "first") + trigger("t1", "second")));
    expect(store.list("Trigger").map((t) => t.spec.broker)).toEqual(["first"]);
  });

  it("still tells every listener when one of them throws, then reports the failure", () => {
    const store = new ResourceStore();
    const heard: string[] = [];
    store.on("change", () => {
      throw new Error("listener bug");
    });
    store.on("change", (change) => heard.push(change.resource.metadata.name));
    expect(() => store.replaceAll(read(broker("b1") + broker("b2")))).toThrow(AggregateError);
    expect(heard).toEqual(["b1", "b2"]);
    expect(store.size).toBe(2);
  });
});

describe("ResourceStore reads", () => {
  const store = new ResourceStore();
  store.replaceAll(
    read(
      broker("b1") +
        `apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: b1\n  namespace: team\n---\n` +
        trigger("t1", "b1"),
    ),
  );

  it.each([
    ["Broker", "default", "b1", true],
    ["Broker", "team", "b1", true],
    ["Broker", "other", "b1", false],
    ["Trigger", "default", "b1", false],
    ["Trigger", "default", "t1", true],
  ])("get(%s, %s, %s) finds it: %s", (kind, namespace, name, found) => {
    const resource = store.get(kind, namespace, name);
    expect(resource !== undefined).toBe(found);
    if (resource)
      expect([resource.kind, resource.metadata.namespace, resource.metadata.name]).toEqual([
        kind,
        namespace,
        name,
      ]);
  });

  it("lists a kind across namespaces, typed by kind", () => {
    expect(store.list("Broker").map((b) => `${b.metadata.namespace}/${b.metadata.name}`)).toEqual([
      "default/b1",
      "team/b1",
    ]);
    expect(store.list("Trigger")[0]!.spec.subscriber.uri).toBe("http://127.0.0.1:9/");
    expect(store.list("PingSource")).toEqual([]);
  });
});

describe("ResourceStore.apply and remove (one change at a time)", () => {
  it.each([
    ["a new resource is added", [broker("b2")], "added"],
    ["a changed resource is modified", [broker("b1", "  labels:\n    x: y\n")], "modified"],
    ["an identical resource changes nothing", [broker("b1")], undefined],
  ])("%s", (_what, [next], type) => {
    const store = new ResourceStore();
    store.replaceAll(read(broker("b1")));
    const seen = recording(store);
    const change = store.apply(read(next!)[0]!);
    expect(change?.type).toBe(type);
    expect(seen.map((c) => c.type)).toEqual(type ? [type] : []);
  });

  it("remove emits deleted once, and nothing for a resource it does not hold", () => {
    const store = new ResourceStore();
    store.replaceAll(read(broker("b1")));
    const seen = recording(store);
    expect(store.remove("Broker", "default", "b1")?.type).toBe("deleted");
    expect(store.remove("Broker", "default", "b1")).toBeUndefined();
    expect(summary(seen)).toEqual(["deleted Broker/b1"]);
    expect(store.get("Broker", "default", "b1")).toBeUndefined();
  });
});
