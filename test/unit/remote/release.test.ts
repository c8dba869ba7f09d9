/**
 * Finishing, configuring and pruning releases (src/remote/release.ts), run by a local `sh` in
 * temporary directories: what they do on a host, without SSH.
 */
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { shellQuote } from '../../../src/remote/quote.js'
import { envFileText, finalizeReleaseScript, partialDir, pruneScript } from '../../../src/remote/release.js'
import { runScript, tempDir, makeRelease, sha256, cleanUpAfterAll } from './local-host.js'

cleanUpAfterAll()

describe.concurrent('release scripts, run by a local sh', { timeout: 30_000 }, () => {
  describe('finalizeReleaseScript', () => {
    const RELEASE = '20260101-000000-3fa2c1d0'
    const JAR = Buffer.from('PK\x03\x04 a jar with bytes \xff\xfe and more'.repeat(100), 'latin1')

    function upload(deployDir: string): void {
      const partial = partialDir(deployDir, RELEASE)
      mkdirSync(partial, { recursive: true })
      writeFileSync(join(partial, 'app.jar'), JAR)
    }

    it('right sha256: the release appears whole, with its sha256 and a 0600 env file holding the env text', async () => {
      const deployDir = tempDir()
      upload(deployDir)
      const envText = envFileText(
        [
          ['DB_PASSWORD', "p@ss'word $(x)"],
          ['URL', 'a=b'],
        ],
        shellQuote,
      )
      const run = await runScript(
        finalizeReleaseScript({ deployDir, release: RELEASE, fileName: 'app.jar', sha256: sha256(JAR), uploaded: true, envText }),
      )
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(run.answer.facts.release).toBe(RELEASE)
      const dir = join(deployDir, 'releases', RELEASE)
      expect(readFileSync(join(dir, 'app.jar'))).toEqual(JAR)
      expect(readFileSync(join(dir, 'sha256'), 'utf8').trim()).toBe(sha256(JAR))
      expect(readFileSync(join(dir, 'env'), 'utf8')).toBe(envText)
      expect(statSync(join(dir, 'env')).mode & 0o777).toBe(0o600)
      expect(readdirSync(join(deployDir, 'releases'))).toEqual([RELEASE])
      expect(readdirSync(dir)).toEqual(expect.arrayContaining(['app.jar', 'env', 'sha256']))
      expect(readdirSync(dir)).not.toContain('.env.new')
    })

    it('a jar carried inside the script (base64): the release appears whole, byte for byte; a wrong sha256 leaves nothing', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'releases'), { recursive: true })
      const inlineBase64 = JAR.toString('base64')
      const params = { deployDir, release: RELEASE, fileName: "my shop's $(id).jar", uploaded: true, envText: '', inlineBase64 }
      const wrong = await runScript(finalizeReleaseScript({ ...params, sha256: sha256('something else') }))
      expect(wrong.code).toBe(41)
      expect(wrong.answer.facts.remote_sha256).toBe(sha256(JAR))
      expect(readdirSync(join(deployDir, 'releases'))).toEqual([])
      const run = await runScript(finalizeReleaseScript({ ...params, sha256: sha256(JAR) }))
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(readFileSync(join(deployDir, 'releases', RELEASE, "my shop's $(id).jar"))).toEqual(JAR)
      expect(readdirSync(join(deployDir, 'releases'))).toEqual([RELEASE])
    })

    it("wrong sha256: exit 41, the host's sha256 reported, and the partial upload removed", async () => {
      const deployDir = tempDir()
      upload(deployDir)
      const run = await runScript(
        finalizeReleaseScript({
          deployDir,
          release: RELEASE,
          fileName: 'app.jar',
          sha256: sha256('something else'),
          uploaded: true,
          envText: '',
        }),
      )
      expect(run.code).toBe(41)
      expect(run.answer.facts.error).toBe('sha256_mismatch')
      expect(run.answer.facts.remote_sha256).toBe(sha256(JAR))
      expect(readdirSync(join(deployDir, 'releases'))).toEqual([])
    })

    it('a reused release keeps its jar and gets the new env file, still 0600', async () => {
      const deployDir = tempDir()
      const dir = makeRelease(deployDir, RELEASE, [['OLD', 'old']])
      chmodSync(join(dir, 'env'), 0o644)
      const envText = envFileText([['NEW', 'new value']], shellQuote)
      const run = await runScript(
        finalizeReleaseScript({ deployDir, release: RELEASE, fileName: 'app.jar', sha256: 'unused', uploaded: false, envText }),
      )
      expect(run.code).toBe(0)
      expect(readFileSync(join(dir, 'env'), 'utf8')).toBe(envText)
      expect(statSync(join(dir, 'env')).mode & 0o777).toBe(0o600)
      expect(readFileSync(join(dir, 'app.jar'), 'utf8')).toBe('PK fake jar')
    })

    it('a release whose jar is missing: exit 43', async () => {
      const deployDir = tempDir()
      mkdirSync(join(deployDir, 'releases', RELEASE), { recursive: true })
      const run = await runScript(
        finalizeReleaseScript({ deployDir, release: RELEASE, fileName: 'app.jar', sha256: 'x', uploaded: false, envText: '' }),
      )
      expect(run.code).toBe(43)
      expect(run.answer.facts.error).toBe('release_missing')
    })
  })

  describe('envFileText', () => {
    const HOSTILE: Array<[string, string]> = [
      ['PLAIN', 'value'],
      ['EMPTY', ''],
      ['SPACES', '  two  spaces  '],
      ['QUOTES', `'single' "double" \`back\``],
      ['SUBST', '$(touch PWNED) ${HOME} $HOME'],
      ['ESCAPE', "'\\''; touch PWNED; echo '"],
      ['BACKSLASH', 'C:\\path\\n\\t\\'],
      ['NEWLINE', 'line 1\nline 2\n'],
      ['GLOB', '* ? [a-z]'],
      ['UNICODE', 'héllo ✓ 😀 \u00a0'],
      ['EQ', 'a=b=c'],
      ['HASH', '# not a comment'],
    ]

    it('sourcing the file in sh gives every value back byte for byte, and runs nothing', async () => {
      const dir = tempDir()
      writeFileSync(join(dir, 'env'), envFileText(HOSTILE, shellQuote), { mode: 0o600 })
      for (const [key, value] of HOSTILE) {
        const out = execFileSync('sh', ['-c', `. ./env && printf %s "$${key}"`], { cwd: dir })
        expect(out, key).toEqual(Buffer.from(value))
      }
      expect(existsSync(join(dir, 'PWNED'))).toBe(false)
    })

    it('the values are exported to programs the shell starts', () => {
      const dir = tempDir()
      writeFileSync(join(dir, 'env'), envFileText(HOSTILE, shellQuote))
      const out = execFileSync(
        'sh',
        ['-c', `. ./env && exec ${shellQuote(process.execPath)} -e 'process.stdout.write(JSON.stringify(process.env))'`],
        { cwd: dir },
      )
      const env = JSON.parse(out.toString())
      for (const [key, value] of HOSTILE) expect(env[key], key).toBe(value)
    })

    it('no entries: an empty file', () => {
      expect(envFileText([], shellQuote)).toBe('')
    })
  })

  describe('pruneScript', () => {
    it('removes the named releases, but not one a run/*.release file names', async () => {
      const deployDir = tempDir()
      for (const name of ['r1', 'r2', 'r3', 'r4']) makeRelease(deployDir, name)
      writeFileSync(join(deployDir, 'run', '8081.release'), 'r2\n')
      writeFileSync(join(deployDir, 'run', '8082.release'), 'r4\n')
      const run = await runScript(pruneScript({ deployDir, releases: ['r1', 'r2', 'r3', 'not-there', ''] }))
      expect(run.code).toBe(0)
      expect(run.answer.lists.pruned).toEqual(['r1', 'r3'])
      expect(run.answer.lists.kept_running).toEqual(['r2'])
      expect(readdirSync(join(deployDir, 'releases')).sort()).toEqual(['r2', 'r4'])
    })

    it('a release whose name another contains is still pruned (whole-name match)', async () => {
      const deployDir = tempDir()
      for (const name of ['r1', 'r10']) makeRelease(deployDir, name)
      writeFileSync(join(deployDir, 'run', '8081.release'), 'r10\n')
      const run = await runScript(pruneScript({ deployDir, releases: ['r1', 'r10'] }))
      expect(run.answer.lists.pruned).toEqual(['r1'])
      expect(readdirSync(join(deployDir, 'releases'))).toEqual(['r10'])
    })

    it('a missing deploy dir is nothing to prune', async () => {
      const run = await runScript(pruneScript({ deployDir: join(tempDir(), 'nope'), releases: ['r1'] }))
      expect(run.code).toBe(0)
      expect(run.answer.lists.pruned).toBeUndefined()
    })
  })
})
