// `npm run demo`: the whole job on loopback, with nothing but dist/, node and the system's tools.
// It starts a private sshd and nginx, builds two versions of a small Java service, and runs the
// bundled action the way a GitHub runner does: deploy v1, deploy v2 while requests flow through
// nginx, roll back. It prints what happens and how many requests failed, then tears it all down.
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { runAction } from './lib/run-action.mjs'
import { buildSampleJar } from './lib/sample.mjs'
import { get, startTarget } from './lib/target.mjs'
import { startTraffic } from './lib/traffic.mjs'
import { ensureSystemTools } from './lib/system-tools.mjs'

const say = (text) => console.log(`\n== ${text}`)

/** The action's log as a user reads it in the Actions UI: without workflow commands' syntax. */
function showLog(stdout) {
  for (const line of stdout.split('\n')) {
    if (line === '' || line.startsWith('::add-mask::') || line.startsWith('::endgroup::')) continue
    const shown = line
      .replace(/^::group::/, '> ')
      .replace(/^::(error|warning)::/, (_, kind) => `${kind.toUpperCase()}: `)
      .replaceAll('%0A', '\n    ')
    console.log(`    ${shown}`)
  }
}

async function served(target) {
  const response = await get(`${target.url}/`).catch((error) => ({ status: 0, body: error.message }))
  return `${response.status} ${String(response.body).trim()}`
}

ensureSystemTools((text) => say(text))
const work = await mkdtemp(path.join(os.tmpdir(), 'zdd-demo-'))
let target
let traffic
try {
  say('Starting a target on loopback: sshd, nginx in front of two app ports')
  target = await startTarget()
  console.log(`    sshd on 127.0.0.1:${target.sshPort}, nginx on ${target.url}, app ports ${target.appPorts.join(' and ')}`)
  console.log(`    host key pinned: ${target.hostFingerprints[0]}`)

  const workspaces = {}
  for (const version of ['1', '2']) {
    workspaces[version] = path.join(work, `v${version}`)
    await mkdir(path.join(workspaces[version], 'build', 'libs'), { recursive: true })
    await buildSampleJar({ outDir: path.join(workspaces[version], 'build', 'libs'), version, fileName: 'demo-service.jar' })
  }

  const inputs = (extra) => ({
    host: target.host,
    port: target.sshPort,
    username: target.user,
    'private-key': target.privateKey,
    'host-fingerprint': target.hostFingerprints.join('\n'),
    artifact: 'build/libs/*.jar',
    'app-name': 'demo-service',
    'deploy-dir': target.deployDir,
    ports: target.appPorts.join(','),
    'nginx-include': target.includePath,
    'nginx-test-command': target.nginxTestCommand,
    'nginx-reload-command': target.nginxReloadCommand,
    env: 'SAMPLE_START_DELAY_MS=1500',
    // What a user of a host without systemd writes: the service runs detached, and no deploy warns
    // that it will not come back after a reboot.
    supervisor: 'none',
    ...extra,
  })
  const step = async (title, workspace, extra = {}) => {
    say(title)
    const result = await runAction({ inputs: inputs(extra), workspace, node: process.execPath })
    showLog(result.stdout)
    const { outputs } = result
    console.log(
      `    -> exit ${result.code} in ${(result.durationMs / 1000).toFixed(2)} s; active-port=${outputs['active-port']} previous-port=${outputs['previous-port']} release=${outputs.release} uploaded-bytes=${outputs['uploaded-bytes']}`,
    )
    console.log(`    nginx now answers: ${await served(target)}`)
    if (result.code !== 0) throw new Error(`${title} failed`)
  }

  await step('Deploy v1', workspaces['1'])
  say('Requests now flow through nginx, a new connection each, 4 at a time')
  traffic = startTraffic({ url: target.url, concurrency: 4, maxDurationMs: 120_000 })
  await step('Deploy v2 while requests flow', workspaces['2'])
  await step('Roll back to v1 (the warm instance: no upload, no start)', workspaces['2'], { command: 'rollback' })
  const stats = await traffic.stop()
  traffic = undefined

  say('Result')
  for (const [body, count] of Object.entries(stats.bodies)) console.log(`    ${String(count).padStart(7)} x ${body}`)
  console.log(`    ${stats.total} requests through nginx, ${stats.failed} failed`)
  for (const failure of stats.failures.slice(0, 5)) console.log(`    failure: ${JSON.stringify(failure)}`)
  process.exitCode = stats.failed === 0 ? 0 : 1
} catch (error) {
  console.error(`\nDemo failed: ${error instanceof Error ? error.message : error}`)
  process.exitCode = 1
} finally {
  await traffic?.stop()
  say('Tearing down')
  await target?.stop()
  await rm(work, { recursive: true, force: true })
}
