/**
 * Predictions of a saved or trained classifier on image files: a row per image (every class's
 * probability, the top class, the true class when the folder says it), the K x K confusion
 * matrix with per-class precision and recall, and the article's summary line
 * "correctly predicted 14 out of 15 images (93%)". Binary models (one sigmoid unit, the
 * article's) and K-class softmax models are both read.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { basename, relative, resolve } from "node:path";
import { isImageFileName, listImageFiles, scanImageDirectory } from "../data/dataset.ts";
import { type Interpolation, loadImages } from "../data/images.ts";
import { CarplaneError } from "../errors.ts";
import { printableLine } from "../_escape.ts";

/** How a model's inputs were prepared in training; saved with the model as metadata. */
export interface InputSpec {
  /** Class names in index order (`["cars", "planes"]`). */
  classNames: string[];
  /** `[height, width]` images are resized to. */
  targetSize: [number, number];
  /** Resize interpolation (Keras' default `nearest`). */
  interpolation: Interpolation;
  /** Factor pixel values 0..255 are multiplied by (the article: 1/255). */
  rescale: number;
}

/** One image's prediction. */
export interface PredictionRow {
  /** The file, relative to the folder it was found in (or as given). */
  file: string;
  /** The file's full path, to show the image beside its row. */
  path: string;
  /**
   * Binary model: the probability of class 1 (`planes`), the sigmoid's output as the article
   * prints it. K > 2 classes: the top class's probability (as `topProbability`).
   */
  probability: number;
  /** Every class's probability, in class index order (binary: `[1 - p, p]`). */
  probabilities: number[];
  /** The predicted class's probability. */
  topProbability: number;
  /**
   * The top class: binary, 1 when the probability of class 1 exceeds 0.5, else 0 (Keras'
   * binary accuracy threshold); K > 2, the most probable class (the first on a tie).
   */
  predictedClass: number;
  /** Name of the predicted class. */
  predictedLabel: string;
  /** True class from the class subfolder, or null when unknown. */
  trueClass: number | null;
  /** Name of the true class, or null. */
  trueLabel: string | null;
  /** Whether the prediction is right, or null when the true class is unknown. */
  correct: boolean | null;
}

/** Raised for paths that hold no images or images that cannot be read. */
export class PredictError extends CarplaneError {
  constructor(message: string) {
    super(message);
    this.name = "PredictError";
  }
}

/** Images to predict: absolute paths, display names and, when known, true classes. */
export interface ImageList {
  files: string[];
  names: string[];
  trueClasses: (number | null)[];
}

/**
 * Collects images from files and folders. A folder with class subfolders named like
 * `classNames` gives true classes (so accuracy can be reported); any other folder is taken as a
 * flat list of images.
 *
 * @example
 * ```ts
 * const list = await collectImages(["data/test"], ["cars", "planes"]);
 * console.log(list.files.length, list.trueClasses[0]); // 15 0
 * ```
 */
export async function collectImages(paths: string[], classNames: string[]): Promise<ImageList> {
  const list: ImageList = { files: [], names: [], trueClasses: [] };
  if (paths.length === 0) throw new PredictError("No images given: pass image files or folders.");
  for (const p of paths) {
    const full = resolve(p);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(full);
    } catch {
      throw new PredictError(`"${p}" does not exist: pass image files or folders of images.`);
    }
    if (info.isFile) {
      if (!isImageFileName(full)) {
        throw new PredictError(
          `"${p}" is not an image file (expected .png, .jpg, .jpeg, .bmp, .gif, .tif, .webp).`,
        );
      }
      list.files.push(full);
      list.names.push(basename(full));
      list.trueClasses.push(null);
      continue;
    }
    const subfolders: string[] = [];
    for await (const entry of Deno.readDir(full)) {
      if (entry.isDirectory && !entry.name.startsWith(".")) subfolders.push(entry.name);
    }
    const labelled = subfolders.length > 0 && subfolders.every((s) => classNames.includes(s));
    if (labelled) {
      const ds = await scanImageDirectory(full, {
        classes: classNames.filter((c) => subfolders.includes(c)),
      });
      ds.files.forEach((f, i) => {
        list.files.push(f);
        list.names.push(relative(full, f));
        list.trueClasses.push(classNames.indexOf(ds.classNames[ds.labels[i]]));
      });
    } else {
      const files = await listImageFiles(full);
      if (files.length === 0) {
        throw new PredictError(
          `"${p}" holds no images (and no class subfolders named ${classNames.join(", ")}).`,
        );
      }
      for (const f of files) {
        list.files.push(f);
        list.names.push(relative(full, f));
        list.trueClasses.push(null);
      }
    }
  }
  return list;
}

