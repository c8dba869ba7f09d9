import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { writeDeltaFile } from '../../src/deploy/delta-upload.js'
import { type Chunk, chunkBuffer } from '../../src/delta/chunker.js'
import { type DeltaPlan, formatManifest, manifestSize, parseManifest, planDelta } from '../../src/delta/manifest.js'
import { ASSEMBLE_EXIT, DELTA_FILE, assembleScript, parseManifestListing, planText, readManifestsScript } from '../../src/remote/delta.js'
import { parseAnswer } from '../../src/remote/protocol.js'
import { finalizeReleaseScript, partialDir } from '../../src/remote/release.js'
// @ts-ignore -- plain JS helper shared with the e2e tests and the bench
import { pseudoRandomBytes } from '../../scripts/lib/sample.mjs'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zdd-delta-'))
  dirs.push(dir)
  return dir
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')
const h = (n: number) => sha(Buffer.from(String(n)))

const noise = (size: number, seed: number): Buffer => pseudoRandomBytes(size, seed || 1)

/** Chunks of the given lengths, named by the numbers in `ids`. */
function chunks(ids: number[], length = 100): Chunk[] {
  return ids.map((id, i) => ({ sha256: h(id), offset: i * length, length }))
}

/** Runs a script as the session does: `sh -s`, the script on stdin. */
function sh(script: string, env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync('/bin/sh', ['-s'], { input: script, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, answer: parseAnswer(result.stdout) }
}

describe('manifest text', () => {
  it('round trips: one `sha256 offset length` line per chunk', () => {
    const list = chunkBuffer(noise(200_000, 3))
    const text = formatManifest(list)
    expect(text.split('\n')[0]).toMatch(/^[0-9a-f]{64} 0 \d+$/)
    expect(text.endsWith('\n')).toBe(true)
    expect(text.trimEnd().split('\n')).toHaveLength(list.length)
    expect(parseManifest(text)).toEqual(list)
    expect(manifestSize(list)).toBe(200_000)
    expect(parseManifest('')).toEqual([])
  })

  it('a torn or foreign file is not a manifest', () => {
    const text = formatManifest(chunks([1, 2, 3]))
    expect(parseManifest(text.slice(0, -20))).toBeUndefined()
    expect(parseManifest(text.replace(' 100 100', ' 150 100'))).toBeUndefined() // a gap
    expect(parseManifest(text.replace(' 100 100', ' 100 0'))).toBeUndefined()
    expect(parseManifest('hello\n')).toBeUndefined()
    expect(parseManifest(text.toUpperCase())).toBeUndefined()
  })
})

describe('planDelta', () => {
  const old: Chunk[] = chunks([1, 2, 3, 4, 5, 6])

  it('coalesces contiguous chunks of one old file into one copy run, sends the rest in one delta', () => {
    const plan = planDelta(chunks([1, 2, 9, 10, 5, 6]), [{ release: 'r1', fileName: 'app.jar', chunks: old }])
    expect(plan.runs).toEqual([
      { source: { kind: 'copy', release: 'r1', fileName: 'app.jar' }, sourceOffset: 0, targetOffset: 0, length: 200 },
      { source: { kind: 'send' }, sourceOffset: 0, targetOffset: 200, length: 200 },
      { source: { kind: 'copy', release: 'r1', fileName: 'app.jar' }, sourceOffset: 400, targetOffset: 400, length: 200 },
    ])
    expect(plan).toMatchObject({ sendBytes: 200, copyBytes: 400, totalBytes: 600, sentChunks: 2, copiedChunks: 4 })
    expect(plan.sources).toEqual([{ release: 'r1', fileName: 'app.jar' }])
  })

  it('moved chunks: a new run where the old offsets jump; sent runs keep their offsets in the delta file', () => {
    const plan = planDelta(chunks([4, 5, 7, 1, 2, 8, 3]), [{ release: 'r1', fileName: 'a.jar', chunks: old }])
    expect(plan.runs.map((r) => [r.source.kind, r.sourceOffset, r.targetOffset, r.length])).toEqual([
      ['copy', 300, 0, 200],
      ['send', 0, 200, 100],
      ['copy', 0, 300, 200],
      ['send', 100, 500, 100],
      ['copy', 200, 600, 100],
    ])
    expect(plan.sendBytes).toBe(200)
  })

  it('prefers the run that continues, then the first release given; lists only the releases it reads', () => {
    const newest = { release: 'r3', fileName: 'a.jar', chunks: chunks([2, 3]) }
    const older = { release: 'r2', fileName: 'a.jar', chunks: chunks([1, 2, 3]) }
    const unused = { release: 'r1', fileName: 'a.jar', chunks: chunks([42]) }
    const plan = planDelta(chunks([1, 2, 3]), [newest, older, unused])
    // 1 is only in r2; 2 and 3 continue that run rather than switch to r3.
    expect(plan.runs).toHaveLength(1)
    expect(plan.runs[0]).toMatchObject({ source: { release: 'r2' }, length: 300 })
    expect(planDelta(chunks([2, 3]), [newest, older]).runs[0]).toMatchObject({ source: { release: 'r3' } })
    expect(plan.sources).toEqual([{ release: 'r2', fileName: 'a.jar' }])
  })

  it('a copy run shorter than minCopyRun is sent instead, merged with the sent runs around it', () => {
    const olds = [{ release: 'r1', fileName: 'a.jar', chunks: old }]
    const next = chunks([9, 2, 3, 8, 4, 5, 6])
    expect(planDelta(next, olds).runs.map((r) => [r.source.kind, r.length])).toEqual([
      ['send', 100],
      ['copy', 200],
      ['send', 100],
      ['copy', 300],
    ])
    const plan = planDelta(next, olds, { minCopyRun: 201 })
    expect(plan.runs.map((r) => [r.source.kind, r.sourceOffset, r.targetOffset, r.length])).toEqual([
      ['send', 0, 0, 400],
      ['copy', 300, 400, 300],
    ])
    expect(plan).toMatchObject({ sendBytes: 400, copyBytes: 300, sentChunks: 4, copiedChunks: 3 })
    // Every run short: nothing is read from the old release.
    expect(planDelta(next, olds, { minCopyRun: 1000 })).toMatchObject({
      sendBytes: 700,
      sources: [],
      runs: [{ source: { kind: 'send' }, length: 700 }],
    })
  })

  it('a chunk of the same hash but another length is not taken', () => {
    const plan = planDelta([{ sha256: h(1), offset: 0, length: 99 }], [{ release: 'r', fileName: 'a.jar', chunks: old }])
    expect(plan.sendBytes).toBe(99)
  })

  it('no old manifests: everything is sent', () => {
    const plan = planDelta(chunks([1, 2, 3]), [])
    expect(plan).toMatchObject({ sendBytes: 300, copyBytes: 0, runs: [{ source: { kind: 'send' }, length: 300 }] })
  })

  it('the plan text names sources by index: `d` for the delta file', () => {
    const plan = planDelta(chunks([1, 9, 2]), [
      { release: 'r0', fileName: 'x.jar', chunks: chunks([7]) },
      { release: 'r1', fileName: 'y.jar', chunks: old },
    ])
    expect(planText(plan)).toBe('0 0 100\nd 0 100\n0 100 100')
  })
})

describe('remote scripts of the delta upload, run by a local sh', () => {
  /** A deploy dir with old releases, and the pieces for a new one. */
  function setUp(options: { deployDirName?: string; fileName?: string } = {}) {
    const root = tempDir()
    const deployDir = join(root, options.deployDirName ?? 'app')
    const fileName = options.fileName ?? 'shop.jar'
    const oldBytes = Buffer.concat([noise(900_000, 1), noise(300_000, 2), noise(500_000, 3)])
    // The new file: a changed piece in the middle, a piece of the second old release, a new tail.
    const otherBytes = noise(200_000, 4)
    const newBytes = Buffer.concat([
      oldBytes.subarray(0, 600_000),
      noise(5000, 5),
      oldBytes.subarray(610_000, 1_500_000),
      otherBytes,
      noise(1234, 6),
    ])
    const releases = [
      { name: '20260102-000000-bbbbbbbb', bytes: oldBytes },
      { name: '20260101-000000-aaaaaaaa', bytes: otherBytes },
    ]
    const olds = releases.map((r) => {
      const dir = join(deployDir, 'releases', r.name)
      mkdirSync(dir, { recursive: true })
      writeFileSync(join(dir, fileName), r.bytes)
      const list = chunkBuffer(r.bytes)
      writeFileSync(join(dir, 'chunks'), formatManifest(list))
      return { release: r.name, fileName, chunks: list }
    })
    const release = '20260103-000000-cccccccc'
    const local = join(root, 'local.jar')
    writeFileSync(local, newBytes)
    const plan = planDelta(chunkBuffer(newBytes), olds)
    return { root, deployDir, fileName, release, newBytes, local, plan, olds }
  }

  async function stageDelta(local: string, plan: DeltaPlan, deployDir: string, release: string): Promise<void> {
    mkdirSync(partialDir(deployDir, release), { recursive: true })
    await writeDeltaFile(local, plan.runs, join(partialDir(deployDir, release), DELTA_FILE))
  }

  it('assembles a file byte-identical to the local one from old releases and the delta', async () => {
    const { deployDir, fileName, release, newBytes, local, plan } = setUp()
    expect(plan.sources).toHaveLength(2)
    expect(plan.sendBytes).toBeLessThan(newBytes.length / 10)
    await stageDelta(local, plan, deployDir, release)
    expect(readFileSync(join(partialDir(deployDir, release), DELTA_FILE)).length).toBe(plan.sendBytes)
    const run = sh(assembleScript({ deployDir, release, fileName, sha256: sha(newBytes), plan }))
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(run.answer.facts.assembled).toBe(String(newBytes.length))
    expect(readFileSync(join(partialDir(deployDir, release), fileName)).equals(newBytes)).toBe(true)
    expect(readdirSync(partialDir(deployDir, release))).toEqual([fileName])
  })

  it('a delta carried inside the script (base64) builds the same file, with nothing sent before it', async () => {
    const { deployDir, fileName, release, newBytes, local, plan } = setUp({
      deployDirName: `it's $HOME "x"`,
      fileName: `my shop's $(id).jar`,
    })
    const deltaPath = join(tempDir(), DELTA_FILE)
    await writeDeltaFile(local, plan.runs, deltaPath)
    const inlineDelta = readFileSync(deltaPath).toString('base64')
    expect(existsSync(partialDir(deployDir, release))).toBe(false)
    const run = sh(assembleScript({ deployDir, release, fileName, sha256: sha(newBytes), plan, inlineDelta }))
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(readFileSync(join(partialDir(deployDir, release), fileName)).equals(newBytes)).toBe(true)
    expect(readdirSync(partialDir(deployDir, release))).toEqual([fileName])
  })

  it('without GNU dd (tail and head instead), the same file', async () => {
    const { root, deployDir, fileName, release, newBytes, local, plan } = setUp()
    await stageDelta(local, plan, deployDir, release)
    const bin = join(root, 'bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'dd'), '#!/bin/sh\necho "dd: unknown operand" >&2\nexit 1\n')
    chmodSync(join(bin, 'dd'), 0o755)
    const run = sh(assembleScript({ deployDir, release, fileName, sha256: sha(newBytes), plan }), {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
    })
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(readFileSync(join(partialDir(deployDir, release), fileName)).equals(newBytes)).toBe(true)
  })

  it('hostile names: a deploy dir and a jar name with spaces, quotes and $', async () => {
    const { deployDir, fileName, release, newBytes, local, plan } = setUp({
      deployDirName: `it's $HOME "x"`,
      fileName: `my shop's $(id).jar`,
    })
    await stageDelta(local, plan, deployDir, release)
    const run = sh(assembleScript({ deployDir, release, fileName, sha256: sha(newBytes), plan }))
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(readFileSync(join(partialDir(deployDir, release), fileName)).equals(newBytes)).toBe(true)
  })

  it('a corrupt old jar: fails with the mismatch code and leaves nothing behind', async () => {
    const { deployDir, fileName, release, newBytes, local, plan, olds } = setUp()
    await stageDelta(local, plan, deployDir, release)
    const oldJar = join(deployDir, 'releases', olds[0].release, fileName)
    const bytes = readFileSync(oldJar)
    bytes[1000] ^= 0xff
    writeFileSync(oldJar, bytes)
    const run = sh(assembleScript({ deployDir, release, fileName, sha256: sha(newBytes), plan }))
    expect(run.code).toBe(ASSEMBLE_EXIT.mismatch)
    expect(run.answer.facts.error).toBe('sha256_mismatch')
    expect(readdirSync(partialDir(deployDir, release))).toEqual([])
  })

  it('a truncated old jar: the size check fails first', async () => {
    const { deployDir, fileName, release, newBytes, local, plan, olds } = setUp()
    await stageDelta(local, plan, deployDir, release)
    const oldJar = join(deployDir, 'releases', olds[0].release, fileName)
    writeFileSync(oldJar, readFileSync(oldJar).subarray(0, 700_000))
    const run = sh(assembleScript({ deployDir, release, fileName, sha256: sha(newBytes), plan }))
    expect(run.code).toBe(ASSEMBLE_EXIT.mismatch)
    expect(run.answer.facts.error).toBe('size_mismatch')
    expect(readdirSync(partialDir(deployDir, release))).toEqual([])
  })

  it('a missing old release: fails with the copy code, naming it', async () => {
    const { deployDir, fileName, release, newBytes, local, plan, olds } = setUp()
    await stageDelta(local, plan, deployDir, release)
    rmSync(join(deployDir, 'releases', olds[1].release), { recursive: true })
    const run = sh(assembleScript({ deployDir, release, fileName, sha256: sha(newBytes), plan }))
    expect(run.code).toBe(ASSEMBLE_EXIT.copyFailed)
    expect(run.answer.facts.error).toBe('copy_failed')
    expect(run.answer.facts.failed_source).toBe(`../${olds[1].release}/${fileName}`)
    expect(readdirSync(partialDir(deployDir, release))).toEqual([])
  })

  it('no delta file: its own code', () => {
    const { deployDir, fileName, release, newBytes, plan } = setUp()
    mkdirSync(partialDir(deployDir, release), { recursive: true })
    const run = sh(assembleScript({ deployDir, release, fileName, sha256: sha(newBytes), plan }))
    expect(run.code).toBe(ASSEMBLE_EXIT.noDelta)
  })

  it('reads the manifests of the releases asked for whose jar and manifest both exist, with the jar sizes', () => {
    const { deployDir, fileName, olds } = setUp({ fileName: 'a b.jar' })
    const third = join(deployDir, 'releases', '20251231-000000-dddddddd')
    mkdirSync(third)
    writeFileSync(join(third, fileName), 'no manifest beside me')
    const jars = [
      `${olds[0].release}/${fileName}`,
      `${olds[1].release}/${fileName}`,
      `20251231-000000-dddddddd/${fileName}`,
      `gone/${fileName}`,
    ]
    const run = sh(readManifestsScript({ deployDir, jars }))
    expect(run.code, run.stderr).toBe(0)
    const listing = parseManifestListing(run.answer.sections.manifests)
    expect(listing.map((l) => [l.index, l.size])).toEqual([
      [0, manifestSize(olds[0].chunks)],
      [1, manifestSize(olds[1].chunks)],
    ])
    expect(parseManifest(listing[0].text)).toEqual(olds[0].chunks)
    expect(parseManifest(listing[1].text)).toEqual(olds[1].chunks)
    // A deploy dir that does not exist yet: nothing, and no failure.
    const none = sh(readManifestsScript({ deployDir: join(deployDir, 'nope'), jars }))
    expect(none.code).toBe(0)
    expect(parseManifestListing(none.answer.sections.manifests)).toEqual([])
  })

  it('finalize writes the manifest beside the jar of an uploaded release, and only then', () => {
    const root = tempDir()
    const deployDir = join(root, 'app')
    mkdirSync(partialDir(deployDir, 'r1'), { recursive: true })
    writeFileSync(join(partialDir(deployDir, 'r1'), 'shop.jar'), 'jar bytes')
    const manifestText = formatManifest(chunkBuffer(Buffer.from('jar bytes')))
    const run = sh(
      finalizeReleaseScript({
        deployDir,
        release: 'r1',
        fileName: 'shop.jar',
        sha256: sha(Buffer.from('jar bytes')),
        uploaded: true,
        envText: '',
        manifestText,
      }),
    )
    expect(run.code, run.stderr).toBe(0)
    expect(readFileSync(join(deployDir, 'releases', 'r1', 'chunks'), 'utf8')).toBe(manifestText)
    // Reused: nothing written.
    rmSync(join(deployDir, 'releases', 'r1', 'chunks'))
    const reused = sh(
      finalizeReleaseScript({ deployDir, release: 'r1', fileName: 'shop.jar', sha256: 'x', uploaded: false, envText: '', manifestText }),
    )
    expect(reused.code, reused.stderr).toBe(0)
    expect(existsSync(join(deployDir, 'releases', 'r1', 'chunks'))).toBe(false)
  })
})
