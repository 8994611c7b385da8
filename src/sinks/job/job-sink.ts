import { createHash } from "node:crypto";
import { Counter } from "prom-client";
import { BackingFullError } from "../../backing/backing.js";
import { attributeString, type CloudEvent, eventLogFields } from "../../events/event.js";
import type { JobStatus, SinkReceipt } from "../../events/ingress-target.js";
import { encodeStructured } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Resource } from "../../resources/types.js";
import { localProcess } from "../../sources/container/container-process.js";
import type { Container } from "../../sources/container/container-source.js";
import { SinkUnavailableError } from "../errors.js";
import type { RunnableSink, SinkContext } from "../registry.js";
import { JobLedger } from "./job-ledger.js";
import { type JobLaunch, startJob } from "./job-run.js";

/** Knative's shape: `spec.job` is a batch/v1 Job; standalone, its first container runs. */
export interface JobSinkSpec {
  readonly job: {
    readonly spec: {
      readonly template: {
        readonly spec: {
          readonly containers: readonly Container[];
          readonly terminationGracePeriodSeconds?: number;
        };
      };
      readonly backoffLimit?: number;
      readonly activeDeadlineSeconds?: number;
    };
  };
}

/** At most this many jobs of one JobSink run at once; past it the sink answers 429. */
export const MAX_RUNNING_ANNOTATION = "eventail.io/jobsink.max-running";
export const DEFAULT_MAX_RUNNING = 16;
/** Finished jobs remembered per JobSink for deduplication (running ones always are). */
const LEDGER_SIZE = 10_000;
/** Knative's defaulting adds this variable to every container that does not set it. */
const EXECUTION_MODE = "KNATIVE_EXECUTION_MODE";
const EXITS_METRIC = "eventail_jobsink_job_exits_total";

/** The job template as something to run, or why it cannot run standalone. */
export type JobLaunchPlan =
  | { readonly launch: JobLaunch; readonly maxRunning: number }
  | { readonly unrunnable: string; readonly maxRunning: number };

/**
 * What a JobSink resource runs. Does not throw: a template that cannot run standalone (no
 * command, a Secret missing) becomes `unrunnable`, and the sink answers 503 with that reason.
 */
export function jobLaunch(resource: Resource<JobSinkSpec>, context: SinkContext): JobLaunchPlan {
  const annotated = Number(resource.metadata.annotations?.[MAX_RUNNING_ANNOTATION]);
  const maxRunning =
    Number.isSafeInteger(annotated) && annotated > 0 ? annotated : DEFAULT_MAX_RUNNING;
  const job = resource.spec.job.spec;
  const container = job.template.spec.containers[0];
  if (!container) return { unrunnable: "the job template has no container", maxRunning };
  try {
    const process = localProcess(
      container,
      "spec.job.spec.template.spec.containers[0]",
      resource.origin.file,
      (name, key) => context.secretValue(context.namespace, name, key),
    );
    const env = { ...process.env };
    if (!(container.env ?? []).some((variable) => variable.name === EXECUTION_MODE)) {
      env[EXECUTION_MODE] = "batch";
    }
    const grace = job.template.spec.terminationGracePeriodSeconds;
    return {
      maxRunning,
      launch: {
        ...process,
        env,
        // Kubernetes retries a failed Job 6 times by default; standalone a failing local command
        // runs once unless the manifest asks for more.
        backoffLimit: job.backoffLimit ?? 0,
        ...(job.activeDeadlineSeconds === undefined
          ? {}
          : { deadlineMs: job.activeDeadlineSeconds * 1000 }),
        graceMs: grace === undefined ? 10_000 : grace * 1000,
        retryDelayMs: 1_000,
      },
    };
  } catch (error) {
    return { unrunnable: error instanceof Error ? error.message : String(error), maxRunning };
  }
}

/** Knative's Location of a job: the path its state is asked about at (GET). */
export function jobLocation(namespace: string, name: string, source: string, id: string): string {
  const e = encodeURIComponent;
  return `/namespaces/${e(namespace)}/name/${e(name)}/sources/${e(source)}/ids/${e(id)}`;
}

/**
 * JobSink, standalone: each event starts its job template's first container as a local process
 * (job-run.ts), answering once it runs with Knative's `Location`. An event seen before (same
 * `source` and `id`) starts nothing and gets the same Location, as Knative finds the existing Job
 * by those labels. Exits are logged and counted in eventail_jobsink_job_exits_total.
 */
