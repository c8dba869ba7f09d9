/**
 * The delta upload: the jar is cut into content-defined chunks; the chunks that the releases kept on
 * the host already hold are copied there, and only the others cross the wire, in one delta file.
 * Whatever goes wrong on this path ends in a note in the log and the whole jar being uploaded
 * instead: a deploy never fails because of the delta. Memory stays flat: the jar is only ever
 * streamed (to chunk it, and to copy the missing chunks into the delta file).
 */
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Artifact } from '../artifact.js'
import { type Chunk, chunkFile } from '../delta/chunker.js'
import { type DeltaRun, type OldManifest, formatManifest, manifestSize, parseManifest, planDelta } from '../delta/manifest.js'
import type { Log } from '../log.js'
import { ASSEMBLE_EXIT, DELTA_FILE, assembleScript, parseManifestListing, planText, readManifestsScript } from '../remote/delta.js'
import { shellScript } from '../remote/quote.js'
import { INLINE_UPLOAD_MAX_BYTES, partialDir } from '../remote/release.js'
import { ConnectionError } from '../ssh/errors.js'
import { RemoteCommandError, type RemoteHost } from '../ssh/transport.js'
import type { StoredRelease } from './host-state.js'

/** Manifests of at most this many releases (the newest) are read: the newest share the most. */
export const DELTA_BASE_RELEASES = 3
/** The delta path is taken only when it sends at most this share of the jar. */
export const DELTA_WORTH = 0.9
/**
 * Shorter copy runs are sent instead. Each run costs the host one `dd` process (1 to 3 ms measured);
 * sending 2 KiB costs as much on a 1 MB/s link and far less on a faster one. In a fat jar this turns
 * the data of small entries (classes) between their changed headers into sent bytes, and cuts the
 * runs from two per entry to two per large entry.
 */
export const MIN_COPY_RUN = 2048
/** Below this size a jar goes whole: reading the old chunk lists would cost more than it saves. */
export const DELTA_MIN_JAR = 1024 * 1024

/** Each artifact is chunked once per run, however many hosts it goes to; the list is small (a line per 16 KiB). */
const chunkLists = new WeakMap<Artifact, Promise<Chunk[]>>()
function chunksOf(artifact: Artifact): Promise<Chunk[]> {
  let chunks = chunkLists.get(artifact)
  if (!chunks) {
    chunks = chunkFile(artifact.path)
    chunkLists.set(artifact, chunks)
  }
  return chunks
}

export interface DeltaOutcome {
  /** The new release's manifest, to be written beside its jar; undefined if chunking failed. */
  manifestText?: string
  /** Bytes the delta sent, when the jar now sits assembled in the partial directory. */
  sentBytes?: number
}

const amount = (bytes: number) =>
  bytes < 10 * 1024
    ? `${bytes} bytes`
    : bytes < 10 * 1024 * 1024
      ? `${Math.round(bytes / 1024)} KiB`
      : `${(bytes / 1024 / 1024).toFixed(1)} MiB`
const percent = (part: number, whole: number) => `${whole === 0 ? 0 : ((100 * part) / whole).toFixed(part < whole / 100 ? 2 : 1)}%`

/** One line for the log: what crossed the wire for this jar. */
export function describeSent(sent: number, size: number, how: string): string {
  return `Sent ${amount(sent)} for the ${amount(size)} jar (${percent(sent, size)}): ${how}.`
}

/**
 * Tries to put `artifact` into the release's partial directory by a delta. Returns the manifest
 * for the new release and, when the delta path succeeded, the bytes it sent. When `sentBytes` is
 * undefined, the caller uploads the whole jar; nothing of the delta is left behind then.
 */
