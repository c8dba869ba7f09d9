// Security by default, as a user would check it: hostile values arrive byte for byte and run
// nothing, secrets are masked and stored only in the 0600 env file, and dry-run changes nothing.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-ignore -- plain JS helper
import { buildSampleJar } from '../../scripts/lib/sample.mjs'
// @ts-ignore -- plain JS helper
import { startTarget } from '../../scripts/lib/target.mjs'
import { get, killDeployed, removeWorkspaces, run, runAction, inputsFor, served, why, workspaceWithJar } from './support.js'

const HOSTILE = [
  `it's "quoted"`,
  '$(touch PWNED-subst)',
  '`touch PWNED-tick`',
  'a;touch PWNED-semi;b',
  'line one\nline two\n',
  '  spaces  around  ',
  'non-ASCII: é ß 日本 🚀',
  "back\\slash \\n and '\\''",
  '$HOME ${PATH} *',
]

/** Every file below `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) found.push(...(await filesUnder(full)))
    else if (entry.isFile()) found.push(full)
  }
  return found
}

describe('hostile values reach the app byte for byte and run nothing', () => {
  let target: any
  let root: string
  let hostileDeployDir: string | undefined
  beforeAll(async () => {
    target = await startTarget()
    root = await mkdtemp(path.join(os.tmpdir(), 'zdd-hostile-'))
  })
  afterAll(async () => {
    if (hostileDeployDir) await killDeployed(hostileDeployDir)
    await target?.stop()
    await rm(root, { recursive: true, force: true })
    await removeWorkspaces()
  })

  it('in env values, deploy-dir, java-opts and the artifact file name', async () => {
    const deployDir = path.join(root, `dir with 'quote' $(touch PWNED-dir) \`x\` ;semi é`)
    hostileDeployDir = deployDir
    const workspace = await mkdtemp(path.join(root, 'ws-'))
    const fileName = `sample 'v1' $(touch PWNED-file) ;x.jar`
    await mkdir(path.join(workspace, 'build', 'libs'), { recursive: true })
    await buildSampleJar({ outDir: path.join(workspace, 'build', 'libs'), version: 'hostile', fileName })
    // The JVM decodes paths and environment with the locale's charset; without a UTF-8 locale it
    // cannot open a non-ASCII path at all. A user with such paths sets one, as here.
    const env = ['LC_ALL=C.UTF-8', ...HOSTILE.map((value, i) => `HOSTILE_${i}=${value.replace(/\n/g, '\\n')}`)]
    // env lines are one per line, so a value cannot hold a raw newline; keep the rest verbatim.
    const javaOpt = `-Dzdd.opt=$(touch${'${IFS}'}PWNED-opts);\`id\`'"é`
    const result = await runAction({
      inputs: inputsFor(target, { 'deploy-dir': deployDir, env: env.join('\n'), 'java-opts': javaOpt, artifact: 'build/libs/*.jar' }),
      workspace,
    })
    expect(result.code, why(result)).toBe(0)
    const port = result.outputs['active-port']
    const ask = async (what: string) => (await get(`http://127.0.0.1:${port}/${what}`)).body
    for (const [i, value] of HOSTILE.entries()) {
      expect(await ask(`env?name=HOSTILE_${i}`)).toBe(value.replace(/\n/g, '\\n'))
    }
    expect(await ask(`prop?name=zdd.opt`)).toBe(`$(touch\${IFS}PWNED-opts);\`id\`'"é`)
    expect(await ask('env?name=APP_NAME')).toBe('sample')
    expect(await ask('env?name=PORT')).toBe(port)
    expect(await ask('env?name=SERVER_PORT')).toBe(port)
    expect(await ask('env?name=RELEASE')).toBe(result.outputs.release)
    expect(await ask('env?name=ARTIFACT')).toBe(path.join(deployDir, 'releases', result.outputs.release, fileName))
    expect(await ask('cwd')).toBe(path.join(deployDir, 'releases', result.outputs.release))
    expect(await served(target)).toBe(`200 version=hostile port=${port}`)

    // Nothing in any of those values ran: no PWNED file anywhere it could have landed.
    const everywhere = [...(await filesUnder(root)), ...(await filesUnder(target.dir)), ...(await readdir(os.homedir()))]
    expect(everywhere.filter((file) => file.includes('PWNED') && !file.includes('$(touch'))).toEqual([])
  })

  it('in a deploy-dir given relative to the home directory', async () => {
    const relative = `zdd-e2e-${process.pid} 'rel' $(x)`
    try {
      const result = await run(target, await workspaceWithJar('rel'), { 'deploy-dir': relative })
      expect(result.code, why(result)).toBe(0)
      const releases = await readdir(path.join(os.homedir(), relative, 'releases'))
      expect(releases).toContain(result.outputs.release)
    } finally {
      await killDeployed(path.join(os.homedir(), relative))
      await rm(path.join(os.homedir(), relative), { recursive: true, force: true })
    }
  })
})

describe('secrets', () => {
  let target: any
  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target?.stop()
    await removeWorkspaces()
  })

  it('are masked in the log and stored on the host only in the 0600 env file', async () => {
    const secret = 'S3cr3t-db-password-Zq8'
    const workspace = await workspaceWithJar('1')
    const result = await run(target, workspace, {
      env: `DB_PASSWORD=${secret}`,
      'private-key': target.encryptedKey,
      passphrase: target.passphrase,
    })
    expect(result.code, why(result)).toBe(0)
    const logLines = result.stdout.split('\n')
    for (const value of [secret, target.passphrase]) {
      expect(logLines).toContain(`::add-mask::${value}`)
      expect(logLines.filter((line) => line.includes(value) && !line.startsWith('::add-mask::'))).toEqual([])
    }
    const keyLine = target.encryptedKey.split('\n')[1]
    expect(logLines.filter((line) => line.includes(keyLine) && !line.startsWith('::add-mask::'))).toEqual([])

    // On the host: only the env file holds the secret, and only its owner can read it.
    const holding = []
    for (const file of await filesUnder(target.deployDir)) {
      if ((await readFile(file)).includes(secret)) holding.push(path.relative(target.deployDir, file))
    }
    expect(holding).toEqual([`releases/${result.outputs.release}/env`])
    expect((await stat(path.join(target.deployDir, holding[0]))).mode & 0o777).toBe(0o600)

    // On the runner: the key is never written to disk (workspace, temp dirs).
    for (const dir of [workspace, os.tmpdir()]) {
      for (const file of await filesUnder(dir)) {
        if (file.startsWith(target.dir)) continue
        const info = await stat(file).catch(() => undefined)
        if (!info || info.size > 1_000_000) continue
        expect((await readFile(file, 'utf8').catch(() => '')).includes(keyLine), file).toBe(false)
      }
    }
  })
})

/**
 * What a GitHub runner makes of a run: it masks every value registered with `::add-mask::` in each
 * log line, and drops every output that holds one ("Skip output since it may contain secret").
 */
