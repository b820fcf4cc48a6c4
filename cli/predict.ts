/**
 * `deno task predict --model DIR [--json] PATH...`: a saved model's predictions on image files
 * or folders; folders with class subfolders also report accuracy.
 *
 * @module
 */
import {
  backendRequestFromEnv,
  collectImages,
  confusionMatrix,
  formatAccuracyLine,
  formatConfusionMatrix,
  formatPredictionTable,
  initBackend,
  inputSpecFromMetadata,
  loadModel,
  parseBackendRequest,
  predictImages,
  printableLine,
} from "../lib/mod.ts";
import { PredictError } from "../lib/models/mod.ts";
import { oneOf, parseFlags, UsageError } from "./_args.ts";
import { runMain } from "./_main.ts";

const USAGE = `usage: deno task predict --model DIR [--json] PATH...

Predicts car (0) or plane (1) for image files and folders with a model saved by
deno task reproduce (e.g. outputs/models/transfer). A folder with class subfolders
(cars/, planes/) also gets accuracy and a confusion matrix.

  --model DIR     saved model folder (model.json + weights), or a model.json URL
  --json          print one JSON row per image: file, probability, predicted class, true class
  --backend B     auto | node | wasm | cpu`;

async function main(args: string[]): Promise<void> {
  const { flags, positionals } = parseFlags(
    args,
    {
      model: { type: "string" },
      json: { type: "boolean" },
      backend: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    USAGE,
    { positionals: true },
  );
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  if (!flags.model) throw new UsageError("--model DIR is required.", USAGE);
  if (positionals.length === 0) throw new UsageError("Give at least one image or folder.", USAGE);
  const json = flags.json === true;
  const log = json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  await initBackend(
    flags.backend === undefined ? backendRequestFromEnv() : parseBackendRequest(
      oneOf(flags.backend, ["auto", "node", "wasm", "cpu"] as const, "--backend", USAGE)!,
    ),
    { log: json ? null : log, skipProbe: true },
  );
  const { model, metadata, modelJsonPath } = await loadModel(flags.model as string);
  const spec = inputSpecFromMetadata(metadata, model, modelJsonPath);
  const list = await collectImages(positionals, spec.classNames);
  const rows = await predictImages(model, list, spec, {
    onSkip: (path, reason) => console.error(`Skipped ${printableLine(path)}: ${reason}`),
  });
  if (rows.length === 0) {
    throw new PredictError(
      `None of the ${list.files.length} images could be read (the reasons are above); ` +
        "nothing was predicted.",
    );
  }
  if (json) {
    for (const r of rows) {
      console.log(JSON.stringify({
        file: r.file,
        probability: r.probability,
        predicted_class: r.predictedClass,
        predicted_label: r.predictedLabel,
        true_class: r.trueClass,
      }));
    }
    return;
  }
  log(formatPredictionTable(rows, spec.classNames[1]));
  if (rows.some((r) => r.trueClass !== null)) {
    log("");
    log(formatConfusionMatrix(confusionMatrix(rows, spec.classNames.length), spec.classNames));
    log(formatAccuracyLine(rows));
  }
}

if (import.meta.main) await runMain(() => main(Deno.args));
