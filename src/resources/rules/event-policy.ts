/**
 * EventPolicy's rules beyond its schema, as Knative validates it (eventpolicy_validation.go):
 * each `to` entry is a ref or a selector, each `from` entry a ref or a non-empty sub, `*` only
 * at the end of a sub, and the filters obey the Trigger's dialect rules.
 */
import { childPath } from "../issue.js";
import { asArray, asFields, type Check, type Fields, quote } from "./check.js";
import { checkFilters } from "./filters.js";

function exactlyOne(check: Check, entry: Fields, fields: [string, string], at: string): void {
  const set = fields.filter((field) => entry[field] !== undefined && entry[field] !== null);
  if (set.length === 0) check.report(at, `give one of ${fields.join(", ")}`);
  else if (set.length > 1) check.report(at, `give only one of ${fields.join(", ")}, not both`);
}

export function checkEventPolicy(check: Check, spec: Fields): void {
  asArray(spec["to"]).forEach((item, index) => {
    const entry = asFields(item);
    if (entry) exactlyOne(check, entry, ["ref", "selector"], childPath("spec.to", index));
  });
  asArray(spec["from"]).forEach((item, index) => {
    const entry = asFields(item);
    if (!entry) return;
    const at = childPath("spec.from", index);
    const sub = entry["sub"];
    exactlyOne(check, { ...entry, sub: sub === "" ? undefined : sub }, ["ref", "sub"], at);
    if (typeof sub === "string") {
      const star = sub.indexOf("*");
      if (star !== -1 && star !== sub.length - 1) {
        check.report(
          childPath(at, "sub"),
          `${quote(sub)}: '*' is only allowed as the last character`,
        );
      }
    }
  });
  checkFilters(check, spec["filters"], "spec.filters");
}