function asRunner(result: { stdout: string; outputs: Record<string, string> }) {
  const lines = result.stdout.split('\n')
  const masks = lines.filter((line) => line.startsWith('::add-mask::')).map((line) => line.slice('::add-mask::'.length))
  const mask = (line: string) => masks.reduce((text, value) => text.split(value).join('***'), line)
  return {
    masks,
    log: lines.filter((line) => !line.startsWith('::add-mask::')).map(mask),
    outputs: Object.fromEntries(Object.entries(result.outputs).filter(([, value]) => !masks.some((m) => value.includes(m)))),
  }
}

describe('everyday env values beside a real secret, which a hook prints in pieces', () => {
  let target: any
  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target?.stop()
    await removeWorkspaces()
  })

  it('outputs reach the next job, "true" stays "true", and the secret shows in no line, whole or in pieces', async () => {
    const secret = 'Xq7-tok-9f31c2aa58e0'
    const result = await run(target, await workspaceWithJar('1'), {
      env: ['SPRING_JPA_SHOW_SQL=false', 'SPRING_PROFILES_ACTIVE=prod', 'FEATURE_X_ENABLED=true', `API_TOKEN=${secret}`].join('\n'),
      // Two writes a second apart, no newline between them: the relay sees the first piece alone.
      'pre-switch-command': `echo "show-sql=$SPRING_JPA_SHOW_SQL feature=$FEATURE_X_ENABLED"; printf 'pw=Xq7-tok-'; sleep 1; printf '9f31c2aa58e0 done\\n'`,
    })
    expect(result.code, why(result)).toBe(0)
    const runner = asRunner(result)
    expect(runner.masks).toContain(secret)
    for (const everyday of ['false', 'prod', 'true']) expect(runner.masks).not.toContain(everyday)
    // Every output the action wrote reaches the next job.
    expect(Object.keys(runner.outputs).sort()).toEqual(Object.keys(result.outputs).sort())
    expect(runner.outputs['rolled-back']).toBe('false')
    expect(JSON.parse(runner.outputs.report)[0].outcome).toBe('deployed')
    // The log as the job shows it: the hook's lines whole, booleans as they are, the secret masked.
    expect(runner.log).toContain('show-sql=false feature=true')
    expect(runner.log).toContain('pw=*** done')
    for (const piece of [secret, 'Xq7-tok-', '9f31c2aa58e0']) {
      expect(result.stdout.split('\n').filter((line) => line.includes(piece) && !line.startsWith('::add-mask::'))).toEqual([])
    }
    // No *** stands where the action printed a value that was no secret.
    expect(runner.log.filter((line) => line.includes('***'))).toEqual(['pw=*** done'])
  })
})

