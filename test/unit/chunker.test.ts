import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { type Chunk, Chunker, chunkBuffer, chunkFile, chunkStream, spreadMask } from '../../src/delta/chunker.js'
import { planDelta } from '../../src/delta/manifest.js'
// @ts-ignore -- plain JS helper shared with the e2e tests and the bench
import { pseudoRandomBytes } from '../../scripts/lib/sample.mjs'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** Deterministic incompressible bytes (xorshift32) without any "PK" in them, unless asked. */
function noise(size: number, seed: number): Buffer {
  const buf = pseudoRandomBytes(size, seed || 1)
  // Break every accidental zip signature: these tests place their own.
  for (let i = buf.indexOf('PK'); i >= 0; i = buf.indexOf('PK', i + 1)) buf[i] = 0x51
  return buf
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

/** Every chunk follows the previous one, they cover the input and their hashes are right. */
function expectTiling(chunks: Chunk[], data: Buffer): void {
  let next = 0
  for (const c of chunks) {
    expect(c.offset).toBe(next)
    expect(c.length).toBeGreaterThan(0)
    expect(c.sha256).toBe(sha(data.subarray(c.offset, c.offset + c.length)))
    next += c.length
  }
  expect(next).toBe(data.length)
}

/** The same bytes, pushed in pieces of the given sizes (cycled). */
function chunkInPieces(data: Buffer, sizes: number[], options?: ConstructorParameters<typeof Chunker>[0]): Chunk[] {
  const chunker = new Chunker(options)
  const out: Chunk[] = []
  for (let at = 0, k = 0; at < data.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length])
    out.push(...chunker.push(data.subarray(at, at + size)))
    at += size
  }
  out.push(...chunker.end())
  return out
}

interface Entry {
  name: string
  data: Buffer
  /** DOS time and date fields, as a build's clock would set them. */
  time: number
  /** Sizes after the data (flag bit 3), as `jar` does for deflated entries. */
  descriptor?: boolean
}

/** A zip (all entries written as they are, method 0 or 8 claimed) with local headers, a central directory and its end. */
function zip(entries: Entry[]): { bytes: Buffer; headers: Array<{ offset: number; end: number }> } {
  const parts: Buffer[] = []
  const central: Buffer[] = []
  const headers: Array<{ offset: number; end: number }> = []
  let offset = 0
  for (const e of entries) {
    const name = Buffer.from(e.name)
    const header = Buffer.alloc(30)
    header.writeUInt32LE(0x04034b50, 0)
    header.writeUInt16LE(20, 4)
    header.writeUInt16LE(e.descriptor ? 0x08 : 0, 6)
    header.writeUInt16LE(e.descriptor ? 8 : 0, 8)
    header.writeUInt32LE(e.time, 10)
    header.writeUInt32LE(e.descriptor ? 0 : 0x12345678, 14)
    header.writeUInt32LE(e.descriptor ? 0 : e.data.length, 18)
    header.writeUInt32LE(e.descriptor ? 0 : e.data.length, 22)
    header.writeUInt16LE(name.length, 26)
    header.writeUInt16LE(0, 28)
    headers.push({ offset, end: offset + 30 + name.length })
    parts.push(header, name, e.data)
    if (e.descriptor) {
      const descriptor = Buffer.alloc(16)
      descriptor.writeUInt32LE(0x08074b50, 0)
      descriptor.writeUInt32LE(e.data.length, 8)
      descriptor.writeUInt32LE(e.data.length, 12)
      parts.push(descriptor)
    }
    const cd = Buffer.alloc(46)
    cd.writeUInt32LE(0x02014b50, 0)
    cd.writeUInt32LE(e.time, 12)
    cd.writeUInt32LE(e.data.length, 20)
    cd.writeUInt16LE(name.length, 28)
    cd.writeUInt32LE(offset, 42)
    central.push(cd, name)
    offset += 30 + name.length + e.data.length + (e.descriptor ? 16 : 0)
  }
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  return { bytes: Buffer.concat([...parts, ...central, end]), headers }
}

