/** The values a CESQL expression computes: String, Integer (32-bit) and Boolean. */
export type CesqlValue = string | number | boolean;

/** The static types of the language; "Any" is an attribute, whose type is only known at run time. */
export type CesqlType = "String" | "Integer" | "Boolean";
export type StaticType = CesqlType | "Any";

export type CesqlErrorKind =
  | "parse"
  | "math"
  | "cast"
  | "missingFunction"
  | "functionEvaluation"
  | "missingAttribute"
  | "generic";

export interface CesqlError {
  kind: CesqlErrorKind;
  message: string;
}

export interface CesqlParseError extends CesqlError {
  kind: "parse";
  /** 1-based. */
  line: number;
  /** 1-based, counted in Unicode code points. */
  column: number;
}

export type CesqlAttributes = Readonly<Record<string, string | number | boolean>>;

export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;

export function zeroValue(type: StaticType): CesqlValue {
  switch (type) {
    case "String":
      return "";
    case "Integer":
      return 0;
    default:
      // The spec says to assume Boolean when the type of a subexpression is unknown.
      return false;
  }
}
