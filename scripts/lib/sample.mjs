// Builds the sample-service jar that stands in for a Spring Boot fat jar in e2e tests.
import { execFile as execFileCb } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFile = promisify(execFileCb)

const here = path.dirname(fileURLToPath(import.meta.url))
export const SAMPLE_SOURCE = path.resolve(here, '../../sample-service/Sample.java')

/** @type {Promise<string> | undefined} */
let classesPromise

/**
 * Compiles Sample.java once per process. The cache dir is keyed by the source hash,
 * so repeated test runs skip javac (the slowest step) until the source changes.
 * @returns {Promise<string>} directory holding Sample*.class
 */
function compiledClasses() {
  classesPromise ??= (async () => {
    const source = await readFile(SAMPLE_SOURCE)
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16)
    const cacheDir = path.join(os.tmpdir(), `zdd-sample-classes-${hash}`)
    if (existsSync(path.join(cacheDir, 'Sample.class'))) return cacheDir
    // Compile elsewhere and rename, so a concurrent process never sees half a cache.
    const work = await mkdtemp(path.join(os.tmpdir(), 'zdd-sample-build-'))
    try {
      // sun.misc.Signal triggers an unsuppressable "internal proprietary API" warning; harmless.
      await execFile('javac', ['-nowarn', '-d', work, SAMPLE_SOURCE])
      await rename(work, cacheDir).catch(async (err) => {
        if (!existsSync(path.join(cacheDir, 'Sample.class'))) throw err
        await rm(work, { recursive: true, force: true })
      })
    } catch (err) {
      await rm(work, { recursive: true, force: true })
      throw err
    }
    return cacheDir
  })()
  // A failed compile should not poison later calls in the same process.
  classesPromise.catch(() => {
    classesPromise = undefined
  })
  return classesPromise
}

/**
 * Deterministic filler (xorshift32), so padded jars are reproducible and incompressible.
 * @param {number} size
 * @returns {Buffer}
 */
function pseudoRandomBytes(size) {
  const buf = Buffer.allocUnsafe(size)
  let x = 0x2545f491
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    buf[i] = x & 0xff
  }
  return buf
}

/**
 * Builds a runnable jar (`java -jar`) of the sample service.
 * @param {{ outDir: string, version: string, fileName?: string, padBytes?: number }} options
 *   padBytes > 0 adds an uncompressed BOOT-INF/lib/padding.bin of that size, so upload
 *   tests can use a jar about as large as a real Spring Boot one.
 * @returns {Promise<string>} absolute path of the jar
 */
export async function buildSampleJar({ outDir, version, fileName = 'app.jar', padBytes = 0 }) {
  const classes = await compiledClasses()
  const absOut = path.resolve(outDir)
  await mkdir(absOut, { recursive: true })
  const jarPath = path.join(absOut, fileName)

  // Per-jar staging dir for the resources that differ between builds.
  const res = await mkdtemp(path.join(os.tmpdir(), 'zdd-sample-res-'))
  try {
    await writeFile(path.join(res, 'version.txt'), `${version}\n`)
    const args = ['--create', '--file', jarPath, '--main-class', 'Sample', '-C', classes, '.', '-C', res, 'version.txt']
    if (padBytes > 0) {
      await mkdir(path.join(res, 'BOOT-INF/lib'), { recursive: true })
      await writeFile(path.join(res, 'BOOT-INF/lib/padding.bin'), pseudoRandomBytes(padBytes))
      args.push('-C', res, 'BOOT-INF/lib/padding.bin')
      // Stored, not deflated: keeps the jar size predictable (random bytes would not shrink anyway).
      args.splice(1, 0, '--no-compress')
    }
    // A jar from an earlier build must not survive a failed one and look valid.
    await rm(jarPath, { force: true })
    await execFile('jar', args, { maxBuffer: 16 * 1024 * 1024 })
  } finally {
    await rm(res, { recursive: true, force: true })
  }
  return jarPath
}
