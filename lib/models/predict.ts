/**
 * Predictions of a saved or trained binary classifier on image files: a row per image
 * (probability of class 1, predicted class, true class when the folder says it), the
 * confusion matrix, and the article's summary line
 * "correctly predicted 14 out of 15 images (93%)".
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
  /** Probability of class 1 (`planes`). */
  probability: number;
  /** 1 when the probability exceeds 0.5, else 0 (Keras' binary accuracy threshold). */
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
 * Runs a binary classifier over images, in batches, preparing each image as in training.
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
    const probabilities = tf.tidy(() => {
      const out = model.predict(tf.tensor4d(xs, [images.length, h, w, 3])) as tf.Tensor;
      return out.reshape([images.length, -1]).slice([0, out.shape[1] === 1 ? 0 : 1], [-1, 1]);
    });
    const p = await probabilities.data();
    probabilities.dispose();
    images.forEach((_, k) => {
      const i = index.get(loaded.paths[start + k])!;
      const predicted = p[k] > 0.5 ? 1 : 0;
      const truth = list.trueClasses[i];
      rows.push({
        file: list.names[i],
        path: list.files[i],
        probability: p[k],
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

/**
 * The confusion matrix `matrix[true][predicted]` over the rows with a known class.
 *
 * @example
 * ```ts
 * confusionMatrix(rows, 2); // [[7, 1], [0, 7]]
 * ```
 */
export function confusionMatrix(rows: PredictionRow[], numClasses = 2): number[][] {
  const m = Array.from({ length: numClasses }, () => new Array(numClasses).fill(0));
  for (const r of rows) if (r.trueClass !== null) m[r.trueClass][r.predictedClass]++;
  return m;
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
 * A fixed-width text table of the rows (file, probability of the positive class, predicted,
 * true, correct), for terminals and notebooks.
 *
 * @example
 * ```ts
 * console.log(formatPredictionTable(rows, "planes"));
 * ```
 */
export function formatPredictionTable(rows: PredictionRow[], positiveLabel = "class 1"): string {
  const header = ["file", `P(${printableLine(positiveLabel)})`, "predicted", "true", "correct"];
  const body = rows.map((r) => [
    printableLine(r.file),
    r.probability.toFixed(4),
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

function shapeText(shape: (number | null)[]): string {
  return `[${shape.map((d) => d ?? "null").join(", ")}]`;
}

/**
 * The input preparation a saved model needs, from its metadata (written by `reproduce`), or
 * defaults for models saved elsewhere: the model's input size, rescale 1/255, nearest resize,
 * classes `cars` and `planes`. Everything is checked against the model, so an edited or foreign
 * model is refused with a {@link PredictError} naming `source` rather than silently giving
 * nonsense: the model must take `[h, w, 3]` images and be a binary classifier (one sigmoid output,
 * or two), `classNames` must be two distinct names, `rescale` a number in (0, 1],
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
  if (outputs !== 1 && outputs !== 2) {
    refuse(
      `the model outputs ${outputs} values per image (shape ${shapeText(output)}), but ` +
        "predict needs a binary classifier (1 sigmoid output, or 2), like the models " +
        "`deno task reproduce` saves",
    );
  }
  let classNames = ["cars", "planes"];
  if (m.classNames !== undefined) {
    const names = m.classNames;
    if (
      !Array.isArray(names) || names.length !== 2 ||
      !names.every((n) => typeof n === "string" && n !== "") || names[0] === names[1]
    ) {
      refuse(
        `classNames is ${JSON.stringify(names)}, but the model is a binary classifier: it needs ` +
          `two distinct names, class 0 then class 1 (e.g. ["cars", "planes"])`,
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
