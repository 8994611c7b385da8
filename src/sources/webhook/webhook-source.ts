import type { CloudEvent } from "../../events/event.js";
import type { WebhookOutcome, WebhookTarget } from "../../events/ingress-target.js";
import type { Logger } from "../../observability/logger.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";
import { outcomeOf, refused } from "./answer.js";
import type { WebhookHeaders } from "./request.js";

export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

/** What a webhook source makes of one verified delivery: an event to forward, or an outcome. */
export type Accepted = { readonly event: CloudEvent; readonly id: string } | WebhookOutcome;

/**
 * A source that a service (GitHub, GitLab) calls at POST /sources/{ns}/{name}: refuses deliveries
 * while stopped or without its secret, lets the kind check and convert the request, and answers
 * once the sink has the event (see outcomeOf).
 */
export abstract class WebhookSource implements RunnableSource {
  readonly webhook: WebhookTarget;
  private sink: EventSink | undefined;
  /**
   * An empty token verifies nothing (an empty X-Gitlab-Token matches it, anyone can key an HMAC
   * with ""), so it counts as missing: every delivery is refused, as without the Secret.
   */
  private readonly secret: string | undefined;
  /** Why there is no usable secret, for the log and the 401: "not found", "is empty". */
  private readonly secretProblem: string;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly settings: {
      /** The kind, for logs: "GitHubSource". */
      readonly kind: string;
      readonly secretRef: SecretKeyRef;
      /** What the secret is for, in the 401 message: "signatures", "tokens". */
      readonly secretUse: string;
      readonly bodyLimit: number;
    },
    /** The secret token, or undefined when its Secret or key is missing (or empty: see below). */
    secret: string | undefined,
    protected readonly logger: Logger,
  ) {
    this.secret = secret === undefined || secret === "" ? undefined : secret;
    this.secretProblem = secret === undefined ? "not found" : "is empty";
    this.webhook = {
      namespace,
      name,
      bodyLimit: settings.bodyLimit,
      handle: (request) => this.handle(request.headers, request.body),
    };
  }

  /** Checks the delivery against the secret and turns it into an event (or an answer). */
  protected abstract accept(headers: WebhookHeaders, body: Buffer, secret: string): Accepted;

  async start(sink: EventSink): Promise<void> {
    if (this.secret === undefined) {
      const ref = this.settings.secretRef;
      this.logger.error(
        { secret: `${this.namespace}/${ref.name}`, key: ref.key },
        `${this.settings.kind} secret token ${this.secretProblem}: every delivery will be refused`,
      );
    }
    this.sink = sink;
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }

  async handle(headers: WebhookHeaders, body: Buffer): Promise<WebhookOutcome> {
    const sink = this.sink;
    if (sink === undefined) return refused("stopped", "the source is not running");
    if (this.secret === undefined) {
      const { secretRef: ref, secretUse } = this.settings;
      return refused(
        "bad-signature",
        `cannot verify ${secretUse}: key ${ref.key} of Secret ${this.namespace}/${ref.name} ${this.secretProblem}`,
      );
    }
    const accepted = this.accept(headers, body, this.secret);
    if (!("event" in accepted)) return accepted;
    return outcomeOf(await sink(accepted.event), accepted.id);
  }
}
