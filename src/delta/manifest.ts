/**
 * A release's chunk manifest, stored on the host beside its jar (`releases/<release>/chunks`), and
 * the plan that rebuilds a new jar from the chunks old releases already hold plus the missing ones.
 * Pure: no I/O.
 */
import type { Chunk } from './chunker.js'

/** The manifest's file name in a release directory. */
export const MANIFEST_FILE = 'chunks'

/** One line per chunk, in file order: `sha256 offset length`. */
export function formatManifest(chunks: readonly Chunk[]): string {
  let text = ''
  for (const c of chunks) text += `${c.sha256} ${c.offset} ${c.length}\n`
  return text
}

const LINE = /^([0-9a-f]{64}) (\d{1,15}) (\d{1,15})$/

/**
 * Reads a manifest; undefined when it is not one (a torn write, a foreign file): the chunks must
 * follow each other from offset 0 without gap or overlap, each at least a byte long.
 */
export function parseManifest(text: string): Chunk[] | undefined {
  const chunks: Chunk[] = []
  let next = 0
  for (const line of text.split('\n')) {
    if (line === '') continue
    const m = LINE.exec(line)
    if (!m) return undefined
    const offset = Number(m[2])
    const length = Number(m[3])
    if (offset !== next || length < 1) return undefined
    chunks.push({ sha256: m[1], offset, length })
    next = offset + length
  }
  return chunks
}

/** The total length the chunks describe. */
export function manifestSize(chunks: readonly Chunk[]): number {
  const last = chunks[chunks.length - 1]
  return last ? last.offset + last.length : 0
}

export interface OldManifest {
  release: string
  /** The jar's file name in that release. */
  fileName: string
  chunks: Chunk[]
}

/** Where bytes come from: an old release's jar, or the delta file that is uploaded. */
export type RunSource = { kind: 'copy'; release: string; fileName: string } | { kind: 'send' }

export interface DeltaRun {
  source: RunSource
  /** Offset in the source: the old jar, or the delta file. */
  sourceOffset: number
  /** Offset in the new file (for a `send` run, also where its bytes are read from the local jar). */
  targetOffset: number
  length: number
}

export interface DeltaPlan {
  runs: DeltaRun[]
  /** Bytes of the delta file: the chunks no old release holds, concatenated in order. */
  sendBytes: number
  /** Bytes copied on the host from old releases. */
  copyBytes: number
  /** The new file's size. */
  totalBytes: number
  /** Chunks sent and chunks found. */
  sentChunks: number
  copiedChunks: number
  /** The old releases the copy runs read from, in the order they were given. */
  sources: Array<{ release: string; fileName: string }>
}

interface Found {
  source: number
  offset: number
}

/**
 * Plans the new file: each chunk is copied from an old release that has a chunk with the same
 * sha256 and length, or sent. Among several copies of a chunk, the one that continues the previous
 * copy run wins (so runs coalesce), then the first release given (the newest, by the caller's
 * order), then the lowest offset. Contiguous chunks from the same old file become one run; so do
 * contiguous sent chunks. A copy run shorter than `minCopyRun` bytes is sent instead: each run
 * costs the host a process, which is dearer than sending a few hundred bytes.
 */
export function planDelta(
  newChunks: readonly Chunk[],
  oldManifests: readonly OldManifest[],
  options: { minCopyRun?: number } = {},
): DeltaPlan {
  const minCopyRun = options.minCopyRun ?? 0
  const index = new Map<string, Found[]>()
  oldManifests.forEach((m, source) => {
    for (const c of m.chunks) {
      const key = `${c.sha256}:${c.length}`
      const list = index.get(key)
      if (!list) index.set(key, [{ source, offset: c.offset }])
      else if (list.length < 8) list.push({ source, offset: c.offset }) // a few places are plenty to continue runs
    }
  })

  // First the copy runs as long as they can be (source -1: sent).
  interface Draft {
    source: number
    sourceOffset: number
    targetOffset: number
    length: number
    chunks: number
  }
  const drafts: Draft[] = []
  let last: Draft | undefined
  for (const c of newChunks) {
    const candidates = index.get(`${c.sha256}:${c.length}`)
    const continuing =
      last && last.source >= 0
        ? candidates?.find((f) => f.source === last!.source && f.offset === last!.sourceOffset + last!.length)
        : undefined
    const pick = continuing ?? candidates?.[0]
    const source = pick ? pick.source : -1
    if (last && last.source === source && (source < 0 || continuing)) {
      last.length += c.length
      last.chunks++
    } else {
      last = { source, sourceOffset: pick ? pick.offset : 0, targetOffset: c.offset, length: c.length, chunks: 1 }
      drafts.push(last)
    }
  }

  // Then short copy runs become sent bytes, and sent runs that now touch merge.
  const runs: DeltaRun[] = []
  const used = new Set<number>()
  let sendBytes = 0
  let copyBytes = 0
  let sentChunks = 0
  let copiedChunks = 0
  for (const d of drafts) {
    const send = d.source < 0 || d.length < minCopyRun
    if (send) {
      const previous = runs[runs.length - 1]
      if (previous?.source.kind === 'send') previous.length += d.length
      else runs.push({ source: { kind: 'send' }, sourceOffset: sendBytes, targetOffset: d.targetOffset, length: d.length })
      sendBytes += d.length
      sentChunks += d.chunks
    } else {
      const { release, fileName } = oldManifests[d.source]
      used.add(d.source)
      runs.push({
        source: { kind: 'copy', release, fileName },
        sourceOffset: d.sourceOffset,
        targetOffset: d.targetOffset,
        length: d.length,
      })
      copyBytes += d.length
      copiedChunks += d.chunks
    }
  }
  const sources = oldManifests.filter((_, i) => used.has(i)).map(({ release, fileName }) => ({ release, fileName }))
  return { runs, sendBytes, copyBytes, totalBytes: sendBytes + copyBytes, sentChunks, copiedChunks, sources }
}
