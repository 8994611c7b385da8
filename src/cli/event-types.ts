/**
 * `eventail eventtypes codegen --lang typescript [-n NS | -A]` (CONTRACT §11): the registry's
 * EventTypes, read from the operations API, as TypeScript types on stdout.
 */
import { type EventTypeLike, typescriptFor } from "../operations/typescript-codegen.js";
import { ApiClient, type ApiClientOptions, runVerb } from "./api-client.js";

export const CODEGEN_LANGUAGES = ["typescript"] as const;

export interface CodegenOptions extends ApiClientOptions {
  namespace?: string;
  allNamespaces?: boolean;
  lang?: string;
}

export async function codegenCommand(options: CodegenOptions): Promise<number> {
  const lang = options.lang ?? "typescript";
  if (!(CODEGEN_LANGUAGES as readonly string[]).includes(lang)) {
    process.stderr.write(
      `eventail eventtypes codegen: --lang must be one of ${CODEGEN_LANGUAGES.join(", ")}, not ${lang}\n`,
    );
    return 2;
  }
  const client = new ApiClient(options);
  return runVerb("eventtypes codegen", async () => {
    const query = options.allNamespaces
      ? ""
      : `?${new URLSearchParams({ namespace: options.namespace ?? "default" })}`;
    const { items } = await client.get<{ items: EventTypeLike[] }>(`/eventtypes${query}`);
    process.stdout.write(typescriptFor(items));
  });
}
