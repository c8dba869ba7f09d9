// What every e2e test needs: a workspace holding a built jar, and the inputs that point the action
// at a target started by scripts/lib/target.mjs.
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
// @ts-ignore -- plain JS helper shared with the demo and the bench
import { buildSampleJar } from '../../scripts/lib/sample.mjs'
// @ts-ignore -- plain JS helper shared with the demo and the bench
import { get } from '../../scripts/lib/target.mjs'
// @ts-ignore -- plain JS helper shared with the demo and the bench
import { runAction } from '../../scripts/lib/run-action.mjs'

export { get, runAction }

export type Inputs = Record<string, string | number | boolean>

export interface ActionRun {
  code: number | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
  durationMs: number
}

const workspaces: string[] = []

/** A workspace as a build step leaves it: `build/libs/<fileName>` holds the sample jar of `version`. */
export async function workspaceWithJar(version: string, options: { fileName?: string; padBytes?: number } = {}): Promise<string> {
  const workspace = await mkdtemp(path.join(os.tmpdir(), 'zdd-ws-'))
  workspaces.push(workspace)
  const libs = path.join(workspace, 'build', 'libs')
  await mkdir(libs, { recursive: true })
  await buildSampleJar({ outDir: libs, version, fileName: options.fileName ?? `sample-${version}.jar`, padBytes: options.padBytes ?? 0 })
  return workspace
}

export async function removeWorkspaces(): Promise<void> {
  await Promise.all(workspaces.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
}

/** Inputs for a deploy to `target`, pinned by its host key, into its own deploy dir and nginx. */
export function inputsFor(target: any, extra: Inputs = {}): Inputs {
  return {
    host: target.host,
    port: target.sshPort,
    username: target.user,
    'private-key': target.privateKey,
    'known-hosts': target.knownHosts,
    artifact: 'build/libs/*.jar',
    'app-name': 'sample',
    'deploy-dir': target.deployDir,
    ports: target.appPorts.join(','),
    'nginx-include': target.includePath,
    'nginx-test-command': target.nginxTestCommand,
    'nginx-reload-command': target.nginxReloadCommand,
    'health-interval': '0.1',
    'health-timeout': '30',
    'stop-timeout': '5',
    ...extra,
  }
}

export async function run(target: any, workspace: string, extra: Inputs = {}): Promise<ActionRun> {
  return runAction({ inputs: inputsFor(target, extra), workspace })
}

/** The first line nginx answers with right now, on a fresh connection. */
export async function served(target: any): Promise<string> {
  const response = await get(`${target.url}/`)
  return `${response.status} ${String(response.body).split('\n')[0]}`
}

/** Explains a failed run in the assertion message. */
export function why(result: ActionRun): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`
}

/** Kills the instances a deploy started in `deployDir` (a target's stop() covers only its own dir). */
export async function killDeployed(deployDir: string): Promise<void> {
  const runDir = path.join(deployDir, 'run')
  for (const file of (await readdir(runDir).catch(() => [] as string[])).filter((f) => f.endsWith('.pid'))) {
    // The first line is the pid; the second, its identity.
    const pid = Number.parseInt(await readFile(path.join(runDir, file), 'utf8').catch(() => ''), 10)
    if (!(pid > 1)) continue
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}
