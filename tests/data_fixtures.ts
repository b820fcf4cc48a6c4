/**
 * Test helpers for the download, archive and dataset-source tests: writers for real-format tar,
 * tar.gz and zip archives (including malicious ones), tiny images, and a local HTTP server on
 * 127.0.0.1 that counts requests and can cut a response off half way.
 *
 * Not a test file itself (no `_test` suffix).
 *
 * @module
 */
import sharp from "sharp";
import { crc32 } from "../lib/data/archive.ts";

const encoder = new TextEncoder();

/** One entry for {@link makeTar}. */
export interface TarSpec {
  name: string;
  /** Content of a file entry (or of a raw pax / GNU entry). */
  data?: Uint8Array | string;
  /** Tar typeflag: "0" file (default), "5" directory, "2" symlink, "1" hardlink, "3" device. */
  type?: string;
  linkName?: string;
  mode?: number;
  /** How to store names longer than 100 bytes: pax `x` header (default) or GNU `L` entry. */
  longName?: "pax" | "gnu" | "ustar-prefix";
}

function toBytes(data: Uint8Array | string | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return typeof data === "string" ? encoder.encode(data) : data;
}

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new Error(`field too long: ${value}`);
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

function tarHeader(
  name: string,
  size: number,
  typeflag: string,
  opts: { linkName?: string; mode?: number; prefix?: string; gnu?: boolean } = {},
): Uint8Array {
  const block = new Uint8Array(512);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, opts.mode ?? (typeflag === "5" ? 0o755 : 0o644));
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 1_700_000_000);
  block.fill(0x20, 148, 156);
  block[156] = typeflag.charCodeAt(0);
  if (opts.linkName) writeString(block, 157, 100, opts.linkName);
  if (opts.gnu) writeString(block, 257, 8, "ustar  \0");
  else {
    writeString(block, 257, 6, "ustar\0");
    writeString(block, 263, 2, "00");
  }
  writeString(block, 265, 32, "root");
  writeString(block, 297, 32, "root");
  if (opts.prefix) writeString(block, 345, 155, opts.prefix);
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

function paxRecords(records: Record<string, string>): Uint8Array {
  let text = "";
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let len = encoder.encode(body).length + 1;
    while (String(len).length + encoder.encode(body).length !== len) len++;
    text += `${len}${body}`;
  }
  return encoder.encode(text);
}

function padded(data: Uint8Array): Uint8Array[] {
  const pad = (512 - (data.length % 512)) % 512;
  return [data, new Uint8Array(pad)];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * Writes a tar archive. `globalPax` adds a pax global header first, as `git archive` (GitHub)
 * does with the commit id.
 */
export function makeTar(
  entries: TarSpec[],
  opts: { globalPax?: Record<string, string>; endBlocks?: boolean } = {},
): Uint8Array {
  const parts: Uint8Array[] = [];
  if (opts.globalPax) {
    const body = paxRecords(opts.globalPax);
    parts.push(tarHeader("pax_global_header", body.length, "g"), ...padded(body));
  }
  for (const e of entries) {
    const type = e.type ?? "0";
    const data = type === "0" ? toBytes(e.data) : new Uint8Array(0);
    let name = e.name;
    let prefix: string | undefined;
    if (encoder.encode(name).length > 100) {
      const style = e.longName ?? "pax";
      if (style === "pax") {
        const body = paxRecords({ path: name });
        parts.push(tarHeader("PaxHeader/long", body.length, "x"), ...padded(body));
        name = name.slice(0, 99);
      } else if (style === "gnu") {
        const body = encoder.encode(name + "\0");
        parts.push(tarHeader("././@LongLink", body.length, "L", { gnu: true }), ...padded(body));
        name = name.slice(0, 99);
      } else {
        const cut = name.lastIndexOf("/", name.length - 2);
        prefix = name.slice(0, cut);
        name = name.slice(cut + 1);
      }
    }
    parts.push(
      tarHeader(name, data.length, type, { linkName: e.linkName, mode: e.mode, prefix }),
      ...padded(data),
    );
  }
  if (opts.endBlocks ?? true) parts.push(new Uint8Array(1024));
  return concat(parts);
}

async function pump(
  data: Uint8Array,
  transform: TransformStream<Uint8Array, Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const out = new Blob([data.slice()]).stream().pipeThrough(transform);
  for await (const c of out) chunks.push(c);
  return concat(chunks);
}

/** gzip-compresses bytes. */
export function gzip(data: Uint8Array): Promise<Uint8Array> {
  return pump(
    data,
    new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
  );
}

/** One entry for {@link makeZip}. */
export interface ZipSpec {
  name: string;
  data?: Uint8Array | string;
  /** Store (0) or deflate (8, default). */
  method?: 0 | 8;
  /** Unix mode in the external attributes, e.g. 0o120777 for a symlink. */
  unixMode?: number;
}

/** Writes a zip archive (like GitHub's zipballs: deflated files, directory entries ending in "/"). */
export async function makeZip(entries: ZipSpec[]): Promise<Uint8Array> {
  const local: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = encoder.encode(e.name);
    const data = toBytes(e.data);
    const isDir = e.name.endsWith("/");
    const method = isDir ? 0 : e.method ?? 8;
    const compressed = method === 8
      ? await pump(
        data,
        new CompressionStream("deflate-raw") as unknown as TransformStream<Uint8Array, Uint8Array>,
      )
      : data;
    const crc = crc32(data);
    const lh = new Uint8Array(30);
    const lv = new DataView(lh.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, method, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, compressed.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, name.length, true);
    local.push(lh, name, compressed);
    const ch = new Uint8Array(46);
    const cv = new DataView(ch.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, (3 << 8) | 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, method, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, compressed.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, name.length, true);
    const mode = e.unixMode ?? (isDir ? 0o040755 : 0o100644);
    cv.setUint32(38, ((mode << 16) >>> 0) | (isDir ? 0x10 : 0), true);
    cv.setUint32(42, offset, true);
    central.push(ch, name);
    offset += 30 + name.length + compressed.length;
  }
  const cd = concat(central);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, offset, true);
  return concat([...local, cd, end]);
}

