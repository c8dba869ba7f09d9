// The delta upload, end to end: a ~40 MB fat jar whose stored libraries are the same in every build
// while every zip header's time stamp changes. The second deploy sends only what changed; a corrupt
// old release makes the next deploy fall back to the whole jar; a jar already on the host sends nothing.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { buildSampleJar, fatJarBuild } from '../../scripts/lib/sample.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
import { chunkFile } from '../../src/delta/chunker.js'
import { formatManifest } from '../../src/delta/manifest.js'
import { type ActionRun, inputsFor, runAction, served, why } from './support.js'

const workspaces: string[] = []

/** A workspace holding build `n` of the fat jar: its own class changed, its own time stamps. */
async function build(n: number): Promise<{ workspace: string; jar: string }> {
  const workspace = await mkdtemp(path.join(os.tmpdir(), 'zdd-ws-'))
  workspaces.push(workspace)
  const outDir = path.join(workspace, 'build', 'libs')
  await mkdir(outDir, { recursive: true })
  const jar = await buildSampleJar({ outDir, fileName: 'shop.jar', ...fatJarBuild(n) })
  return { workspace, jar }
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const piece of createReadStream(file)) hash.update(piece as Buffer)
  return hash.digest('hex')
}

describe('delta upload of a fat jar', () => {
  let target: any
  let runnerTemp: string
  const builds: Array<{ workspace: string; jar: string }> = []
  const releases: string[] = []
  const timings: Record<string, unknown> = {}

  beforeAll(async () => {
    target = await startTarget()
    runnerTemp = await mkdtemp(path.join(os.tmpdir(), 'zdd-runner-temp-'))
    for (const n of [1, 2, 3]) builds.push(await build(n))
  })
  afterAll(async () => {
    console.log(`delta e2e measurements: ${JSON.stringify(timings)}`)
    await target?.stop()
    await Promise.all([...workspaces, runnerTemp].filter(Boolean).map((dir) => rm(dir, { recursive: true, force: true })))
  })

  async function deploy(n: number): Promise<ActionRun & { peakRssKb?: number }> {
    const result = await runAction({
      inputs: inputsFor(target),
      workspace: builds[n - 1].workspace,
      env: { RUNNER_TEMP: runnerTemp },
      measure: true,
    })
    // The delta file lives in the runner's temp dir only while it is sent.
    expect(await readdir(runnerTemp)).toEqual([])
    return result
  }

  const hostJar = (release: string) => path.join(target.deployDir, 'releases', release, 'shop.jar')

  it('the first deploy uploads the whole jar and leaves its chunk list beside it', async () => {
    const { size } = await stat(builds[0].jar)
    expect(size).toBeGreaterThan(40 * 1024 * 1024)
    const result = await deploy(1)
    expect(result.code, why(result)).toBe(0)
    // The whole jar, and its chunk list (well under 1% of it).
    expect(Number(result.outputs['uploaded-bytes'])).toBeGreaterThan(size)
    expect(Number(result.outputs['uploaded-bytes'])).toBeLessThan(size * 1.01)
    expect(result.stdout).toMatch(/Sent 40\.\d MiB for the 40\.\d MiB jar \(100\.0%\): the whole jar\./)
    expect(await served(target)).toMatch(/^200 version=1 /)
    releases.push(result.outputs.release)
    const manifest = await readFile(path.join(target.deployDir, 'releases', releases[0], 'chunks'), 'utf8')
    expect(manifest).toBe(formatManifest(await chunkFile(builds[0].jar)))
    timings.full = { seconds: JSON.parse(result.outputs.report)[0].phases.upload, peakRssMiB: Math.round((result.peakRssKb ?? 0) / 1024) }
  })

  it('the next build (one class changed, every time stamp new) sends at most 2% of the jar, and the host has the same bytes', async () => {
    const { size } = await stat(builds[1].jar)
    const result = await deploy(2)
    expect(result.code, why(result)).toBe(0)
    const sent = Number(result.outputs['uploaded-bytes'])
    expect(sent).toBeGreaterThan(0)
    expect(sent).toBeLessThanOrEqual(size * 0.02)
    expect(result.stdout).toMatch(
      /Sent \d+ KiB for the 40\.\d MiB jar \(0\.\d\d%\): \d+ new chunks; \d+ chunks \(40\.\d MiB\) copied on the host from release /,
    )
    expect(await served(target)).toMatch(/^200 version=2 /)
    const release = result.outputs.release
    releases.push(release)
    expect(await sha256(hostJar(release))).toBe(await sha256(builds[1].jar))
    expect(await readFile(path.join(target.deployDir, 'releases', release, 'sha256'), 'utf8')).toBe(`${await sha256(builds[1].jar)}\n`)
    expect(await readFile(path.join(target.deployDir, 'releases', release, 'chunks'), 'utf8')).toBe(
      formatManifest(await chunkFile(builds[1].jar)),
    )
    // Nothing of the delta is left on the host.
    expect((await readdir(path.join(target.deployDir, 'releases'))).filter((name) => name.startsWith('.'))).toEqual([])
    expect((await readdir(path.join(target.deployDir, 'releases', release))).filter((name) => name.startsWith('.delta'))).toEqual([])
    timings.delta = {
      bytes: sent,
      percent: +((100 * sent) / size).toFixed(3),
      seconds: JSON.parse(result.outputs.report)[0].phases.upload,
      peakRssMiB: Math.round((result.peakRssKb ?? 0) / 1024),
    }
  })

  it('a corrupt old release: the delta fails on the host, the deploy says so, uploads the whole jar and succeeds', async () => {
    // Flip bytes inside a stored library of the newest release: the chunk list still promises them.
    const jar = hostJar(releases[1])
    const handle = await open(jar, 'r+')
    try {
      const at = Math.floor((await handle.stat()).size / 2)
      const { buffer } = await handle.read(Buffer.alloc(64), 0, 64, at)
      for (let i = 0; i < buffer.length; i++) buffer[i] ^= 0xa5
      await handle.write(buffer, 0, buffer.length, at)
    } finally {
      await handle.close()
    }
    const { size } = await stat(builds[2].jar)
    const result = await deploy(3)
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toMatch(
      /Delta upload failed \(the jar assembled on the host differs from the local one \(sha256_mismatch\)[^)]*\); uploading the whole jar instead\./,
    )
    // The whole jar, and its chunk list (well under 1% of it).
    expect(Number(result.outputs['uploaded-bytes'])).toBeGreaterThan(size)
    expect(Number(result.outputs['uploaded-bytes'])).toBeLessThan(size * 1.01)
    expect(await served(target)).toMatch(/^200 version=3 /)
    const release = result.outputs.release
    expect(await sha256(hostJar(release))).toBe(await sha256(builds[2].jar))
    expect((await readdir(path.join(target.deployDir, 'releases', release))).filter((name) => name.startsWith('.delta'))).toEqual([])
    timings.fallback = { seconds: JSON.parse(result.outputs.report)[0].phases.upload }
  })

  it('a jar whose sha256 is already on the host uploads 0 bytes', async () => {
    const result = await deploy(1)
    expect(result.code, why(result)).toBe(0)
    expect(result.outputs['uploaded-bytes']).toBe('0')
    expect(result.outputs.release).toBe(releases[0])
    expect(result.stdout).toContain('nothing to upload')
    expect(await served(target)).toMatch(/^200 version=1 /)
  })
})