/**
 * Runs a classifier (binary or K-class) over images, in batches, preparing each image as in training.
 * Unreadable files are reported through `onSkip` and left out.
 *
 * @example
 * ```ts
 * const rows = await predictImages(model, list, spec);
 * console.log(formatAccuracyLine(rows)); // correctly predicted 14 out of 15 images (93%)
 * ```
 */
export async function predictImages(
  model: tf.LayersModel,
  list: ImageList,
  spec: InputSpec,
  options: { batchSize?: number; onSkip?: (path: string, reason: string) => void } = {},
): Promise<PredictionRow[]> {
  const loaded = await loadImages(list.files, {
    targetSize: spec.targetSize,
    interpolation: spec.interpolation,
  });
  for (const s of loaded.skipped) options.onSkip?.(s.path, s.reason);
  const index = new Map(list.files.map((f, i) => [f, i]));
  const batchSize = options.batchSize ?? 32;
  const [h, w] = spec.targetSize;
  const rows: PredictionRow[] = [];
  for (let start = 0; start < loaded.images.length; start += batchSize) {
    const images = loaded.images.slice(start, start + batchSize);
    const xs = new Float32Array(images.length * h * w * 3);
    images.forEach((img, k) => {
      const offset = k * h * w * 3;
      for (let j = 0; j < img.data.length; j++) xs[offset + j] = img.data[j] * spec.rescale;
    });
    const out = tf.tidy(() => {
      const y = model.predict(tf.tensor4d(xs, [images.length, h, w, 3])) as tf.Tensor;
      return y.reshape([images.length, -1]);
    });
    const units = out.shape[1]!;
    const p = await out.data();
    out.dispose();
    images.forEach((_, k) => {
      const i = index.get(loaded.paths[start + k])!;
      const probabilities = rowProbabilities(p, k, units);
      const predicted = topClass(probabilities);
      const truth = list.trueClasses[i];
      rows.push({
        file: list.names[i],
        path: list.files[i],
        probability: probabilities.length === 2 ? probabilities[1] : probabilities[predicted],
        probabilities,
        topProbability: probabilities[predicted],
        predictedClass: predicted,
        predictedLabel: spec.classNames[predicted] ?? String(predicted),
        trueClass: truth,
        trueLabel: truth === null ? null : spec.classNames[truth] ?? String(truth),
        correct: truth === null ? null : truth === predicted,
      });
    });
  }
  return rows;
}

/** Row `k`'s class probabilities from a model's flat `[n, units]` output. */
function rowProbabilities(p: ArrayLike<number>, k: number, units: number): number[] {
  if (units === 1) return [1 - p[k], p[k]];
  return Array.from({ length: units }, (_, j) => p[k * units + j]);
}

/** The top class: for two classes `p1 > 0.5` (Keras' threshold), else the first maximum. */
function topClass(probabilities: number[]): number {
  if (probabilities.length === 2) return probabilities[1] > 0.5 ? 1 : 0;
  let best = 0;
  for (let j = 1; j < probabilities.length; j++) {
    if (probabilities[j] > probabilities[best]) best = j;
  }
  return best;
}

/**
 * The confusion matrix `matrix[true][predicted]` over the rows with a known class;
 * `numClasses` defaults to the number of probabilities per row (2 without rows).
 *
 * @example
 * ```ts
 * confusionMatrix(rows, 2); // [[7, 1], [0, 7]]
 * ```
 */
export function confusionMatrix(
  rows: PredictionRow[],
  numClasses = Math.max(2, rows[0]?.probabilities?.length ?? 2),
): number[][] {
  const m = Array.from({ length: numClasses }, () => new Array(numClasses).fill(0));
  for (const r of rows) if (r.trueClass !== null) m[r.trueClass][r.predictedClass]++;
  return m;
}

/** Precision and recall of one class (scikit-learn's `classification_report` row). */
export interface ClassScore {
  className: string;
  /** Of the images predicted as this class, the share that are (NaN when none was). */
  precision: number;
  /** Of the images of this class, the share predicted as it (NaN when there are none). */
  recall: number;
  /** Images of this class (the matrix row's sum). */
  support: number;
}

/**
 * Per-class precision and recall from a confusion matrix `matrix[true][predicted]`.
 *
 * @example
 * ```ts
 * classScores([[7, 1], [0, 7]], ["cars", "planes"]);
 * // [{ className: "cars", precision: 1, recall: 0.875, support: 8 }, { ..."planes", 0.875, 1, 7 }]
 * ```
 */
