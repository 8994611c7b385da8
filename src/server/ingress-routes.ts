/**
 * Where the broker, channel and flow ingress lives: the table of its addresses, and the matching
 * of a request line against it. The ingress door (ingress.ts) serves what matches before fastify
 * sees the request, so this file also decides what fastify's router would have: path segments are
 * percent-decoded the way find-my-way decodes parameters, and a path that some other surface's
 * route claims more specifically (a static segment beats a parameter, a parameter a wildcard, from
 * the left) is left to fastify.
 */
import type { DataPlane, IngressTarget } from "../events/ingress-target.js";

/** One ingress surface's address. */
export interface IngressRoute {
  /** URL pattern with :namespace and :name parameters. */
  readonly url: string;
  lookup(params: Record<string, string>): IngressTarget | undefined;
  /** What the 404 says is missing, e.g. "broker". */
  readonly what: string;
}

/** The ingress routes; the reserved prefixes first, the broker's `/:namespace/:name` last. */
export function ingressRoutes(dataPlane: DataPlane): IngressRoute[] {
  return [
    {
      url: "/channels/:namespace/:name",
      lookup: (p) => dataPlane.channel(p["namespace"]!, p["name"]!),
      what: "channel",
    },
    {
      url: "/flows/:namespace/sequences/:name",
      lookup: (p) => dataPlane.flow(p["namespace"]!, "sequences", p["name"]!),
      what: "sequence",
    },
    {
      url: "/flows/:namespace/parallels/:name",
      lookup: (p) => dataPlane.flow(p["namespace"]!, "parallels", p["name"]!),
      what: "parallel",
    },
    {
      url: "/:namespace/:name",
      lookup: (p) => dataPlane.broker(p["namespace"]!, p["name"]!),
      what: "broker",
    },
  ];
}

/** What a request line is to the ingress. */
export type RouteMatch =
  | {
      readonly kind: "route";
      readonly route: IngressRoute;
      readonly params: Record<string, string>;
    }
  /** An ingress address whose parameter is not valid percent-encoding. */
  | { readonly kind: "malformed"; readonly segment: string };

const MAX_MATCHED = 1_024;
const MAX_MATCHED_LENGTH = 512;

/** Segment kinds in find-my-way's order of precedence. */
const WILDCARD = 0;
const PARAM = 1;
const STATIC = 2;

interface Segment {
  readonly kind: typeof WILDCARD | typeof PARAM | typeof STATIC;
  /** The parameter's name, or the static text. */
  readonly text: string;
}

function compile(url: string): Segment[] {
  return url
    .slice(1)
    .split("/")
    .map((part): Segment => {
      if (part === "*") return { kind: WILDCARD, text: part };
      // Mid-segment and regular-expression parameters (`:id.json`, `:id(\\d+)`) count as a
      // parameter: a foreign route is then taken to claim a little more than it does, never less.
      if (part.startsWith(":") || part.includes(":") || part.includes("*")) {
        return { kind: PARAM, text: part.slice(1) };
      }
      return { kind: STATIC, text: part };
    });
}

/** A segment decoded as find-my-way decodes a parameter; undefined when malformed. */
function decode(segment: string): string | undefined {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * The segments' kinds, left to right, when `pattern` matches `parts`; undefined when it does not.
 * A parameter matches any non-empty segment.
 */
function ranks(
  pattern: readonly Segment[],
  parts: readonly (string | undefined)[],
): number[] | undefined {
  const last = pattern[pattern.length - 1];
  if (last?.kind !== WILDCARD && pattern.length !== parts.length) return undefined;
  const out: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const segment = pattern[i]!;
    if (segment.kind === WILDCARD) {
      out.push(WILDCARD);
      return i <= parts.length ? out : undefined;
    }
    if (i >= parts.length) return undefined;
    const part = parts[i];
    if (part === undefined || (segment.kind === STATIC ? part !== segment.text : part === "")) {
      return undefined;
    }
    out.push(segment.kind);
  }
  return out;
}

