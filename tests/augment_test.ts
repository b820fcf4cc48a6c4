import assert from "node:assert/strict";
import {
  affineMatrix,
  applyTransform,
  augmentImage,
  createRng,
  type FillMode,
  type ImageTensor,
  randomTransform,
  standardize,
} from "../lib/data/augment.ts";

/** A one-channel image whose value at (r, c) is `f(r, c)`. */
function image(height: number, width: number, f: (r: number, c: number) => number): ImageTensor {
  const data = new Float32Array(height * width);
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) data[r * width + c] = f(r, c);
  return { data, height, width, channels: 1 };
}

function at(img: ImageTensor, r: number, c: number, k = 0): number {
  return img.data[(r * img.width + c) * img.channels + k];
}

function assertClose(actual: number, expected: number, message?: string, tol = 1e-4) {
  assert.ok(Math.abs(actual - expected) <= tol, `${message ?? ""} ${actual} != ${expected}`);
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

Deno.test("the identity transform returns an equal copy of the input", () => {
  const img = image(5, 4, (r, c) => r * 10 + c);
  const out = applyTransform(img, {});
  assert.deepEqual(out.data, img.data);
  assert.notEqual(out.data, img.data);
  const neutral = applyTransform(img, { theta: 0, tx: 0, ty: 0, shear: 0, zx: 1, zy: 1 });
  assert.deepEqual(neutral.data, img.data);
  assert.equal(affineMatrix({}, 5, 4), null);
});

Deno.test("horizontal flip mirrors columns and vertical flip mirrors rows, per channel", () => {
  const rgb: ImageTensor = {
    data: Float32Array.from({ length: 2 * 3 * 3 }, (_, i) => i),
    height: 2,
    width: 3,
    channels: 3,
  };
  const h = applyTransform(rgb, { flipHorizontal: true });
  const v = applyTransform(rgb, { flipVertical: true });
  for (let r = 0; r < 2; r++) {
    for (let c = 0; c < 3; c++) {
      for (let k = 0; k < 3; k++) {
        assert.equal(at(h, r, c, k), at(rgb, r, 2 - c, k));
        assert.equal(at(v, r, c, k), at(rgb, 1 - r, c, k));
      }
    }
  }
});

Deno.test("a 90 degree rotation equals a clockwise quarter turn about Keras' off-centre pivot", () => {
  // Asymmetric 4x4 image. Keras centres on o = h/2 + 0.5 = 2.5 (not the true centre 1.5), so
  // with R = [[0, -1], [1, 0]] the output samples in[5 - c, r] (clamped by "nearest" fill):
  // the true quarter turn in[3 - c, r] shifted two columns right, edge columns repeated.
  const img = image(4, 4, (r, c) => r * 4 + c + (r === 0 && c === 1 ? 100 : 0));
  const out = applyTransform(img, { theta: 90 });
  const quarterTurn = (r: number, c: number) => at(img, 3 - c, r);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      assertClose(at(out, r, c), at(img, Math.min(5 - c, 3), r), `(${r},${c})`);
      assertClose(at(out, r, c), quarterTurn(r, Math.max(c - 2, 0)), `(${r},${c}) shifted`);
    }
  }
});

Deno.test("integer shifts move content by whole pixels and nearest fill repeats the edge", () => {
  const img = image(4, 5, (r, c) => r * 10 + c);
  // tx shifts rows (Keras' height shift): out[r, c] = in[r + tx, c].
  const up = applyTransform(img, { tx: 1 });
  // ty shifts columns (width shift): out[r, c] = in[r, c + ty].
  const right = applyTransform(img, { ty: -2 });
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 5; c++) {
      assert.equal(at(up, r, c), at(img, Math.min(r + 1, 3), c));
      assert.equal(at(right, r, c), at(img, r, Math.max(c - 2, 0)));
    }
  }
});

Deno.test("constant, reflect and wrap fill modes follow scipy.ndimage", () => {
  const img = image(4, 1, (r) => r + 1); // column [1, 2, 3, 4]
  const col = (out: ImageTensor) => [0, 1, 2, 3].map((r) => at(out, r, 0));
  // Output row r samples input row r + 2.
  assert.deepEqual(col(applyTransform(img, { tx: 2 }, { fillMode: "nearest" })), [3, 4, 4, 4]);
  assert.deepEqual(
    col(applyTransform(img, { tx: 2 }, { fillMode: "constant", cval: -1 })),
    [3, 4, -1, -1],
  );
  // reflect (d c b a | a b c d | d c b a): row 4 -> 3, row 5 -> 2.
  assert.deepEqual(col(applyTransform(img, { tx: 2 }, { fillMode: "reflect" })), [3, 4, 4, 3]);
  // scipy's legacy "wrap" has period n - 1: row 4 -> 1, row 5 -> 2.
  assert.deepEqual(col(applyTransform(img, { tx: 2 }, { fillMode: "wrap" })), [3, 4, 2, 3]);
  // Order 0 takes the nearest sample instead of interpolating.
  assert.deepEqual(col(applyTransform(img, { tx: 0.6 }, { order: 0 })), [2, 3, 4, 4]);
  assertClose(col(applyTransform(img, { tx: 0.6 }, { order: 1 }))[0], 1.6);
});