export function classScores(matrix: number[][], classNames: string[]): ClassScore[] {
  return matrix.map((row, k) => {
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((a, r) => a + (r[k] ?? 0), 0);
    return {
      className: classNames[k] ?? String(k),
      precision: predicted ? row[k] / predicted : Number.NaN,
      recall: support ? row[k] / support : Number.NaN,
      support,
    };
  });
}

/**
 * Per-class precision and recall as a text table (`-` where undefined: no image of or
 * predicted as the class).
 *
 * @example
 * ```ts
 * console.log(formatClassScores(classScores(matrix, classNames)));
 * ```
 */
export function formatClassScores(scores: ClassScore[]): string {
  const num = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "-");
  const header = ["class", "precision", "recall", "images"];
  const body = scores.map((s) => [
    printableLine(s.className),
    num(s.precision),
    num(s.recall),
    String(s.support),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), ...body.map(line)].join("\n");
}

/**
 * Correct count, total with known classes, and accuracy.
 *
 * @example
 * ```ts
 * const { correct, total, accuracy } = accuracyOf(rows);
 * ```
 */
export function accuracyOf(
  rows: PredictionRow[],
): { correct: number; total: number; accuracy: number } {
  const known = rows.filter((r) => r.correct !== null);
  const correct = known.filter((r) => r.correct).length;
  return {
    correct,
    total: known.length,
    accuracy: known.length ? correct / known.length : Number.NaN,
  };
}

/**
 * The article's summary line.
 *
 * @example
 * ```ts
 * formatAccuracyLine(rows); // "correctly predicted 14 out of 15 images (93%)"
 * ```
 */
export function formatAccuracyLine(rows: PredictionRow[]): string {
  const { correct, total, accuracy } = accuracyOf(rows);
  if (total === 0) return `predicted ${rows.length} images (true classes unknown)`;
  return `correctly predicted ${correct} out of ${total} images (${Math.round(accuracy * 100)}%)`;
}

/**
 * A fixed-width text table of the rows, for terminals and notebooks. Given one label (the
 * positive class of a binary model) or two class names, its columns are file, P(class 1),
 * predicted, true, correct as the article prints them; given K > 2 class names, P(each class).
 *
 * @example
 * ```ts
 * console.log(formatPredictionTable(rows, "planes"));
 * console.log(formatPredictionTable(rows, ["cats", "dogs", "birds"]));
 * ```
 */
