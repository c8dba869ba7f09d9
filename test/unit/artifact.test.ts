import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ArtifactError, findArtifact, globToRegExp, resolveArtifact, sha256OfFile } from '../../src/artifact.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A workspace holding the given files (relative paths). */
function workspace(...files: string[]): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'zdd-ws-')))
  dirs.push(dir)
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    writeFileSync(join(dir, file), `content of ${file}`)
  }
  return dir
}

async function failure(pattern: string, dir: string): Promise<ArtifactError> {
  const error = await findArtifact(pattern, dir).then(
    (found) => {
      throw new Error(`expected a failure, found ${found}`)
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ArtifactError)
  return error as ArtifactError
}

describe('globToRegExp', () => {
  it.each([
    ['*.jar', 'app.jar', true],
    ['*.jar', 'libs/app.jar', false],
    ['*.jar', 'app.jar.sha256', false],
    ['*.jar', 'appXjar', false],
    ['app.jar', 'appXjar', false],
    ['build/libs/*.jar', 'build/libs/shop-1.0.0.jar', true],
    ['build/*/app.jar', 'build/libs/app.jar', true],
    ['build/*/app.jar', 'build/a/b/app.jar', false],
    ['**/*.jar', 'app.jar', true],
    ['**/*.jar', 'a/b/c/app.jar', true],
    ['**/libs/*.jar', 'service/build/libs/app.jar', true],
    ['**/libs/*.jar', 'libs/app.jar', true],
    ['build/**', 'build/a/b.jar', true],
    ['app-?.jar', 'app-1.jar', true],
    ['app-?.jar', 'app-10.jar', false],
    ['app-?.jar', 'app-/.jar', false],
    ['app+(1).jar', 'app+(1).jar', true],
    ['app+(1).jar', 'appp(1).jar', false],
    ['[ab].jar', '[ab].jar', true],
    ['[ab].jar', 'a.jar', false],
    ['$x^.jar', '$x^.jar', true],
  ])('%s vs %s: %s', (glob, path, matches) => {
    expect(globToRegExp(glob).test(path)).toBe(matches)
  })
})

describe('findArtifact', () => {
  it('an exact path, relative to the workspace', async () => {
    const dir = workspace('build/libs/app.jar')
    expect(await findArtifact('build/libs/app.jar', dir)).toBe(join(dir, 'build/libs/app.jar'))
    expect(await findArtifact('./build/libs/app.jar', dir)).toBe(join(dir, 'build/libs/app.jar'))
  })

  it('an absolute path', async () => {
    const dir = workspace('out/app.jar')
    expect(await findArtifact(join(dir, 'out/app.jar'), '/nonexistent-workspace')).toBe(join(dir, 'out/app.jar'))
  })

  it('an exact path that is missing, or a directory: names the pattern', async () => {
    const dir = workspace('build/libs/app.jar')
    expect((await failure('build/libs/other.jar', dir)).message).toMatch(/^artifact: "build\/libs\/other\.jar" matched no file/)
    expect((await failure('build/libs', dir)).message).toMatch(/matched no file/)
  })

  it('build/libs/*.jar with one jar', async () => {
    const dir = workspace('build/libs/shop-1.0.0.jar', 'build/classes/Main.class', 'build/libs-other/x.jar')
    expect(await findArtifact('build/libs/*.jar', dir)).toBe(join(dir, 'build/libs/shop-1.0.0.jar'))
  })

  it("Spring Boot's -plain.jar beside the runnable jar is set aside", async () => {
    const dir = workspace('build/libs/shop-1.0.0.jar', 'build/libs/shop-1.0.0-plain.jar')
    expect(await findArtifact('build/libs/*.jar', dir)).toBe(join(dir, 'build/libs/shop-1.0.0.jar'))
  })

  it('two runnable jars: the error lists both', async () => {
    const dir = workspace('build/libs/a.jar', 'build/libs/b.jar', 'build/libs/a-plain.jar')
    const error = await failure('build/libs/*.jar', dir)
    expect(error.message).toMatch(/^artifact: "build\/libs\/\*\.jar" matched 2 files/)
    expect(error.message).toContain('build/libs/a.jar')
    expect(error.message).toContain('build/libs/b.jar')
    expect(error.message).toMatch(/expected exactly one/)
  })

  it('no match: an error naming the pattern', async () => {
    const dir = workspace('build/libs/readme.txt')
    const error = await failure('build/libs/*.jar', dir)
    expect(error.message).toMatch(/^artifact: "build\/libs\/\*\.jar" matched no file/)
    expect(error.message).toMatch(/did the build step run first/)
  })

  it('no workspace directory at all: no match, not a crash', async () => {
    const dir = workspace()
    expect((await failure('build/libs/*.jar', dir)).message).toMatch(/matched no file/)
  })

  it('**/ finds a jar in a module, skipping node_modules and .git', async () => {
    const dir = workspace('service/build/libs/service.jar', 'node_modules/pkg/build/libs/x.jar', '.git/build/libs/y.jar')
    expect(await findArtifact('**/build/libs/*.jar', dir)).toBe(join(dir, 'service/build/libs/service.jar'))
  })

  it('a wildcard in a directory segment', async () => {
    const dir = workspace('target/app-1.2/app.jar')
    expect(await findArtifact('target/app-*/app.jar', dir)).toBe(join(dir, 'target/app-1.2/app.jar'))
  })

  it('resolveArtifact: path, file name, size and sha256', async () => {
    const dir = workspace('build/libs/app.jar')
    const artifact = await resolveArtifact('build/libs/*.jar', dir)
    expect(artifact).toEqual({
      path: join(dir, 'build/libs/app.jar'),
      fileName: 'app.jar',
      size: 'content of build/libs/app.jar'.length,
      sha256: execFileSync('sha256sum', [join(dir, 'build/libs/app.jar')])
        .toString()
        .split(' ')[0],
    })
  })
})

describe('sha256OfFile', () => {
  it.each([0, 1, 1024 * 1024, 3 * 1024 * 1024 + 17])('equals sha256sum for %i bytes', async (size) => {
    const dir = workspace()
    const file = join(dir, 'blob.jar')
    writeFileSync(file, randomBytes(size))
    const expected = execFileSync('sha256sum', [file]).toString().split(' ')[0]
    expect(await sha256OfFile(file)).toBe(expected)
  })
})
