/**
 * Real network faults for tests: an engine in a network namespace of its own, reached over a
 * veth pair, with nf_tables rules that drop all or a share of the packets in and out of it; and
 * the same rules on the loopback interface for engines that must stay on 127.0.0.1 (Kafka's
 * mock cluster), matched by port. Names are random per instance, so parallel runs never meet.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";

function run(command: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(command, args, {
      input,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || String(error)}`);
  }
}

/** Why namespaces and nf_tables cannot be used here, or undefined when they can. */
export function networkFaultsUnavailable(): string | undefined {
  if (process.platform !== "linux")
    return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "network namespaces and nf_tables need root";
  for (const tool of ["ip", "nft"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      return `no \`${tool}\` command (apt-get install ${tool === "ip" ? "iproute2" : "nftables"})`;
    }
  }
  const probe = `evf-probe-${randomBytes(3).toString("hex")}`;
  try {
    run("ip", ["netns", "add", probe]);
    run("ip", ["netns", "exec", probe, "nft", "list", "ruleset"]);
  } catch (error) {
    return `cannot create a network namespace with nf_tables: ${(error as Error).message}`;
  } finally {
    try {
      run("ip", ["netns", "del", probe]);
    } catch {
      // It was never created.
    }
  }
  return undefined;
}

/** `nft` rules that drop `percent` % of what a rule prefix matches (100: everything). */
function dropRule(match: string, percent: number): string {
  return percent >= 100 ? `${match} drop` : `${match} numgen random mod 100 < ${percent} drop`;
}

const CHAINS = `
  chain input { type filter hook input priority 0; policy accept; }
  chain output { type filter hook output priority 0; policy accept; }
`;

/** Addresses in use on this host, so a new /30 never overlaps one (another run's included). */
function subnetInUse(prefix: string): boolean {
  return run("ip", ["-o", "-4", "addr", "show"]).includes(` ${prefix}`);
}

/**
 * A network namespace joined to this one by a veth pair on a private /30: the host end gets
 * `.1`, the namespace end `address` (`.2`). Its traffic goes only between those two addresses.
 */
export class NetworkNamespace {
  private readonly children = new Set<ChildProcess>();

  private constructor(
    readonly name: string,
    private readonly hostLink: string,
    /** The namespace's own address, where its servers listen. */
    readonly address: string,
  ) {}

  static create(): NetworkNamespace {
    const id = randomBytes(4).toString("hex");
    const name = `evf-${id}`;
    const hostLink = `evf${id}h`;
    const nsLink = `evf${id}n`;
    let subnet: [string, number] | undefined;
    for (let tries = 0; tries < 20 && !subnet; tries++) {
      const [b, c, d] = randomBytes(3);
      const prefix = `10.${200 + (b! % 50)}.${c}`;
      if (!subnetInUse(`${prefix}.`)) subnet = [prefix, d! & 0xfc];
    }
    if (!subnet) throw new Error("found no free private /30 for a network namespace");
    const [prefix, base] = subnet;
    const hostAddress = `${prefix}.${base + 1}`;
    const address = `${prefix}.${base + 2}`;
    const namespace = new NetworkNamespace(name, hostLink, address);
    try {
      run("ip", ["netns", "add", name]);
      run("ip", ["link", "add", hostLink, "type", "veth", "peer", "name", nsLink]);
      run("ip", ["link", "set", nsLink, "netns", name]);
      run("ip", ["addr", "add", `${hostAddress}/30`, "dev", hostLink]);
      run("ip", ["link", "set", hostLink, "up"]);
      run("ip", ["-n", name, "addr", "add", `${address}/30`, "dev", nsLink]);
      run("ip", ["-n", name, "link", "set", nsLink, "up"]);
      run("ip", ["-n", name, "link", "set", "lo", "up"]);
      run("ip", ["netns", "exec", name, "nft", "-f", "-"], `table inet faults {${CHAINS}}\n`);
    } catch (error) {
      namespace.removeLinks();
      throw error;
    }
    return namespace;
  }

  /** Starts `command` inside the namespace; destroy() kills it. */
  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.name, command, ...args], {
      stdio: "ignore",
      ...options,
    });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /** Drops `percent` % of the packets into and out of the namespace (100: a partition). */
  drop(percent: number): void {
    this.heal();
    for (const chain of ["input", "output"]) {
      const rule = dropRule("meta l4proto tcp", percent);
      run("ip", ["netns", "exec", this.name, "nft", `add rule inet faults ${chain} ${rule}`]);
    }
  }

  /** Removes every drop rule. */
  heal(): void {
    for (const chain of ["input", "output"]) {
      run("ip", ["netns", "exec", this.name, "nft", "flush", "chain", "inet", "faults", chain]);
    }
  }

  /** Kills what runs inside, then removes the namespace, its veth pair and its rules. */
  async destroy(): Promise<void> {
    await Promise.all(
      [...this.children].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      }),
    );
    this.removeLinks();
  }

  private removeLinks(): void {
    // Deleting the namespace deletes its veth end, and with it the host end.
    for (const args of [
      ["netns", "del", this.name],
      ["link", "del", this.hostLink],
    ]) {
      try {
        run("ip", args);
      } catch {
        // Already gone.
      }
    }
  }
}

/**
 * Drop rules on the loopback interface for a set of TCP ports, in both directions, in a table
 * of their own (so removing them touches nothing else on the host).
 */
export class LoopbackPortFaults {
  private constructor(
    private readonly table: string,
    private readonly ports: readonly number[],
  ) {}

  static create(ports: readonly number[]): LoopbackPortFaults {
    const table = `eventail_faults_${randomBytes(4).toString("hex")}`;
    run("nft", ["-f", "-"], `table inet ${table} {${CHAINS}}\n`);
    return new LoopbackPortFaults(table, ports);
  }

  drop(percent: number): void {
    this.heal();
    const set = `{ ${this.ports.join(", ")} }`;
    // On lo every packet passes output then input; the input hook alone sees each one once.
    for (const direction of ["dport", "sport"]) {
      const rule = dropRule(`iifname "lo" tcp ${direction} ${set}`, percent);
      run("nft", [`add rule inet ${this.table} input ${rule}`]);
    }
  }

  heal(): void {
    run("nft", ["flush", "chain", "inet", this.table, "input"]);
  }

  remove(): void {
    try {
      run("nft", ["delete", "table", "inet", this.table]);
    } catch {
      // Already gone.
    }
  }
}
