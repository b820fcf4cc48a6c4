/**
 * `deno task predict --model DIR [--json] [--explain] PATH...`: a saved model's predictions on
 * image files or folders; folders with class subfolders also report accuracy, the confusion
 * matrix and per-class precision and recall; `--explain` writes a Grad-CAM sheet.
 *
 * @module
 */
import { dirname } from "node:path";
import {
  atomicWriteFile,
  backendRequestFromEnv,
  classScores,
  collectImages,
  confusionMatrix,
  explainImages,
  formatAccuracyLine,
  formatClassScores,
  formatConfusionMatrix,
  formatPredictionTable,
  initBackend,
  inputSpecFromMetadata,
  loadModel,
  parseBackendRequest,
  predictImages,
  printableLine,
  renderGradCamSheet,
} from "../lib/mod.ts";
import { PredictError } from "../lib/models/mod.ts";
import { checkPathFlag, oneOf, parseFlags, UsageError } from "./_args.ts";
import { runMain } from "./_main.ts";

/** At most this many images go on the Grad-CAM sheet: past it the PNG gets unwieldy. */
const MAX_EXPLAINED = 60;

const USAGE = `usage: deno task predict --model DIR [--json] [--explain] PATH...

Predicts the class of image files and folders with a model saved by deno task reproduce
(car 0 or plane 1, e.g. outputs/models/transfer) or deno task train (its own classes). A
folder with class subfolders named like the model's classes (cars/, planes/) also gets
accuracy, a confusion matrix and per-class precision and recall.

  --model DIR         saved model folder (model.json + weights), or a model.json URL
  --json              print one JSON row per image: file, every class's probability, the
                      predicted class, the true class
  --explain           also write a Grad-CAM sheet: each image beside a heatmap of where the
                      model looks for its predicted class (the first ${MAX_EXPLAINED} images)
  --explain-out FILE  where the Grad-CAM sheet goes (default gradcam.png)
  --backend B         auto | node | wasm | cpu`;

async function main(args: string[]): Promise<void> {
  const { flags, positionals } = parseFlags(
    args,
    {
      model: { type: "string" },
      json: { type: "boolean" },
      explain: { type: "boolean" },
      "explain-out": { type: "string" },
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
  const explainOut = flags["explain-out"] as string | undefined ?? "gradcam.png";
  if (flags["explain-out"] !== undefined && !flags.explain) {
    throw new UsageError("--explain-out FILE goes with --explain.", USAGE);
  }
  if (flags.explain) {
    if (!/\.png$/i.test(explainOut)) {
      throw new UsageError(
        `--explain-out ${explainOut}: the Grad-CAM sheet is a PNG; give a name ending in .png.`,
        USAGE,
      );
    }
    await checkPathFlag(dirname(explainOut), "--explain-out (its folder)", "dir", USAGE);
  }
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
        probabilities: Object.fromEntries(spec.classNames.map((c, j) => [c, r.probabilities[j]])),
        predicted_class: r.predictedClass,
        predicted_label: r.predictedLabel,
        top_probability: r.topProbability,
        true_class: r.trueClass,
        true_label: r.trueLabel,
      }));
    }
  } else {
    log(formatPredictionTable(rows, spec.classNames));
    if (rows.some((r) => r.trueClass !== null)) {
      const matrix = confusionMatrix(rows, spec.classNames.length);
      log("");
      log(formatConfusionMatrix(matrix, spec.classNames));
      log("");
      log(formatClassScores(classScores(matrix, spec.classNames)));
      log(formatAccuracyLine(rows));
    }
  }
  if (flags.explain) {
    const first = (xs: readonly unknown[]) => xs.slice(0, MAX_EXPLAINED);
    // Unreadable files were reported above already.
    const explained = await explainImages(model, {
      files: first(list.files) as string[],
      names: first(list.names) as string[],
      trueClasses: first(list.trueClasses) as (number | null)[],
    }, spec);
    const png = await renderGradCamSheet(explained, {
      classNames: spec.classNames,
      title: `Grad-CAM: where ${printableLine(modelJsonPath)} looks`,
    });
    await atomicWriteFile(explainOut, png);
    const note = list.files.length > MAX_EXPLAINED
      ? ` (the first ${MAX_EXPLAINED} of ${list.files.length})`
      : "";
    // With --json, stdout holds only JSON rows; the note goes to stderr.
    console.error(`Grad-CAM sheet of ${explained.length} images${note}: ${explainOut}`);
  }
}

if (import.meta.main) await runMain(() => main(Deno.args));
