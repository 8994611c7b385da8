import { describe, expect, it } from "vitest";
import { CASE_FILE, issuesWith } from "../../resources/validate-harness.js";

const manifest = (spec: string) =>
  `apiVersion: eventail.io/v1alpha1\nkind: MqttSource\nmetadata:\n  name: sensors\n  namespace: iot\nspec:\n${spec}  sink:\n    uri: http://127.0.0.1:9999\n`;

async function problems(spec: string): Promise<string[]> {
  const issues = await issuesWith(manifest(spec));
  return issues.filter((i) => i.file === CASE_FILE).map((i) => `${i.path}: ${i.message}`);
}

describe("MqttSource manifests (crds/mqttsource.yaml)", () => {
  it("accepts a broker URL, wildcard topic filters and QoS 1", async () => {
    expect(
      await problems(
        '  brokerUrl: mqtt://127.0.0.1:1883\n  topics: ["sensors/+/temp", "alerts/#", "#"]\n  qos: 1\n',
      ),
    ).toEqual([]);
  });

  it.each([
    ["a broker URL that is not MQTT", '  brokerUrl: http://x\n  topics: ["a"]\n', "spec.brokerUrl"],
    ["QoS 2", '  brokerUrl: mqtt://h:1883\n  topics: ["a"]\n  qos: 2\n', "spec.qos"],
    ["# not last", '  brokerUrl: mqtt://h:1883\n  topics: ["a/#/b"]\n', "spec.topics[0]"],
    ["+ inside a level", '  brokerUrl: mqtt://h:1883\n  topics: ["a/x+"]\n', "spec.topics[0]"],
    ["no topics", "  brokerUrl: mqtt://h:1883\n  topics: []\n", "spec.topics"],
  ])("refuses %s", async (_what, spec, path) => {
    const found = await problems(spec);
    expect(
      found.some((p) => p.startsWith(path)),
      found.join("; "),
    ).toBe(true);
  });
});
