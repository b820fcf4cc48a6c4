/** Options of a quick, silent `reproduce` run on a fixture dataset, shared by the reproduce tests. */
import { type ExperimentConfig, experimentConfig } from "../lib/config.ts";
import type { ReproduceOptions } from "../lib/experiment/reproduce.ts";
import { silentReporter } from "../lib/training/progress.ts";

/**
 * A quick (2 epochs x 2 steps, batch 8), baseline-only, one-thread, silent run from `dataDir`
 * (not fetched) into `outDir`; `config` and `extra` override.
 */
export function reproduceOptions(
  dataDir: string,
  outDir: string,
  config: Partial<ExperimentConfig> = {},
  extra: Partial<ReproduceOptions> = {},
): ReproduceOptions {
  return {
    dataDir,
    fetchData: false,
    outDir,
    config: experimentConfig({
      quick: true,
      epochs: 2,
      stepsPerEpoch: 2,
      batchSize: 8,
      transfer: null,
      threads: 1,
      ...config,
    }),
    backend: "auto",
    command: "test",
    log: () => {},
    reporter: silentReporter(),
    ...extra,
  };
}