describe('spreadMask', () => {
  it('sets the asked number of bits, spread over all 32', () => {
    for (const bits of [10, 12, 14, 16, 18]) {
      const mask = spreadMask(bits) >>> 0
      expect(mask.toString(2).replace(/0/g, '').length).toBe(bits)
      expect(mask >>> 31).toBe(1)
    }
  })
})

describe('content-defined chunking', () => {
  const data = noise(3 * 1024 * 1024 + 12345, 7)

  it('tiles the input with correct hashes, chunk sizes between min and max, about avg on average', () => {
    const chunks = chunkBuffer(data, { zip: false })
    expectTiling(chunks, data)
    const chunker = new Chunker()
    for (const c of chunks.slice(0, -1)) {
      expect(c.length).toBeGreaterThanOrEqual(chunker.min)
      expect(c.length).toBeLessThanOrEqual(chunker.max)
    }
    const mean = data.length / chunks.length
    expect(mean).toBeGreaterThan(chunker.avg * 0.75)
    expect(mean).toBeLessThan(chunker.avg * 1.5)
  })

  it('is deterministic, however the bytes are split into pieces', () => {
    const whole = chunkBuffer(data)
    expect(chunkBuffer(data)).toEqual(whole)
    expect(chunkInPieces(data, [1, 2, 3, 29, 30, 31, 4096])).toEqual(whole)
    expect(chunkInPieces(data, [1 << 20])).toEqual(whole)
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 8 }), (sizes) => {
        expect(chunkInPieces(data.subarray(0, 600_000), sizes)).toEqual(chunkBuffer(data.subarray(0, 600_000)))
      }),
      { numRuns: 15 },
    )
  })

  it('reads a file as a stream and gives the same chunks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zdd-chunk-'))
    dirs.push(dir)
    writeFileSync(join(dir, 'f'), data)
    expect(await chunkFile(join(dir, 'f'))).toEqual(chunkBuffer(data))
    async function* pieces() {
      for (let at = 0; at < data.length; at += 65_537) yield data.subarray(at, at + 65_537)
    }
    expect(await chunkStream(pieces())).toEqual(chunkBuffer(data))
  })

  it('keeps only a few bytes of look-ahead between pieces, whatever their size', () => {
    const chunker = new Chunker()
    chunker.push(data.subarray(0, 2 * 1024 * 1024))
    expect((chunker as unknown as { carry: Buffer }).carry.length).toBeLessThanOrEqual(30)
  })

  it('an empty input has no chunks; a tiny one is one chunk', () => {
    expect(chunkBuffer(Buffer.alloc(0))).toEqual([])
    expect(chunkBuffer(Buffer.from('abc'))).toEqual([{ offset: 0, length: 3, sha256: sha(Buffer.from('abc')) }])
  })

  it('boundaries line up again after an insertion or a deletion in the middle', () => {
    const at = 1_500_000
    const inserted = Buffer.concat([data.subarray(0, at), Buffer.from('a few inserted bytes'), data.subarray(at)])
    const deleted = Buffer.concat([data.subarray(0, at), data.subarray(at + 5000)])
    const old = chunkBuffer(data)
    const avg = new Chunker().avg
    for (const changed of [inserted, deleted]) {
      const chunks = chunkBuffer(changed)
      expectTiling(chunks, changed)
      // Before the change: the same chunks. After it: the same hashes again within a chunk or two.
      const before = old.filter((c) => c.offset + c.length <= at - 1)
      expect(chunks.slice(0, before.length)).toEqual(before)
      const oldHashes = new Set(old.map((c) => c.sha256))
      const lost = chunks.filter((c) => !oldHashes.has(c.sha256))
      expect(lost.length).toBeLessThanOrEqual(3)
      const plan = planDelta(chunks, [{ release: 'r', fileName: 'f', chunks: old }])
      expect(plan.sendBytes).toBeLessThan(3 * new Chunker().max)
      expect(plan.sendBytes).toBeLessThan(changed.length / 20)
      expect(plan.totalBytes).toBe(changed.length)
      void avg
    }
  })

  it('smaller avg, smaller chunks; options are checked', () => {
    expect(chunkBuffer(data, { avg: 8192 }).length).toBeGreaterThan(chunkBuffer(data, { avg: 65536 }).length * 4)
    expect(() => new Chunker({ avg: 10_000 })).toThrow(/power of two/)
    expect(() => new Chunker({ avg: 1024, min: 16 })).toThrow(/min/)
  })
})

