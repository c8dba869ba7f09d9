// Builds the sample-service jar that stands in for a Spring Boot fat jar in e2e tests.
import { execFile as execFileCb } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises'
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
 * @param {number} [seed] nonzero 32-bit seed; each seed gives other bytes
 * @returns {Buffer}
 */
export function pseudoRandomBytes(size, seed = 0x2545f491) {
  const buf = Buffer.allocUnsafe(size)
  let x = seed | 0 || 0x2545f491
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    buf[i] = x & 0xff
  }
  return buf
}

/** A nonzero 32-bit seed from a name, so a library's bytes depend on its name only. */
function seedOf(/** @type {string} */ name) {
  return createHash('sha256').update(name).digest().readInt32LE(0) || 1
}

/** Sets the access and modification time of every file and directory under `dir`. */
async function touchTree(/** @type {string} */ dir, /** @type {Date} */ time) {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    await utimes(path.join(entry.parentPath ?? entry.path, entry.name), time, time)
  }
  await utimes(dir, time, time)
}

/**
 * Builds a runnable jar (`java -jar`) of the sample service.
 * @param {{ outDir: string, version: string, fileName?: string, padBytes?: number,
 *   libs?: Array<{ name: string, bytes: number }>, files?: Array<{ path: string, content: string | Buffer }>,
 *   mtime?: Date | number }} options
 *   padBytes > 0 adds an uncompressed BOOT-INF/lib/padding.bin of that size, so upload
 *   tests can use a jar about as large as a real Spring Boot one.
 *   libs adds STORED (uncompressed) entries BOOT-INF/lib/<name> of pseudo-random bytes that depend
 *   only on the name and size, as a Spring Boot fat jar holds its library jars: the same in every
 *   build. files adds compressed entries (e.g. BOOT-INF/classes/...) with the given content.
 *   mtime gives every entry that time stamp (as a fresh build would give it its own), so two
 *   builds of the same bytes differ in their zip headers.
 * @returns {Promise<string>} absolute path of the jar
 */
export async function buildSampleJar({ outDir, version, fileName = 'app.jar', padBytes = 0, libs = [], files = [], mtime }) {
  const classes = await compiledClasses()
  const absOut = path.resolve(outDir)
  await mkdir(absOut, { recursive: true })
  const jarPath = path.join(absOut, fileName)

  // Per-jar staging dir for the resources that differ between builds.
  const res = await mkdtemp(path.join(os.tmpdir(), 'zdd-sample-res-'))
  try {
    await writeFile(path.join(res, 'version.txt'), `${version}\n`)
    let classesDir = classes
    const extra = []
    for (const file of files) {
      if (path.isAbsolute(file.path) || file.path.split('/').includes('..')) throw new Error(`files: ${file.path}: expected a relative path inside the jar`)
      await mkdir(path.dirname(path.join(res, file.path)), { recursive: true })
      await writeFile(path.join(res, file.path), file.content)
      extra.push('-C', res, file.path)
    }
    const stored = []
    for (const lib of libs) {
      if (!/^[A-Za-z0-9._-]+$/.test(lib.name)) throw new Error(`libs: ${lib.name}: expected a plain file name`)
      await mkdir(path.join(res, 'BOOT-INF/lib'), { recursive: true })
      await writeFile(path.join(res, 'BOOT-INF/lib', lib.name), pseudoRandomBytes(lib.bytes, seedOf(lib.name)))
      stored.push('-C', res, `BOOT-INF/lib/${lib.name}`)
    }
    if (mtime !== undefined) {
      // The shared compiled classes must keep their own times: stamp a copy.
      classesDir = path.join(res, '.classes')
      await cp(classes, classesDir, { recursive: true })
      await touchTree(classesDir, new Date(mtime))
      await touchTree(res, new Date(mtime))
    }
    const args = ['--create', '--file', jarPath, '--main-class', 'Sample', '-C', classesDir, '.', '-C', res, 'version.txt', ...extra]
    if (padBytes > 0) {
      await mkdir(path.join(res, 'BOOT-INF/lib'), { recursive: true })
      await writeFile(path.join(res, 'BOOT-INF/lib/padding.bin'), pseudoRandomBytes(padBytes))
      if (mtime !== undefined) await utimes(path.join(res, 'BOOT-INF/lib/padding.bin'), new Date(mtime), new Date(mtime))
      args.push('-C', res, 'BOOT-INF/lib/padding.bin')
      // Stored, not deflated: keeps the jar size predictable (random bytes would not shrink anyway).
      args.splice(1, 0, '--no-compress')
    }
    // A jar from an earlier build must not survive a failed one and look valid.
    await rm(jarPath, { force: true })
    await execFile('jar', args, { maxBuffer: 16 * 1024 * 1024 })
    // The libraries go in stored, the rest as it was (jar --update keeps existing entries' methods).
    if (stored.length > 0) await execFile('jar', ['--update', '--no-compress', '--file', jarPath, ...stored], { maxBuffer: 16 * 1024 * 1024 })
  } finally {
    await rm(res, { recursive: true, force: true })
  }
  return jarPath
}

/** Library jars of a Spring Boot app: a few big ones, many small ones, `total` bytes in all. */
function fatJarLibraries(total) {
  const sizes = [6e6, 3e6, 2e6, 1.5e6, 1e6, 8e5, 6e5, 4e5, 3e5, 2e5, 1.2e5, 8e4, 5e4]
  const libs = []
  for (let sum = 0, i = 0; sum < total; i++) {
    const bytes = Math.min(Math.round(sizes[i % sizes.length]), total - sum)
    libs.push({ name: `lib-${i}-1.0.${i % 7}.jar`, bytes })
    sum += bytes
  }
  return libs
}

/**
 * Build `n` of a fat jar as a Spring Boot build makes it: stored library jars that stay the same,
 * 150 compressed classes of which one changes with every build, and the build's own time stamps.
 * Pass the result to buildSampleJar (with outDir and fileName).
 * @param {number} n
 * @param {number} [total] bytes of library jars (40 MiB)
 */
export function fatJarBuild(n, total = 40 * 1024 * 1024) {
  const version = String(n)
  const files = Array.from({ length: 150 }, (_, i) => {
    const body = `class Generated${i} { /* ${'x'.repeat(200 + ((i * 37) % 1500))} */ int f() { return ${i}; } }\n${pseudoRandomBytes(400 + ((i * 13) % 800), i + 1).toString('base64')}`
    return { path: `BOOT-INF/classes/app/Generated${i}.class`, content: i === 77 ? `${body}\n// built as version ${version}` : body }
  })
  return { version, libs: fatJarLibraries(total), files, mtime: Date.parse('2026-03-01T09:00:00Z') + n * 3600_000 }
}
