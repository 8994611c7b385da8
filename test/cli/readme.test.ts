/**
 * The README's own commands, run as written (with `npx eventail` as the built CLI), so what it
 * promises a new user is what they get.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readmeCommands, shellWords } from "../support/readme-commands.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/src/cli/main.js");
const COMMANDS = readmeCommands(path.join(ROOT, "README.md"));

/** Runs `npx eventail ARGS` from the repository root, as the README's reader would. */
function eventail(command: string) {
  const [npx, name, ...args] = shellWords(command);
  expect([npx, name]).toEqual(["npx", "eventail"]);
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 15_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(!existsSync(CLI))("the README's commands", () => {
  const validate = COMMANDS.find((command) => command.text.startsWith("npx eventail validate"));

  it("shows a validate command with its output", () => {
    expect(validate?.output.length).toBeGreaterThan(1);
  });

  it("validate on the shipped broken manifest prints exactly the README's lines, exit 2", () => {
    const result = eventail(validate!.text);
    expect(result.stderr).toBe("");
    expect(result.stdout.trimEnd().split("\n")).toEqual(validate!.output);
    expect(result.code).toBe(2);
    const problems = validate!.output.slice(0, -1);
    expect(problems.length).toBeGreaterThanOrEqual(5);
    for (const line of problems)
      expect(line).toMatch(/^examples\/\S+\.yaml:\d+ \w+\/default\/[\w-]+ spec\.[\w.[\]]+: \S/);
    expect(validate!.output.at(-1)).toBe(`${problems.length} problems in 1 file`);
  });
});
