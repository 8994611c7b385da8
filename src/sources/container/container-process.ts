import { existsSync } from "node:fs";
import path from "node:path";
import type { Container, ContainerProcess, ContainerSourceSpec } from "./container-source.js";

/**
 * The process a ContainerSource runs: `command` + `args` of its first container, in `workingDir`
 * (relative to the manifest's folder, which is also the default, so examples can name scripts
 * beside them), with the process's environment, the container's `env`, and K_SINK /
 * K_CE_OVERRIDES on top. Throws an Error naming the field when something cannot be resolved.
 */
export function containerProcess(
  spec: ContainerSourceSpec,
  manifestFile: string,
  sinkUrl: string | undefined,
  secretValue: (name: string, key: string) => string | undefined,
  baseEnv: Readonly<Record<string, string | undefined>> = process.env,
): ContainerProcess {
  const container = spec.template.spec.containers[0];
  if (!container) throw new Error("spec.template.spec.containers: no container to run");
  const launch = localProcess(
    container,
    "spec.template.spec.containers[0]",
    manifestFile,
    secretValue,
    baseEnv,
  );
  const env = { ...launch.env };
  if (sinkUrl !== undefined) env["K_SINK"] = sinkUrl;
  if (spec.ceOverrides !== undefined) env["K_CE_OVERRIDES"] = JSON.stringify(spec.ceOverrides);
  return { ...launch, env };
}

/**
 * A container of a pod template as a local process (ContainerSource, JobSink): its command and
 * args, its env over the process's own, its workingDir resolved against the manifest's folder.
 * `at` is the container's field path, for errors. Images are not run, so a command is required.
 */
export function localProcess(
  container: Container,
  at: string,
  manifestFile: string,
  secretValue: (name: string, key: string) => string | undefined,
  baseEnv: Readonly<Record<string, string | undefined>> = process.env,
): ContainerProcess {
  const [command, ...commandArgs] = container.command ?? [];
  if (!command) throw new Error(`${at}.command: required standalone (images are not run)`);
  const manifestDir = path.dirname(path.resolve(manifestFile));
  const baseDir = existsSync(manifestDir) ? manifestDir : process.cwd();
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(baseEnv)) if (value !== undefined) env[name] = value;
  (container.env ?? []).forEach((variable, index) => {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) {
      const value = secretValue(ref.name, ref.key);
      if (value === undefined) {
        throw new Error(
          `${at}.env[${index}].valueFrom.secretKeyRef: key ${ref.key} of Secret ${ref.name} not found`,
        );
      }
      env[variable.name] = value;
    } else {
      env[variable.name] = variable.value ?? "";
    }
  });
  return {
    command,
    args: [...commandArgs, ...(container.args ?? [])],
    env,
    cwd: container.workingDir ? path.resolve(baseDir, container.workingDir) : baseDir,
  };
}