export async function uploadByDelta(p: {
  remote: RemoteHost
  log: Log
  deployDir: string
  release: string
  artifact: Artifact
  releases: StoredRelease[]
  /** The host can decode base64: a small delta travels inside the assemble script. */
  inline: boolean
}): Promise<DeltaOutcome> {
  const { remote, log, deployDir, release, artifact } = p
  // The newest releases first: a chunk found in several is copied from the newest.
  const candidates = p.releases
    .filter((r) => r.name !== release && r.fileName !== '' && !r.fileName.includes('\n') && !r.name.includes('\n'))
    .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0))
    .slice(0, DELTA_BASE_RELEASES)
  // The host reads the old manifests while the jar is chunked here.
  const listing =
    candidates.length === 0 || artifact.size < DELTA_MIN_JAR
      ? undefined
      : remote.run(readManifestsScript({ deployDir, jars: candidates.map((r) => `${r.name}/${r.fileName}`) }), { step: 'upload' }).then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        )
  let chunks: Chunk[]
  try {
    chunks = await chunksOf(artifact)
  } catch (error) {
    log.info(`Delta upload skipped: could not chunk the jar (${(error as Error).message}); uploading it whole.`)
    await listing
    return {}
  }
  const manifestText = formatManifest(chunks)
  if (manifestSize(chunks) !== artifact.size) {
    log.info('Delta upload skipped: the jar changed while it was read; uploading it whole.')
    await listing
    return {}
  }
  if (!listing) return { manifestText }

  let deltaDir: string | undefined
  let remoteTouched = false
  try {
    const read = await listing
    if ('error' in read) throw read.error
    const listed = read.result
    const olds: OldManifest[] = []
    for (const found of parseManifestListing(listed.answer.sections.manifests)) {
      const base = candidates[found.index]
      const parsed = base ? parseManifest(found.text) : undefined
      // A manifest that does not describe its jar's size is stale or torn: not a base.
      if (base && parsed && parsed.length > 0 && manifestSize(parsed) === found.size)
        olds.push({ release: base.name, fileName: base.fileName, chunks: parsed })
    }
    if (olds.length === 0) return { manifestText }

    const plan = planDelta(chunks, olds, { minCopyRun: MIN_COPY_RUN })
    const text = planText(plan)
    if (plan.sendBytes + text.length > artifact.size * DELTA_WORTH) {
      log.info(
        `No delta upload: only ${amount(plan.copyBytes)} of the jar is already on the host (releases ${olds.map((o) => o.release).join(', ')}).`,
      )
      return { manifestText }
    }

    deltaDir = await mkdtemp(join(process.env.RUNNER_TEMP || tmpdir(), 'zdd-delta-'))
    const deltaPath = join(deltaDir, DELTA_FILE)
    await writeDeltaFile(artifact.path, plan.runs, deltaPath)
    const deltaSize = (await stat(deltaPath)).size
    if (deltaSize !== plan.sendBytes) throw new Error(`the delta file holds ${deltaSize} bytes, expected ${plan.sendBytes}`)

    const partial = partialDir(deployDir, release)
    remoteTouched = true
    const inlineDelta = p.inline && deltaSize <= INLINE_UPLOAD_MAX_BYTES ? (await readFile(deltaPath)).toString('base64') : undefined
    if (inlineDelta === undefined) {
      await remote.makeDirectory(partial)
      await remote.upload(deltaPath, `${partial}/${DELTA_FILE}`)
    }
    const started = Date.now()
    await remote.run(assembleScript({ deployDir, release, fileName: artifact.fileName, sha256: artifact.sha256, plan, inlineDelta }), {
      step: 'upload',
    })
    log.info(
      describeSent(
        plan.sendBytes,
        artifact.size,
        `${plan.sentChunks} new chunks; ${plan.copiedChunks} chunks (${amount(plan.copyBytes)}) copied on the host from ${plan.sources.map((s) => `release ${s.release}`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      ) +
        ` The ${plan.runs.length}-line plan and the new release's ${chunks.length}-line chunk list took ${amount(text.length + manifestText.length)} more.`,
    )
    // What crossed the wire: the new chunks, the plan and the chunk list that travel in scripts.
    return { manifestText, sentBytes: (inlineDelta?.length ?? plan.sendBytes) + Buffer.byteLength(text) + Buffer.byteLength(manifestText) }
  } catch (error) {
    // A lost connection is not the delta's fault, and the whole upload could not do better.
    if (error instanceof ConnectionError) throw error
    log.warning(`Delta upload failed (${describeFailure(error)}); uploading the whole jar instead.`)
    if (remoteTouched) await cleanUp(remote, deployDir, release, artifact.fileName).catch(() => undefined)
    return { manifestText }
  } finally {
    if (deltaDir) await rm(deltaDir, { recursive: true, force: true }).catch(() => undefined)
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof RemoteCommandError) {
    const { facts } = error.result.answer
    switch (error.result.code) {
      case ASSEMBLE_EXIT.copyFailed:
        return `could not copy from an old release${facts.failed_source ? ` (${facts.failed_source.replace(/^\.\.\//, '')})` : ''}`
      case ASSEMBLE_EXIT.mismatch:
        return `the jar assembled on the host differs from the local one (${facts.error ?? 'mismatch'}): an old release's jar changed since its chunk list was written`
      case ASSEMBLE_EXIT.noDelta:
        return 'the delta file did not arrive on the host'
    }
    return `exit code ${error.result.code}${error.result.stderr.trim() ? `: ${error.result.stderr.trim().split('\n').slice(-1)[0]}` : ''}`
  }
  return (error as Error)?.message ?? String(error)
}

/** Removes what the delta path left in the partial directory. */
async function cleanUp(remote: RemoteHost, deployDir: string, release: string, fileName: string): Promise<void> {
  await remote.run(
    shellScript(
      { PARTIAL: partialDir(deployDir, release), FILE_NAME: fileName, DELTA: DELTA_FILE },
      'rm -f -- "$PARTIAL/$DELTA" "$PARTIAL/$FILE_NAME"',
    ),
    { step: 'upload' },
  )
}

/** Writes the send runs' bytes of `jarPath`, in order, to `outPath`: 1 MiB at a time. */
export async function writeDeltaFile(jarPath: string, runs: readonly DeltaRun[], outPath: string): Promise<void> {
  const input = await open(jarPath, 'r')
  try {
    const output = await open(outPath, 'wx', 0o600)
    try {
      const buffer = Buffer.allocUnsafe(1 << 20)
      for (const run of runs) {
        if (run.source.kind !== 'send') continue
        let done = 0
        while (done < run.length) {
          const want = Math.min(buffer.length, run.length - done)
          const { bytesRead } = await input.read(buffer, 0, want, run.targetOffset + done)
          if (bytesRead === 0) throw new Error('the jar is shorter than when it was chunked')
          await output.write(buffer, 0, bytesRead)
          done += bytesRead
        }
      }
    } finally {
      await output.close()
    }
  } finally {
    await input.close()
  }
}