Deno.test("zoom keeps a constant region constant and magnifies about Keras' pivot", () => {
  const flat = image(6, 6, () => 7);
  const zoomed = applyTransform(flat, { zx: 2, zy: 2 });
  for (const v of zoomed.data) assertClose(v, 7);
  // zx = zy = 0.5 magnifies: c_in = 0.5 c + 0.5 o_c with o_c = 8/2 + 0.5 = 4.5, so on a
  // column ramp (value = column) the output is 0.5 c + 2.25 (linear interpolation is exact).
  const ramp = image(8, 8, (_, c) => c);
  const magnified = applyTransform(ramp, { zx: 0.5, zy: 0.5 });
  for (let c = 0; c < 8; c++) assertClose(at(magnified, 3, c), 0.5 * c + 2.25, `c=${c}`);
});

Deno.test("shear is in degrees and slants rows along columns as Keras' matrix says", () => {
  // S = [[1, -sin s, 0], [0, cos s, 0]], centred on o = 9/2 + 0.5 = 5:
  //   r_in = r - sin(s) (c - 5),   c_in = cos(s) (c - 5) + 5.
  // With s = 30 degrees (sin = 0.5): on a row ramp (value = row), out[4, 1] = 4 + 2 = 6 and
  // out[4, 7] = 4 - 1 = 3: left of the pivot reads lower rows, right of it higher rows.
  const rows = image(9, 9, (r) => r);
  const sheared = applyTransform(rows, { shear: 30 });
  assertClose(at(sheared, 4, 1), 6);
  assertClose(at(sheared, 4, 7), 3);
  for (let r = 0; r < 9; r++) {
    for (let c = 0; c < 9; c++) assertClose(at(sheared, r, c), clamp(r - 0.5 * (c - 5), 0, 8));
  }
  // On a column ramp the columns are compressed by cos(s) about the pivot.
  const cols = image(9, 9, (_, c) => c);
  const s2 = applyTransform(cols, { shear: 30 });
  assertClose(at(s2, 4, 1), Math.cos(Math.PI / 6) * -4 + 5);
  // A shear of 0.2 degrees (the article's shear_range) is tiny: at most sin(0.2 deg) * 5 px.
  const tiny = applyTransform(rows, { shear: 0.2 });
  assertClose(at(tiny, 4, 0), 4 + Math.sin((0.2 * Math.PI) / 180) * 5);
});

Deno.test("rotation, shift, shear and zoom compose in Keras' order R @ T @ S @ Z", () => {
  const m = affineMatrix({ theta: 90, tx: 1, zx: 2 }, 2, 2)!;
  // R @ T = [[0, -1, 0], [1, 0, 1]]; @ diag(2, 1, 1) -> [[0, -1, 0], [2, 0, 1]]. Centring on
  // o = 2/2 + 0.5 = 1.5 keeps the linear part and adds o - (linear part) @ (o, o) to the offset.
  const o = 1.5;
  const core = [0, -1, 0, 2, 0, 1];
  const expected = [
    core[0],
    core[1],
    core[2] + o - (core[0] * o + core[1] * o),
    core[3],
    core[4],
    core[5] + o - (core[3] * o + core[4] * o),
  ];
  [m[0], m[1], m[2], m[3], m[4], m[5]].forEach((v, i) => assertClose(v, expected[i], `m${i}`));
});

Deno.test("seeded random transforms are reproducible and stay within their ranges", () => {
  const options = {
    rotationRange: 20,
    widthShiftRange: 0.1,
    heightShiftRange: 0.2,
    shearRange: 0.2,
    zoomRange: 0.2,
    horizontalFlip: true,
  };
  const a = createRng(7);
  const b = createRng(7);
  const c = createRng(8);
  let sawFlip = false;
  let sawNoFlip = false;
  for (let i = 0; i < 300; i++) {
    const p = randomTransform(options, a, [64, 64, 3]);
    assert.deepEqual(p, randomTransform(options, b, [64, 64, 3]));
    assert.ok(p.theta >= -20 && p.theta < 20);
    assert.ok(Math.abs(p.tx) <= 0.2 * 64);
    assert.ok(Math.abs(p.ty) <= 0.1 * 64);
    assert.ok(p.shear >= -0.2 && p.shear < 0.2);
    assert.ok(p.zx >= 0.8 && p.zx < 1.2 && p.zy >= 0.8 && p.zy < 1.2);
    assert.equal(p.flipVertical, false);
    assert.equal(p.channelShiftIntensity, null);
    sawFlip ||= p.flipHorizontal;
    sawNoFlip ||= !p.flipHorizontal;
  }
  assert.ok(sawFlip && sawNoFlip);
  assert.notDeepEqual(
    randomTransform(options, createRng(7), [64, 64, 3]),
    randomTransform(options, c, [64, 64, 3]),
  );
});

