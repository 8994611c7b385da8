/** Number formatting shared by the extra measurements. */

export function fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `a ÷ b` as "0.85×", or undefined when either is missing. */
export function times(a: number | undefined, b: number | undefined): string | undefined {
  if (a === undefined || b === undefined || b === 0 || !Number.isFinite(a / b)) return undefined;
  return `${fmt(a / b, 2)}×`;
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Minimum, median and maximum of a set of figures. */
export function spread(
  values: readonly number[],
): { min: number; median: number; max: number } | undefined {
  const middle = median(values);
  if (middle === undefined) return undefined;
  return { min: Math.min(...values), median: middle, max: Math.max(...values) };
}