describe('zip awareness', () => {
  const time1 = 0x5a215c2e
  const time2 = 0x5a21a3f1
  /** Library-like stored entries of some size, small entries, one empty entry and one with a data descriptor. */
  const entries = (time: number, changed = 'v1'): Entry[] => [
    { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n'), time },
    { name: 'BOOT-INF/', data: Buffer.alloc(0), time },
    { name: 'BOOT-INF/lib/big-1.0.jar', data: noise(700_000, 11), time },
    { name: 'BOOT-INF/classes/App.class', data: Buffer.from(`class App { String v = "${changed}"; }`), time, descriptor: true },
    { name: 'BOOT-INF/lib/small-2.0.jar', data: noise(3000, 12), time },
    { name: 'BOOT-INF/lib/mid-3.0.jar', data: noise(90_000, 13), time },
  ]

  it('cuts at every local header and right after it', () => {
    const { bytes, headers } = zip(entries(time1))
    const chunks = chunkBuffer(bytes)
    expectTiling(chunks, bytes)
    const starts = new Set(chunks.map((c) => c.offset))
    for (const h of headers) {
      expect(starts.has(h.offset)).toBe(true)
      expect(starts.has(h.end)).toBe(true)
      expect(chunks.find((c) => c.offset === h.offset)?.length).toBe(h.end - h.offset)
    }
    // The central directory starts a chunk of its own.
    expect(starts.has(bytes.indexOf(Buffer.from([0x50, 0x4b, 1, 2])))).toBe(true)
  })

  it('new time stamps and one changed class: only the headers, the class and the central directory change', () => {
    const old = zip(entries(time1))
    const next = zip(entries(time2, 'v2'))
    const plan = planDelta(chunkBuffer(next.bytes), [{ release: 'r', fileName: 'app.jar', chunks: chunkBuffer(old.bytes) }])
    const headerBytes = next.headers.reduce((sum, h) => sum + h.end - h.offset, 0)
    const centralBytes = next.bytes.length - next.bytes.indexOf(Buffer.from([0x50, 0x4b, 1, 2]))
    expect(plan.sendBytes).toBeLessThanOrEqual(headerBytes + centralBytes + 100)
    // Without zip awareness, each header would spoil the chunk around it.
    const blind = planDelta(chunkBuffer(next.bytes, { zip: false }), [
      { release: 'r', fileName: 'app.jar', chunks: chunkBuffer(old.bytes, { zip: false }) },
    ])
    expect(blind.sendBytes).toBeGreaterThan(plan.sendBytes * 5)
  })

  it('the headers of a stored nested jar cause no cuts: its data is skipped by its size', () => {
    const inner = zip(Array.from({ length: 40 }, (_, i) => ({ name: `com/acme/C${i}.class`, data: noise(700, 100 + i), time: time1 })))
    const outer = zip([
      { name: 'BOOT-INF/lib/acme.jar', data: inner.bytes, time: time1 },
      { name: 'BOOT-INF/lib/other.jar', data: noise(50_000, 3), time: time1 },
    ])
    const dataStart = outer.headers[0].end
    const starts = new Set(chunkBuffer(outer.bytes).map((c) => c.offset))
    for (const h of inner.headers) expect(starts.has(dataStart + h.offset)).toBe(h.offset === 0)
    expect(starts.has(outer.headers[1].offset)).toBe(true)
  })

  it('a signature that is not a plausible header is ignored', () => {
    const fake = Buffer.concat([noise(40_000, 5), Buffer.from('PK\x03\x04'), Buffer.alloc(26, 0xff), noise(40_000, 6)])
    expect(chunkBuffer(fake)).toEqual(chunkBuffer(fake, { zip: false }))
  })
})
