import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jobLocation } from "../../src/sinks/job/job-sink.js";

describe("jobLocation: Knative's Location of a JobSink job", () => {
  it("has Knative's shape /namespaces/{ns}/name/{sink}/sources/{source}/ids/{id}", () => {
    expect(jobLocation("default", "jobs", "my-source", "42")).toBe(
      "/namespaces/default/name/jobs/sources/my-source/ids/42",
    );
  });

  it("property: any source and id come back from the path's segments, so GET finds the job", () => {
    const text = fc.string({ minLength: 1, unit: "grapheme" });
    fc.assert(
      fc.property(text, text, (source, id) => {
        const parts = jobLocation("default", "jobs", source, id).split("/");
        expect(parts).toHaveLength(9);
        expect(decodeURIComponent(parts[6]!)).toBe(source);
        expect(decodeURIComponent(parts[8]!)).toBe(id);
      }),
    );
  });
});
