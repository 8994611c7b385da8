/**
 * Reads the shell commands out of a README, so tests run what the README tells a user to type
 * (a README edit that breaks a command breaks its test). `sh` blocks are one command per line;
 * `console` blocks hold `$ command` lines, each followed by the output the README promises.
 * Backslash-continued lines are joined and `# comments` dropped, as a shell would.
 */
import { readFileSync } from "node:fs";

export interface ReadmeCommand {
  /** The command as a shell would see it: continuation lines joined, comment removed. */
  text: string;
  /** For `console` blocks: the lines the README shows after the command. */
  output: string[];
  /** Ends with `&`: the README starts it in the background. */
  background: boolean;
  /** Which code block of the README it is in (commands of one block share a shell). */
  block: number;
}

/**
 * Every command of every `sh`/`shell`/`bash`/`console` block, in README order; with `section`,
 * only those under the `## section` heading.
 */
export function readmeCommands(file: string, section?: string): ReadmeCommand[] {
  const commands: ReadmeCommand[] = [];
  const fence = /^```(\w*)\n([\s\S]*?)^```$/gm;
  let text = readFileSync(file, "utf8");
  if (section !== undefined) {
    const start = text.indexOf(`\n## ${section}\n`);
    if (start < 0) throw new Error(`${file} has no section "## ${section}"`);
    const end = text.indexOf("\n## ", start + 1);
    text = text.slice(start, end < 0 ? undefined : end);
  }
  let block = 0;
  for (let match = fence.exec(text); match !== null; match = fence.exec(text), block++) {
    const language = match[1]!;
    const lines = match[2]!.split("\n");
    const found = ["sh", "shell", "bash"].includes(language)
      ? shellBlock(lines)
      : language === "console"
        ? consoleBlock(lines)
        : [];
    commands.push(...found.map((command) => ({ ...command, block })));
  }
  return commands;
}

type BlockCommand = Omit<ReadmeCommand, "block">;

function shellBlock(lines: string[]): BlockCommand[] {
  const commands: BlockCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    while (line.endsWith("\\") && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]}`;
    const command = withoutComment(line).trim();
    if (command !== "") commands.push(toCommand(command, []));
  }
  return commands;
}

function consoleBlock(lines: string[]): BlockCommand[] {
  const commands: BlockCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith("$ ")) continue;
    let line = lines[i]!.slice(2);
    while (line.endsWith("\\") && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]}`;
    const output: string[] = [];
    while (i + 1 < lines.length && !lines[i + 1]!.startsWith("$ ")) output.push(lines[++i]!);
    while (output.length > 0 && output.at(-1) === "") output.pop();
    commands.push(toCommand(withoutComment(line).trim(), output));
  }
  return commands;
}

function toCommand(text: string, output: string[]): BlockCommand {
  const background = /(^|[^&])&$/.test(text);
  return { text: background ? text.slice(0, -1).trim() : text, output, background };
}

/** Cuts a `#` comment that starts a word outside quotes (a `#` inside a word or quotes stays). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\") i++;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/**
 * Splits a command into words as a POSIX shell does for quoting (no expansion, no operators): for
 * commands the test runs itself, such as `npx eventail ...`.
 */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${command}`);
      word = (word ?? "") + command.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let value = "";
      for (i++; i < command.length && command[i] !== '"'; i++) {
        if (command[i] === "\\" && /["\\$`]/.test(command[i + 1] ?? "")) i++;
        value += command[i];
      }
      if (i >= command.length) throw new Error(`unclosed " in: ${command}`);
      word = (word ?? "") + value;
    } else if (c === "\\") {
      word = (word ?? "") + (command[++i] ?? "");
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}