/** True when ranking `a` wins over `b` (the first segment where they differ decides). */
function outranks(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! > b[i]!;
  }
  return false;
}

/** The ingress routes and the other surfaces' routes, matched against request lines. */
export class IngressRouteTable {
  private readonly ingress: readonly { route: IngressRoute; pattern: Segment[] }[];
  private readonly foreign: Segment[][] = [];
  /**
   * Request lines already matched: a producer posts to the same few addresses, and matching
   * splits, decodes and ranks against every other surface's route per request. Bounded (emptied
   * when full) against clients that invent addresses; results are frozen, so sharing is safe.
   */
  private readonly matched = new Map<string, RouteMatch | null>();

  constructor(routes: readonly IngressRoute[]) {
    this.ingress = routes.map((route) => ({ route, pattern: compile(route.url) }));
  }

  /** Another surface's route (fastify's onRoute hook): paths it claims are left to fastify. */
  addForeign(url: string): void {
    this.foreign.push(compile(url));
    this.matched.clear();
  }

  /** The ingress route a request line addresses, or undefined when it is not ingress. */
  match(url: string): RouteMatch | undefined {
    // Keyed without the query, which matching ignores: a producer adding `?t=<now>` still hits.
    const query = url.indexOf("?");
    const key = query === -1 ? url : url.slice(0, query);
    const known = this.matched.get(key);
    if (known !== undefined) return known ?? undefined;
    const found = this.resolve(key);
    if (key.length <= MAX_MATCHED_LENGTH) {
      if (this.matched.size >= MAX_MATCHED) this.matched.clear();
      this.matched.set(key, found ?? null);
    }
    return found;
  }

  private resolve(url: string): RouteMatch | undefined {
    let end = url.length;
    for (let i = 0; i < url.length; i++) {
      const code = url.charCodeAt(i);
      if (code === 63 /* ? */ || code === 35 /* # */) {
        end = i;
        break;
      }
    }
    let start = 1;
    if (url.charCodeAt(0) !== 47 /* / */) {
      // The absolute form (`POST http://host/ns/name`), which proxies send.
      const scheme = url.indexOf("://");
      if (scheme === -1 || !/^https?$/i.test(url.slice(0, scheme))) return undefined;
      const slash = url.indexOf("/", scheme + 3);
      if (slash === -1 || slash > end) return undefined;
      start = slash + 1;
    }
    const raw = url.slice(start, end).split("/");
    if (raw.length < 2 || raw.length > 4) return undefined;
    const parts = raw.map(decode);
    for (const { route, pattern } of this.ingress) {
      const rank = ranks(pattern, parts);
      if (rank === undefined) {
        const malformed = this.malformedParam(pattern, raw, parts);
        if (malformed !== undefined)
          return Object.freeze({ kind: "malformed", segment: malformed });
        continue;
      }
      for (const other of this.foreign) {
        const otherRank = ranks(other, parts);
        if (otherRank !== undefined && outranks(otherRank, rank)) return undefined;
      }
      const params: Record<string, string> = {};
      for (let i = 0; i < pattern.length; i++) {
        if (pattern[i]!.kind === PARAM) params[pattern[i]!.text] = parts[i]!;
      }
      return Object.freeze({ kind: "route", route, params: Object.freeze(params) });
    }
    return undefined;
  }

  /** The raw segment that failed decoding where `pattern` would otherwise have matched. */
  private malformedParam(
    pattern: readonly Segment[],
    raw: readonly string[],
    parts: readonly (string | undefined)[],
  ): string | undefined {
    if (pattern.length !== parts.length) return undefined;
    let bad: string | undefined;
    for (let i = 0; i < pattern.length; i++) {
      const segment = pattern[i]!;
      if (segment.kind === STATIC && parts[i] !== segment.text) return undefined;
      if (segment.kind === PARAM && parts[i] === undefined) bad ??= raw[i];
    }
    return bad;
  }
}