export class JobSink implements RunnableSink {
  private readonly ledger = new JobLedger(LEDGER_SIZE);
  private readonly terminators = new Set<() => void>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly exits: Counter<"namespace" | "jobsink" | "code">;
  private closed = false;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private plan: JobLaunchPlan,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.exits = exitCounter(metrics);
  }

  /** Jobs running now. */
  get runningJobs(): number {
    return this.running.size;
  }

  update(resource: Resource, context: SinkContext): void {
    this.plan = jobLaunch(resource as Resource<JobSinkSpec>, context);
  }

  job(source: string, id: string): JobStatus | undefined {
    return this.ledger.get(source, id);
  }

  async receive(event: CloudEvent): Promise<SinkReceipt | undefined> {
    const source = attributeString(event, "source") ?? "";
    const id = attributeString(event, "id") ?? "";
    const known = this.ledger.pending(source, id);
    if (known) {
      await known.started.catch((error: unknown) => {
        throw new SinkUnavailableError(`JobSink ${this.id()} could not start a job`, {
          cause: error,
        });
      });
      this.logger.debug({ ...eventLogFields(event), job: known.job }, "event seen before: no job");
      return { headers: { location: known.location } };
    }
    const { plan } = this;
    if (this.closed) throw new SinkUnavailableError(`JobSink ${this.id()} is shutting down`);
    if ("unrunnable" in plan) {
      throw new SinkUnavailableError(`JobSink ${this.id()} cannot run jobs: ${plan.unrunnable}`);
    }
    if (this.running.size >= plan.maxRunning) {
      throw new BackingFullError(`JobSink ${this.id()} runs ${plan.maxRunning} jobs already`, 1);
    }
    const job = jobName(this.name, source, id);
    const location = jobLocation(this.namespace, this.name, source, id);
    const log = this.logger.child({ job, ...eventLogFields(event) });
    const handle = startJob(job, encodeStructured(event), plan.launch, log, (exit) => {
      const code = exit.signal ?? String(exit.code);
      this.exits.inc({ namespace: this.namespace, jobsink: this.name, code });
      log.info({ exitCode: exit.code, signal: exit.signal, attempt: exit.attempt }, "job exited");
    });
    this.ledger.start(source, id, { job, location, started: handle.started });
    this.terminators.add(handle.terminate);
    const done = handle.finished.then((result) => {
      this.terminators.delete(handle.terminate);
      this.running.delete(done);
      this.ledger.finish(source, id, result.state);
      if (result.state === "failed" && result.attempts > 0) {
        log.warn({ attempts: result.attempts, reason: result.reason }, "job failed");
      }
    });
    this.running.add(done);
    try {
      await handle.started;
    } catch (error) {
      this.ledger.forget(source, id);
      const reason = error instanceof Error ? error.message : String(error);
      log.error({ err: error }, "job could not start");
      throw new SinkUnavailableError(`JobSink ${this.id()} could not start a job: ${reason}`, {
        cause: error,
      });
    }
    log.info({ command: plan.launch.command }, "job started");
    return { headers: { location } };
  }

  /** Stops taking events and stops the running jobs (SIGTERM, then SIGKILL after their grace). */
  async close(): Promise<void> {
    this.closed = true;
    for (const terminate of this.terminators) terminate();
    await Promise.all(this.running);
  }

  private id(): string {
    return `${this.namespace}/${this.name}`;
  }
}

/** Stable per event, so logs of a redelivered event name the same job. */
function jobName(sink: string, source: string, id: string): string {
  const digest = createHash("sha256").update(`${source}\u0000${id}`).digest("hex");
  return `${sink}-${digest.slice(0, 10)}`;
}

/** One counter per registry, shared by every JobSink of the process. */
function exitCounter(metrics: Metrics): Counter<"namespace" | "jobsink" | "code"> {
  const existing = metrics.registry.getSingleMetric(EXITS_METRIC);
  if (existing) return existing as Counter<"namespace" | "jobsink" | "code">;
  return new Counter({
    name: EXITS_METRIC,
    help: "JobSink job processes that exited, by exit code (or the signal that ended them)",
    labelNames: ["namespace", "jobsink", "code"] as const,
    registers: [metrics.registry],
  });
}
