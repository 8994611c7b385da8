import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { validateCommand } from "../../src/cli/validate.js";

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/manifests");
const empty = mkdtempSync(path.join(tmpdir(), "eventail-validate-"));
/** Biome parses every .yaml in the tree, so a file that must not parse is written at run time. */
const broken = mkdtempSync(path.join(tmpdir(), "eventail-validate-"));
writeFileSync(path.join(broken, "broken.yaml"), "metadata:\n  name: [unclosed\n");
afterAll(() => {
  rmSync(empty, { recursive: true, force: true });
  rmSync(broken, { recursive: true, force: true });
});

async function run(paths: string[]): Promise<{ code: number; out: string[]; err: string }> {
  let out = "";
  let err = "";
  const code = await validateCommand(
    paths,
    {
      write: (s) => {
        out += s;
      },
    },
    {
      write: (s) => {
        err += s;
      },
    },
  );
  return { code, out: out.split("\n").filter(Boolean), err };
}

describe("eventail validate", () => {
  it("exits 0 and counts the resources when every manifest is valid", async () => {
    const { code, out, err } = await run([path.join(FIXTURES, "valid")]);
    expect({ code, out, err }).toEqual({ code: 0, out: ["22 resources valid"], err: "" });
  });

  it("exits 2 and prints every problem as file:line kind/namespace/name path: message, then a summary", async () => {
    const file = path.join(FIXTURES, "invalid", "several-problems.yaml");
    const { code, out } = await run([file]);
    expect(code).toBe(2);
    expect(out).toHaveLength(12);
    // A Broker not among the manifests is a warning (Knative accepts it), printed with the rest.
    expect(out[0]).toBe(
      `${file}:8 Trigger/default/broken spec.broker warning: Broker default/missing-broker is ` +
        "not among the manifests: this Trigger delivers nothing until it is added",
    );
    for (const line of out.slice(0, -1)) {
      expect(line).toMatch(
        /^\S+:\d+ (Trigger|PingSource)\/[a-z-]+\/[a-z-]+ [\w.[\]]+( warning)?: .+$/,
      );
    }
    expect(out.at(-1)).toBe("9 problems in 1 file, 2 warnings");
  });

  it("counts the files problems are in across several paths", async () => {
    const { code, out } = await run([
      path.join(FIXTURES, "invalid"),
      path.join(FIXTURES, "loader", "problems"),
    ]);
    expect(code).toBe(2);
    expect(out.at(-1)).toBe("10 problems in 2 files, 2 warnings");
  });

  it.each([
    [
      "a path that does not exist",
      [path.join(FIXTURES, "nope")],
      /nope:0 \?\/\?\/\?: no such file or directory/,
    ],
    ["a directory with no manifests", [empty], /^no \.yaml, \.yml or \.json manifests under /],
  ])("exits 2 for %s", async (_what, paths, expected) => {
    const { code, out } = await run(paths);
    expect(code).toBe(2);
    expect(out[0]).toMatch(expected);
  });

  it("exits 2 with a usage message on stderr when given no path", async () => {
    const { code, out, err } = await run([]);
    expect({ code, out }).toEqual({ code: 2, out: [] });
    expect(err).toMatch(/give at least one -f PATH/);
  });

  it("prints a warning as file:line kind/namespace/name path warning: message and still exits 0", async () => {
    const dir = path.join(FIXTURES, "knative");
    const { code, out, err } = await run([dir]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toEqual([
      `${path.join(dir, "event-display.yaml")}:13 Trigger/default/event-display spec.subscriber.ref warning: ` +
        "Service default/event-display resolves to http://event-display.default.svc.cluster.local/ " +
        "(map it with --service default/event-display=URL or data.event-display of ConfigMap " +
        "default/eventail-services)",
      "6 resources valid, 1 warning",
    ]);
  });

  it("counts errors and warnings apart when both are found", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-validate-"));
    try {
      writeFileSync(
        path.join(dir, "mixed.yaml"),
        "apiVersion: sources.knative.dev/v1alpha1\nkind: AwsSqsSource\nmetadata:\n  name: r\nspec: {}\n",
      );
      const { code, out } = await run([path.join(FIXTURES, "knative"), dir]);
      expect(code).toBe(2);
      expect(out.filter((line) => / warning: /.test(line))).toHaveLength(1);
      expect(out.filter((line) => / kind: unknown kind AwsSqsSource /.test(line))).toHaveLength(1);
      expect(out.at(-1)).toBe("1 problem in 1 file, 1 warning");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
