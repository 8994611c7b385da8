import { CronPattern } from "croner";
import { isValidAttributeName } from "../../events/event.js";
import { BASE64 } from "../core-kinds.js";
import { childPath } from "../issue.js";
import { asFields, asString, type Check, type Fields, quote } from "./check.js";
import { checkDestination } from "./destination.js";

const TZ_PREFIX = /^(?:CRON_TZ|TZ)=(\S*)\s+(.*)$/s;

/**
 * PingSource, as Knative checks it: a 5-field cron or @hourly-style macro (no @every), an
 * optional `CRON_TZ=Zone ` prefix or spec.timezone (not both), a known IANA zone, data or
 * dataBase64 (not both; JSON objects when contentType is application/json), extension names
 * CloudEvents allows, and a sink that resolves.
 */
export function checkPingSource(check: Check, spec: Fields): void {
  checkSchedule(check, spec);
  checkData(check, spec);
  checkSourceSpec(check, spec);
}

/**
 * What every Knative source shares (duck SourceSpec): a sink that resolves and CloudEvents
 * overrides whose extension names CloudEvents allows. Applied to every sources.knative.dev kind.
 */
export function checkSourceSpec(check: Check, spec: Fields): void {
  checkCeOverrides(check, spec);
  if (spec["sink"] !== undefined) checkDestination(check, spec["sink"], "spec.sink");
}

/**
 * `spec.ceOverrides.extensions` names must be CloudEvents attribute names. checkSourceSpec applies
 * it to sources.knative.dev kinds; the eventail.io source kinds call it from their own rules.
 */
export function checkCeOverrides(check: Check, spec: Fields): void {
  const extensions = asFields(asFields(spec["ceOverrides"])?.["extensions"]);
  for (const name of Object.keys(extensions ?? {})) {
    if (!isValidAttributeName(name)) {
      check.report(
        childPath("spec.ceOverrides.extensions", name),
        `invalid extension name ${quote(name)}: only lower-case letters and digits are allowed`,
      );
    }
  }
}

function checkSchedule(check: Check, spec: Fields): void {
  const schedule = asString(spec["schedule"]);
  const timezone = asString(spec["timezone"]);
  if (timezone !== undefined && !isTimeZone(timezone)) {
    check.report(
      "spec.timezone",
      `unknown time zone ${quote(timezone)} (expected an IANA name like Europe/Paris)`,
    );
  }
  if (schedule === undefined) return;
  let pattern = schedule.trim();
  const prefixed = TZ_PREFIX.exec(pattern);
  if (prefixed) {
    const zone = prefixed[1]!;
    pattern = prefixed[2]!.trim();
    if (!isTimeZone(zone))
      check.report("spec.schedule", `unknown time zone ${quote(zone)} in the CRON_TZ= prefix`);
    if (timezone !== undefined) {
      check.report(
        "spec.timezone",
        "set the time zone here or with the CRON_TZ= prefix of schedule, not both",
      );
    }
  }
  if (pattern.startsWith("@every")) {
    check.report(
      "spec.schedule",
      "@every is not supported; use a 5-field cron or a macro like @hourly",
    );
    return;
  }
  try {
    new CronPattern(pattern, undefined, { mode: "5-part" });
  } catch (error) {
    const reason =
      error instanceof Error ? error.message.replace(/^CronPattern: /, "") : String(error);
    check.report("spec.schedule", `invalid cron schedule ${quote(schedule)}: ${reason}`);
  }
}

function checkData(check: Check, spec: Fields): void {
  const data = asString(spec["data"]);
  const dataBase64 = asString(spec["dataBase64"]);
  const json =
    asString(spec["contentType"])?.split(";")[0]?.trim().toLowerCase() === "application/json";
  if (data !== undefined && dataBase64 !== undefined) {
    check.report("spec.dataBase64", "set data or dataBase64, not both");
    return;
  }
  if (dataBase64 !== undefined) {
    if (!new RegExp(BASE64).test(dataBase64)) {
      check.report("spec.dataBase64", "must be base64 (standard alphabet, padded)");
    } else if (json && !isJsonObject(Buffer.from(dataBase64, "base64").toString("utf8"))) {
      check.report(
        "spec.dataBase64",
        "must decode to a JSON object when contentType is application/json",
      );
    }
  } else if (data !== undefined && json && !isJsonObject(data)) {
    check.report("spec.data", "must be a JSON object when contentType is application/json");
  }
}

/** Intl knows the zones croner schedules in; offsets like "+01:00" are not IANA names. */
function isTimeZone(zone: string): boolean {
  if (zone === "" || /^[+-]/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}