describe("secrets in java-opts and on a stranger's command line", () => {
  let target: any
  let stranger: ChildProcess | undefined
  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    stranger?.kill('SIGKILL')
    await target?.stop()
    await removeWorkspaces()
  })

  it('never reach the job log, while the warning still names the stranger on the idle port', async () => {
    const first = await run(target, await workspaceWithJar('1'))
    expect(first.code, why(first)).toBe(0)
    // A JVM of an older deploy, started with a password that is no input of this run, holds the idle port.
    const oldSecret = 'Old-db-password-Xk29'
    const idle = target.appPorts[0]
    const jar = path.join(await workspaceWithJar('0.9'), 'build', 'libs', 'sample-0.9.jar')
    stranger = spawn('java', [`-Ddb.password=${oldSecret}`, '-jar', jar, `--server.port=${idle}`], { stdio: 'ignore' })
    let up = false
    for (let i = 0; i < 150 && !up; i++) {
      up = (await get(`http://127.0.0.1:${idle}/`, { timeoutMs: 500 }).catch(() => undefined))?.status === 200
      if (!up) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(up).toBe(true)

    const newSecret = 'New-db-password-Qm71'
    const javaOpts = `-Xmx96m -Ddb.password=${newSecret}`
    const result = await run(target, await workspaceWithJar('2'), { 'java-opts': javaOpts })
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toMatch(
      new RegExp(
        `::warning::Port ${idle} was held by pid ${stranger.pid} \\(java -Ddb\\.password=… -jar \\S*sample-0\\.9\\.jar --server\\.port=${idle}\\), a JVM of this service`,
      ),
    )
    const logLines = result.stdout.split('\n')
    expect(logLines.filter((line) => line.includes(oldSecret))).toEqual([])
    expect(logLines).toContain(`::add-mask::${newSecret}`)
    expect(logLines.filter((line) => line.includes(newSecret) && !line.startsWith('::add-mask::'))).toEqual([])
    // The new instance got its option all the same.
    expect((await get(`http://127.0.0.1:${idle}/prop?name=db.password`)).body).toBe(newSecret)
  })
})

describe('dry-run', () => {
  let target: any
  beforeAll(async () => {
    target = await startTarget()
  })
  afterAll(async () => {
    await target?.stop()
    await removeWorkspaces()
  })

  /** Names, sizes and modification times of everything under the deploy dir, plus the include. */
  async function snapshot(): Promise<string> {
    const lines = []
    for (const file of (await filesUnder(target.deployDir)).sort()) {
      const info = await stat(file)
      lines.push(`${file} ${info.size} ${info.mtimeMs}`)
    }
    lines.push(await readFile(target.includePath, 'utf8'))
    return lines.join('\n')
  }

  it('on a fresh host: prints the plan and creates nothing', async () => {
    const include = await readFile(target.includePath, 'utf8')
    const result = await run(target, await workspaceWithJar('1'), { 'dry-run': 'true' })
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toContain('Dry run: nothing will change.')
    expect(result.stdout).toMatch(
      /upload sample-1\.jar \(\d+ bytes; only the chunks no kept release has, when they have chunk lists\) as release/,
    )
    expect(JSON.parse(result.outputs.report)[0].outcome).toBe('dry-run')
    await expect(stat(target.deployDir)).rejects.toThrow()
    expect(await readFile(target.includePath, 'utf8')).toBe(include)
  })

  it('after a deploy: changes nothing on the host, and says what it would stop and switch', async () => {
    const deployed = await run(target, await workspaceWithJar('1'))
    expect(deployed.code, why(deployed)).toBe(0)
    const servedBefore = await served(target)
    const before = await snapshot()
    const result = await run(target, await workspaceWithJar('2'), { 'dry-run': 'true', 'stop-previous': 'true' })
    expect(result.code, why(result)).toBe(0)
    expect(result.stdout).toContain(`nginx serves port ${deployed.outputs['active-port']} (release ${deployed.outputs.release})`)
    expect(result.stdout).toMatch(/point .* at port \d+, test nginx, reload/)
    expect(result.summary).toContain('dry-run')
    expect(await snapshot()).toBe(before)
    expect(await served(target)).toBe(servedBefore)
  })
})