Deno.test("zx and zy are drawn independently", () => {
  const rng = createRng(3);
  const zx: number[] = [];
  const zy: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const p = randomTransform({ zoomRange: 0.2 }, rng, [8, 8, 3]);
    zx.push(p.zx);
    zy.push(p.zy);
  }
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const mx = mean(zx);
  const my = mean(zy);
  let cov = 0;
  let vx = 0;
  let vy = 0;
  for (let i = 0; i < zx.length; i++) {
    cov += (zx[i] - mx) * (zy[i] - my);
    vx += (zx[i] - mx) ** 2;
    vy += (zy[i] - my) ** 2;
  }
  assert.ok(Math.abs(cov / Math.sqrt(vx * vy)) < 0.1);
  assert.ok(zx.filter((v, i) => v === zy[i]).length === 0);
});

Deno.test("shift and zoom ranges accept Keras' integer, list and pair forms", () => {
  const rng = createRng(11);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const p = randomTransform(
      { widthShiftRange: 3, heightShiftRange: [5, 10], zoomRange: [0.5, 0.9] },
      rng,
      [32, 32, 3],
    );
    assert.ok(Number.isInteger(p.ty) && Math.abs(p.ty) <= 2); // choice(3) * sign
    seen.add(p.ty);
    assert.ok([5, 10].includes(Math.abs(p.tx)));
    assert.ok(p.zx >= 0.5 && p.zx < 0.9);
  }
  assert.ok(seen.has(2) && seen.has(-2) && seen.has(0));
  const p = randomTransform({ zoomRange: 0 }, rng, [4, 4, 3]);
  assert.equal(p.zx, 1);
  assert.equal(p.zy, 1);
  const pixels = randomTransform({ widthShiftRange: 2.5 }, rng, [4, 4, 3]);
  assert.ok(Math.abs(pixels.ty) <= 2.5); // a non-integer >= 1 is a pixel range
});

Deno.test("standardize rescales in place and can centre each sample", () => {
  const data = Float32Array.from([0, 51, 255]);
  assert.equal(standardize(data, { rescale: 1 / 255 }), data);
  assertClose(data[1], 0.2);
  assertClose(data[2], 1);
  const centred = standardize(Float32Array.from([1, 2, 3]), { samplewiseCenter: true });
  assert.deepEqual([...centred], [-1, 0, 1]);
  const unit = standardize(Float32Array.from([1, 3]), {
    samplewiseCenter: true,
    samplewiseStdNormalization: true,
  });
  assertClose(unit[0], -1);
  assertClose(unit[1], 1);
});

Deno.test("the seeded generator gives uniform draws in range and true permutations", () => {
  const rng = createRng(42);
  for (let i = 0; i < 1000; i++) {
    const u = rng.uniform(-2, 3);
    assert.ok(u >= -2 && u < 3);
  }
  const perm = rng.permutation(50);
  assert.deepEqual([...perm].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(createRng(5).permutation(20), createRng(5).permutation(20));
  assert.notDeepEqual(createRng(5).permutation(20), createRng(6).permutation(20));
});

Deno.test("augmentImage draws, applies and rescales one image", () => {
  const img: ImageTensor = {
    data: Float32Array.from({ length: 8 * 8 * 3 }, (_, i) => i % 256),
    height: 8,
    width: 8,
    channels: 3,
  };
  const out = augmentImage(
    img,
    { rescale: 1 / 255, horizontalFlip: true, zoomRange: 0.2 },
    createRng(1),
  );
  assert.equal(out.length, img.data.length);
  for (const v of out) assert.ok(v >= 0 && v <= 1);
  assert.equal(img.data[1], 1); // the input is untouched
});

Deno.test("a combined transform matches keras-preprocessing 1.1.2 run through scipy 1.10 for every fill mode", () => {
  // Reference: Keras' matrix for theta=17, tx=1.3, ty=-0.7, shear=12, zx=0.9, zy=1.15 on an 8x8
  // ramp (value = 3 * (8r + c)), centred on 4.5, through scipy.ndimage.affine_transform(order=1,
  // cval=5), sampled at (0,0), (2,5), (4,4), (7,1), (7,7).
  const ramp = image(8, 8, (r, c) => 3 * (r * 8 + c));
  const params = { theta: 17, tx: 1.3, ty: -0.7, shear: 12, zx: 0.9, zy: 1.15 };
  const expected: Record<string, number[]> = {
    nearest: [110.0091, 96.5849, 149.8394, 172.0445, 181.9371],
    constant: [5.0, 96.5849, 149.8394, 5.0, 5.0],
    reflect: [111.5079, 96.5849, 149.8394, 122.8229, 181.9371],
    wrap: [126.5103, 96.5849, 149.8394, 77.2661, 162.0863],
  };
  for (const [mode, values] of Object.entries(expected)) {
    const out = applyTransform(ramp, params, { fillMode: mode as FillMode, cval: 5 });
    [[0, 0], [2, 5], [4, 4], [7, 1], [7, 7]].forEach(([r, c], i) =>
      assertClose(at(out, r, c), values[i], `${mode} (${r},${c})`, 1e-3)
    );
  }
});