/** A tiny JPEG of one colour. */
export async function makeJpeg(
  rgb: [number, number, number],
  size = 8,
): Promise<Uint8Array> {
  const buf = await sharp({
    create: {
      width: size,
      height: size,
      channels: 3,
      background: { r: rgb[0], g: rgb[1], b: rgb[2] },
    },
  }).jpeg().toBuffer();
  return new Uint8Array(buf);
}

/**
 * The article's repository as GitHub serves it: `<repo>-<branch>/` with a pax global header,
 * `data/{training_set,val_set,test}/{cars,planes}/*.jpg` and a few other files.
 */
export async function articleRepoEntries(
  root = "image-recognition-with-keras-convolutional-neural-networks-master",
  counts: { train: number; val: number; test: number } = { train: 3, val: 2, test: 2 },
): Promise<TarSpec[]> {
  const car = await makeJpeg([200, 30, 30]);
  const plane = await makeJpeg([30, 30, 200]);
  const entries: TarSpec[] = [
    { name: `${root}/`, type: "5" },
    { name: `${root}/README.md`, data: "# Image Recognition with Keras\n" },
    { name: `${root}/data/`, type: "5" },
  ];
  const splits: [string, number][] = [
    ["training_set", counts.train],
    ["val_set", counts.val],
    ["test", counts.test],
  ];
  for (const [split, n] of splits) {
    entries.push({ name: `${root}/data/${split}/`, type: "5" });
    for (const cls of ["cars", "planes"]) {
      entries.push({ name: `${root}/data/${split}/${cls}/`, type: "5" });
      for (let i = 1; i <= n; i++) {
        entries.push({
          name: `${root}/data/${split}/${cls}/${i}.jpg`,
          data: cls === "cars" ? car : plane,
        });
      }
    }
  }
  return entries;
}

/** Converts tar specs (files and directories only) to zip specs. */
export function tarSpecsToZip(entries: TarSpec[]): ZipSpec[] {
  return entries
    .filter((e) => (e.type ?? "0") === "0" || e.type === "5")
    .map((e) => ({ name: e.name, data: e.data }));
}

/** One CIFAR-10 record: label byte, then 1024 R, 1024 G, 1024 B bytes (row-major 32x32). */
export function cifarRecord(label: number, seed: number): Uint8Array {
  const rec = new Uint8Array(3073);
  rec[0] = label;
  for (let i = 0; i < 3072; i++) rec[1 + i] = (seed * 31 + i * 7 + (i >> 10) * 50) & 0xff;
  return rec;
}

