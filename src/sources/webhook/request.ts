import { createHash, timingSafeEqual } from "node:crypto";

/** The headers of a webhook request as the data plane hands them over. */
export type WebhookHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/** One header value, looked up case-insensitively (several values are joined as HTTP does). */
export function headerOf(headers: WebhookHeaders, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return typeof value === "string" ? value : value.join(", ");
  }
  return undefined;
}

/**
 * Compares two secrets in time that depends on neither their content nor their lengths: both
 * sides are hashed first, because timingSafeEqual itself needs equal lengths. An empty expected
 * secret matches nothing: an empty token proves nothing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  if (expected === "") return false;
  const a = createHash("sha256").update(given, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b);
}

/** The media type of a Content-Type value, lower-cased, parameters dropped. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase();
}
