/**
 * Measurements that do not fit one scenario's throughput/latency pipeline (issue 22): each
 * compares Eventail with a baseline taken in the same run and reports rows of figures and ratios.
 */
import type { BenchSettings, Harness } from "../run-scenario.js";
import type { Engines } from "../support/engines.js";

export interface ExtraContext {
  readonly harness: Harness;
  readonly engines: Engines;
  readonly settings: BenchSettings;
  readonly quick: boolean;
}

/** One line of an extra measurement's table. */
export interface ExtraRow {
  /** What was measured, e.g. "memory, 1 trigger under wrk". */
  readonly what: string;
  /** The figure with its unit, e.g. "12,345 events/s". */
  readonly figure: string;
  /** The baseline it is compared with, with its unit, when there is one. */
  readonly baseline?: string;
  /** figure ÷ baseline, e.g. "0.85×". */
  readonly ratio?: string;
  /** A goal and whether this run met it (reported, never enforced). */
  readonly goal?: { readonly text: string; readonly met: boolean | undefined };
}

export interface ExtraResult {
  readonly id: string;
  readonly title: string;
  readonly rows: readonly ExtraRow[];
  readonly problems: readonly string[];
  readonly failed?: string;
  readonly skipped?: string;
}

export interface Extra {
  /** What --only takes. */
  readonly id: string;
  readonly title: string;
  run(context: ExtraContext, problems: string[]): Promise<Omit<ExtraResult, "problems">>;
}

/** Thrown when an engine the measurement needs is absent (as a scenario's skip). */
export class SkipExtra extends Error {}