/** The labels of a miniature CIFAR-10 batch, cycling through all ten classes. */
export function cifarLabels(batch: number, records: number): number[] {
  return Array.from({ length: records }, (_, i) => (i + batch) % 10);
}

/**
 * A miniature `cifar-10-binary.tar.gz` in the real layout: `cifar-10-batches-bin/` with
 * `batches.meta.txt`, `data_batch_1.bin`..`data_batch_5.bin`, `test_batch.bin`, `readme.html`.
 * Record `i` of batch `b` (test batch = 6) has label `cifarLabels(b)[i]` and seed `b * 1000 + i`.
 */
export async function makeMiniCifar(recordsPerBatch = 30): Promise<Uint8Array> {
  const dir = "cifar-10-batches-bin";
  const batch = (b: number) =>
    concat(cifarLabels(b, recordsPerBatch).map((label, i) => cifarRecord(label, b * 1000 + i)));
  const entries: TarSpec[] = [
    { name: `${dir}/`, type: "5" },
    {
      name: `${dir}/batches.meta.txt`,
      data: "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n",
    },
  ];
  for (let b = 1; b <= 5; b++) entries.push({ name: `${dir}/data_batch_${b}.bin`, data: batch(b) });
  entries.push({ name: `${dir}/readme.html`, data: "<html></html>" });
  entries.push({ name: `${dir}/test_batch.bin`, data: batch(6) });
  return await gzip(makeTar(entries, { endBlocks: true }));
}

/** A route of the test server: bytes, or "cut" (announce the full length, send half, close). */
export type Route = Uint8Array | { status: number } | { cut: Uint8Array };

/** A local HTTP server on 127.0.0.1 that counts requests. */
export interface TestServer {
  url(path: string): string;
  /** Number of requests received, per path. */
  hits(path: string): number;
  totalHits(): number;
  close(): Promise<void>;
}

/**
 * Serves `routes` on 127.0.0.1 on a free port. Unknown paths answer 404. A `{ cut }` route is
 * served by hand over TCP: it announces the full Content-Length, sends half and closes.
 */
export function startServer(routes: Record<string, Route>): TestServer {
  const counts = new Map<string, number>();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns = new Set<Deno.Conn>();
  const handle = async (conn: Deno.Conn) => {
    conns.add(conn);
    try {
      const buf = new Uint8Array(8192);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      const [method, rawPath] = head.split("\r\n")[0].split(" ");
      const p = new URL(rawPath, "http://x").pathname;
      counts.set(p, (counts.get(p) ?? 0) + 1);
      const route = routes[p];
      const write = async (bytes: Uint8Array) => {
        let off = 0;
        while (off < bytes.length) off += await conn.write(bytes.subarray(off));
      };
      if (route === undefined || "status" in route) {
        const status = route && "status" in route ? route.status : 404;
        const body = encoder.encode(`status ${status}\n`);
        await write(encoder.encode(
          `HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Error"}\r\n` +
            `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        ));
        if (method !== "HEAD") await write(body);
        return;
      }
      const full = "cut" in route ? route.cut : route;
      const body = "cut" in route ? full.subarray(0, Math.floor(full.length / 2)) : full;
      await write(encoder.encode(
        `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n` +
          `Content-Length: ${full.length}\r\nConnection: close\r\n\r\n`,
      ));
      if (method !== "HEAD") await write(body);
    } catch {
      // client went away
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  };
  const loop = (async () => {
    try {
      for await (const conn of listener) handle(conn);
    } catch {
      // listener closed
    }
  })();
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    hits: (p) => counts.get(p) ?? 0,
    totalHits: () => [...counts.values()].reduce((a, b) => a + b, 0),
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await loop;
    },
  };
}

/** A URL on 127.0.0.1 whose port was just freed: connecting is refused. */
export function closedPortUrl(p = "/file.bin"): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return `http://127.0.0.1:${port}${p}`;
}

/** Lists every file under `dir` as relative paths with "/", sorted. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of Deno.readDirSync(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) walk(`${d}/${e.name}`, r);
      else out.push(r);
    }
  };
  walk(dir, "");
  return out.sort();
}
