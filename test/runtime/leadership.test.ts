import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/observability/logger.js";
import { ResourceStore } from "../../src/resources/store.js";
import type { Resource } from "../../src/resources/types.js";
import { FileLeadership } from "../../src/runtime/leadership.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** A server that accepts connections and never answers: an engine that hangs. */
async function hungEngine(): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

function configMap(namespace: string, name: string, data: Record<string, string>): Resource {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace, name }, data } as Resource;
}

describe("file leadership", () => {
  it("closes without waiting out a first attempt on a hung engine", async () => {
    const store = new ResourceStore();
    store.replaceAll([
      configMap("knative-eventing", "config-br-defaults", {
        "default-br-config":
          "clusterDefault:\n  apiVersion: v1\n  kind: ConfigMap\n  name: eventail-backing\n  namespace: knative-eventing\n",
      }),
      configMap("knative-eventing", "eventail-backing", {
        backing: "redis",
        url: await hungEngine(),
        // A first attempt that would last ten minutes.
        commandTimeoutMs: "600000",
      }),
    ]);
    const leadership = new FileLeadership({
      store,
      termMs: 3_000,
      logger: silentLogger(),
      onChange: () => undefined,
    });
    let followed = false;
    void leadership.follow().then(() => {
      followed = true;
    });
    await sleep(200);
    expect(followed, "the first attempt is still under way").toBe(false);
    let closed = false;
    const closing = leadership.close().then(() => {
      closed = true;
    });
    const deadline = Date.now() + 20_000;
    while (!closed && Date.now() < deadline) await sleep(100);
    expect(closed, "close() resolved").toBe(true);
    expect(leadership.isLeader).toBe(false);
    await closing;
  }, 30_000);
});
