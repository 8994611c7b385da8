import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JobLedger } from "../../src/sinks/job/job-ledger.js";

const job = (id: string) => ({ job: `j-${id}`, location: `/l/${id}`, started: Promise.resolve() });

describe("JobLedger: what a JobSink remembers for deduplication", () => {
  it("keeps running jobs however many finish, and forgets the oldest finished past its capacity", () => {
    const ledger = new JobLedger(2);
    ledger.start("/s", "running", job("running"));
    for (const id of ["a", "b", "c"]) {
      ledger.start("/s", id, job(id));
      ledger.finish("/s", id, id === "b" ? "failed" : "succeeded");
    }
    expect(ledger.get("/s", "running")?.state).toBe("running");
    expect(ledger.get("/s", "a")).toBeUndefined();
    expect(ledger.get("/s", "b")).toEqual({ job: "j-b", location: "/l/b", state: "failed" });
    expect(ledger.get("/s", "c")?.state).toBe("succeeded");
  });

  it("tells source apart from id: the same id from another source is another event", () => {
    const ledger = new JobLedger(10);
    ledger.start("/a", "1", job("a1"));
    expect(ledger.pending("/b", "1")).toBeUndefined();
    expect(ledger.pending("/a", "1")?.job).toBe("j-a1");
  });

  it("property: never more finished jobs than its capacity, and every running job is kept", () => {
    const step = fc.record({
      id: fc.integer({ min: 0, max: 30 }),
      finish: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(step, { maxLength: 80 }),
        (capacity, steps) => {
          const ledger = new JobLedger(capacity);
          const running = new Set<number>();
          for (const { id, finish } of steps) {
            if (finish && running.has(id)) {
              ledger.finish("/s", String(id), "succeeded");
              running.delete(id);
            } else if (!running.has(id) && ledger.get("/s", String(id)) === undefined) {
              ledger.start("/s", String(id), job(String(id)));
              running.add(id);
            }
          }
          for (const id of running) expect(ledger.get("/s", String(id))?.state).toBe("running");
          let finished = 0;
          for (let id = 0; id <= 30; id++) {
            if (ledger.get("/s", String(id))?.state === "succeeded") finished++;
          }
          expect(finished).toBeLessThanOrEqual(capacity);
        },
      ),
    );
  });
});
