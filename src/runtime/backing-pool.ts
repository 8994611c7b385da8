import type { Backing, BackingConfig } from "../backing/backing.js";
import { backingKey } from "../backing/registry.js";
import type { Logger } from "../observability/logger.js";

/**
 * The backings in use, one per distinct configuration: brokers and channels with the same
 * ConfigMap settings share one connection. Unused ones are closed after each reconcile.
 */
export class BackingPool {
  private readonly backings = new Map<string, Promise<Backing>>();

  constructor(
    private readonly create: (config: BackingConfig) => Promise<Backing>,
    private readonly logger: Logger,
  ) {}

  acquire(config: BackingConfig): { key: string; backing: Promise<Backing> } {
    const key = backingKey(config);
    let backing = this.backings.get(key);
    if (!backing) {
      backing = this.create(config);
      this.backings.set(key, backing);
      backing.catch((error) => {
        this.logger.error({ err: error, backing: key }, "backing failed to start");
        this.backings.delete(key);
      });
    }
    return { key, backing };
  }

  async closeUnused(used: ReadonlySet<string>): Promise<void> {
    for (const [key, backing] of this.backings) {
      if (used.has(key)) continue;
      this.backings.delete(key);
      await backing.then((b) => b.close()).catch(() => undefined);
    }
  }

  async readiness(): Promise<Record<string, boolean>> {
    const checks: Record<string, boolean> = {};
    for (const [key, backing] of this.backings) {
      checks[`backing:${key}`] = await backing.then(
        (b) => withTimeout(b.ready(), 2_000, false),
        () => false,
      );
    }
    return checks;
  }

  async closeAll(): Promise<void> {
    await this.closeUnused(new Set());
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}