export function formatPredictionTable(
  rows: PredictionRow[],
  classes: string | string[] = "class 1",
): string {
  const names = typeof classes === "string" ? null : classes;
  const each = names !== null && names.length > 2;
  const probHeads = each
    ? names.map((n) => `P(${printableLine(n)})`)
    : [`P(${printableLine(names ? names[1] ?? "class 1" : classes as string)})`];
  const header = ["file", ...probHeads, "predicted", "true", "correct"];
  const body = rows.map((r) => [
    printableLine(r.file),
    ...(each ? names.map((_, j) => (r.probabilities[j] ?? Number.NaN).toFixed(4)) : [
      r.probability.toFixed(4),
    ]),
    printableLine(r.predictedLabel),
    r.trueLabel === null ? "?" : printableLine(r.trueLabel),
    r.correct === null ? "" : r.correct ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/**
 * The confusion matrix as text with class names.
 *
 * @example
 * ```ts
 * console.log(formatConfusionMatrix(confusionMatrix(rows), ["cars", "planes"]));
 * ```
 */
export function formatConfusionMatrix(matrix: number[][], classNames: string[]): string {
  const names = classNames.map((c, i) => printableLine(c ?? String(i)));
  const w = Math.max(10, ...names.map((n) => n.length + 2));
  const head = "true \\ predicted".padEnd(18) + names.map((n) => n.padStart(w)).join("");
  const rows = matrix.map((r, i) =>
    names[i].padEnd(18) + r.map((v) => String(v).padStart(w)).join("")
  );
  return [head, ...rows].join("\n");
}

/** The most classes a saved model may have: past it the metadata is not believed. */
export const MAX_CLASSES = 10_000;

function shapeText(shape: (number | null)[]): string {
  return `[${shape.map((d) => d ?? "null").join(", ")}]`;
}

/**
 * The input preparation a saved model needs, from its metadata (written by `reproduce` and
 * `train`), or
 * defaults for models saved elsewhere: the model's input size, rescale 1/255, nearest resize,
 * classes `cars` and `planes`. Everything is checked against the model, so an edited or foreign
 * model is refused with a {@link PredictError} naming `source` rather than silently giving
 * nonsense: the model must take `[h, w, 3]` images and output one value per image (a binary
 * classifier's sigmoid) or K >= 2 (softmax over K classes), `classNames` must be that many
 * distinct names (two for one sigmoid output; without metadata `cars`/`planes` for two
 * classes, while a model of more classes must name them), `rescale` a number in (0, 1],
 * `interpolation` "nearest" or "bilinear", `targetSize` the model's input size.
 *
 * @example
 * ```ts
 * const { model, metadata, modelJsonPath } = await loadModel("outputs/models/transfer");
 * const spec = inputSpecFromMetadata(metadata, model, modelJsonPath);
 * ```
 */
export function inputSpecFromMetadata(
  metadata: Record<string, unknown> | null | undefined,
  model: tf.LayersModel,
  source = "the model",
): InputSpec {
  const m = metadata ?? {};
  const refuse = (what: string): never => {
    throw new PredictError(
      `${source}: ${what}. Use the model.json that \`deno task reproduce\` saved, or fix the ` +
        "metadata (userDefinedMetadata) in it.",
    );
  };
  const input = model.inputs[0].shape;
  if (input.length !== 4 || (input[3] !== null && input[3] !== 3)) {
    refuse(
      `the model takes inputs of shape ${shapeText(input)}, not batches of RGB images ` +
        "[batch, height, width, 3]",
    );
  }
  const output = model.outputs[0].shape;
  const outputs = output.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
  if (!Number.isInteger(outputs) || outputs < 1 || outputs > MAX_CLASSES) {
    refuse(
      `the model outputs ${outputs} values per image (shape ${shapeText(output)}), but ` +
        `predict needs a classifier: 1 sigmoid output (binary) or 2 to ${MAX_CLASSES} class ` +
        "probabilities, like the models `deno task reproduce` and `deno task train` save",
    );
  }
  const k = Math.max(2, outputs);
  if (k > 2 && m.classNames === undefined) {
    // A K-class model without names is most likely not one of ours (ImageNet's 1000 classes):
    // numbered classes would print confident nonsense.
    refuse(
      `the model outputs ${outputs} values per image (shape ${shapeText(output)}) but its ` +
        `metadata has no classNames: predict needs the ${outputs} class names in index order, ` +
        "as `deno task train` saves them",
    );
  }
  let classNames = ["cars", "planes"];
  if (m.classNames !== undefined) {
    const names = m.classNames;
    if (
      !Array.isArray(names) || names.length !== k ||
      !names.every((n) => typeof n === "string" && n !== "") || new Set(names).size !== k
    ) {
      refuse(
        `classNames is ${JSON.stringify(names)}, but the model ${
          k === 2 ? "is a binary classifier" : `outputs ${k} class probabilities`
        }: it needs ${k} distinct names in class index order (e.g. ${
          k === 2 ? '["cars", "planes"]' : '["cats", "dogs", "birds"] for 3'
        })`,
      );
    }
    classNames = names as string[];
  }
  const modelSize: [number | null, number | null] = [input[1], input[2]];
  let targetSize: [number, number] = [modelSize[0] ?? 64, modelSize[1] ?? 64];
  if (m.targetSize !== undefined) {
    const t = m.targetSize;
    if (
      !Array.isArray(t) || t.length !== 2 ||
      !t.every((n) => Number.isInteger(n) && n > 0 && n <= 4096)
    ) {
      refuse(`targetSize is ${JSON.stringify(t)}; expected [height, width] in pixels`);
    }
    const [h, w] = t as number[];
    if (
      (modelSize[0] !== null && modelSize[0] !== h) || (modelSize[1] !== null && modelSize[1] !== w)
    ) {
      refuse(`targetSize [${h}, ${w}] disagrees with the model's input [${modelSize.join(", ")}]`);
    }
    targetSize = [h, w];
  }
  let interpolation: Interpolation = "nearest";
  if (m.interpolation !== undefined) {
    if (m.interpolation !== "nearest" && m.interpolation !== "bilinear") {
      refuse(
        `interpolation is ${JSON.stringify(m.interpolation)}; expected "nearest" or "bilinear"`,
      );
    }
    interpolation = m.interpolation as Interpolation;
  }
  let rescale = 1 / 255;
  if (m.rescale !== undefined) {
    const r = m.rescale;
    if (typeof r !== "number" || !Number.isFinite(r) || r <= 0 || r > 1) {
      refuse(
        `rescale is ${JSON.stringify(r)}; expected the factor pixel values 0..255 are multiplied ` +
          "by, a number above 0 and at most 1 (1/255 for the article)",
      );
    }
    rescale = r as number;
  }
  return { classNames, targetSize, interpolation, rescale };
}
