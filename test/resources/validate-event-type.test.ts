import { describe, expect, it } from "vitest";
import { expectIssue, issuesWith } from "./validate-harness.js";

const v1beta2 = (schemaData: string) => `apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: case
spec:
  type: com.example.x
  schemaData: '${schemaData}'
`;

const v1beta3 = (annotation: string) => `apiVersion: eventing.knative.dev/v1beta3
kind: EventType
metadata:
  name: case
  annotations:
    eventail.io/schema-data: '${annotation}'
spec:
  attributes:
    - {name: type, value: com.example.x}
    - {name: source}
    - {name: specversion}
    - {name: id}
`;

describe("validateResources: an EventType's declared schema (CONTRACT §11)", () => {
  it.each([
    [
      "spec.schemaData that is not JSON",
      v1beta2("{type: object"),
      "spec.schemaData",
      "is not JSON",
    ],
    [
      "spec.schemaData that is a JSON array",
      v1beta2("[1]"),
      "spec.schemaData",
      "must be a JSON object",
    ],
    [
      "spec.schemaData that does not compile",
      v1beta2('{"type": 7}'),
      "spec.schemaData",
      "is not a valid JSON Schema",
    ],
    [
      "the v1beta3 annotation, held to the same rule",
      v1beta3('{"required": "id"}'),
      "metadata.annotations[eventail.io/schema-data]",
      "is not a valid JSON Schema",
    ],
  ])("%s", async (_title, manifest, path, fragment) => {
    await expectIssue(manifest, path, fragment);
  });

  it("accepts a schema with formats and keywords Ajv does not know", async () => {
    const issues = await issuesWith(
      v1beta2(
        '{"type":"object","properties":{"at":{"type":"string","format":"rfc-9999"}},"x-owner":"shop"}',
      ),
    );
    expect(issues.filter((i) => i.file === "case.yaml")).toEqual([]);
  });
});
