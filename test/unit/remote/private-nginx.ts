/**
 * Private nginx masters and backends for the switch's tests: each nginx runs as an ordinary process
 * with every path inside its own directory, on a free port above 1024.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { get } from 'node:http'
import { dirname, join } from 'node:path'
import { renderInclude } from '../../../src/deploy/plan.js'
import { type SwitchParams, handoverScript, switchScript } from '../../../src/remote/nginx.js'
import { freePort, runScript, waitUntil } from './local-host.js'

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((path) =>
  existsSync(path),
)

export const TEMPLATE = 'set $service_url http://127.0.0.1:{port};'

export interface PrivateNginx {
  dir: string
  include: string
  port: number
  /** `-p DIR/ -c DIR/nginx.conf -e ...`: what the test and reload commands take. */
  args: string
  testCommand: string
  reloadCommand: string
  masterPid(): number
  /** Pids of its live workers (not shutting down), read from /proc. */
  workers(): number[]
  stop(): void
}

/** Starts nginx in `dir` (which must exist), proxying to `backend` through its include. */
export async function startPrivateNginx(dir: string, backend: number): Promise<PrivateNginx> {
  const include = join(dir, 'conf.d', 'service-url.inc')
  mkdirSync(dirname(include))
  mkdirSync(join(dir, 'logs'))
  const port = await freePort()
  writeFileSync(include, `${renderInclude(TEMPLATE, backend)}\n`)
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp-body; proxy_temp_path ${dir}/tmp-proxy; fastcgi_temp_path ${dir}/tmp-fcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi; scgi_temp_path ${dir}/tmp-scgi;
  server {
    listen 127.0.0.1:${port};
    location / { include ${include}; proxy_pass $service_url; }
  }
}
`,
  )
  const args = `-p ${dir}/ -c ${dir}/nginx.conf -e ${dir}/logs/error.log`
  execFileSync(NGINX!, args.split(' '), { stdio: 'ignore' })
  if (!(await waitUntil(() => existsSync(join(dir, 'nginx.pid'))))) throw new Error(`nginx in ${dir} did not start`)
  const masterPid = () => Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim())
  const workers = (): number[] => {
    const master = masterPid()
    const children = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
    return children.filter((pid) => {
      try {
        return !readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('shutting down')
      } catch {
        return false
      }
    })
  }
  // The pid file comes before the master has forked its worker: a test that takes the workers as they
  // are must find them there.
  if (!(await waitUntil(() => workers().length > 0))) throw new Error(`nginx in ${dir} started no worker`)
  return {
    dir,
    include,
    port,
    args,
    testCommand: `${NGINX} ${args} -t`,
    reloadCommand: `${NGINX} ${args} -s reload`,
    masterPid,
    workers,
    stop: () => {
      try {
        process.kill(masterPid(), 'SIGQUIT')
      } catch {
        // not started, or gone
      }
    },
  }
}

/** Small HTTP servers on free ports, each answering `backend <port>`. Stop them with `stopBackends`. */
export async function startBackends(count: number): Promise<{ ports: number[]; processes: ChildProcess[] }> {
  const ports: number[] = []
  const processes: ChildProcess[] = []
  for (let i = 0; i < count; i++) {
    const port = await freePort()
    const child = spawn(
      process.execPath,
      ['-e', `require('http').createServer((q, s) => s.end('backend ${port}')).listen(${port}, '127.0.0.1', () => console.log('ready'))`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    )
    await new Promise((resolve) => child.stdout!.once('data', resolve))
    ports.push(port)
    processes.push(child)
  }
  return { ports, processes }
}

/** One request through nginx on `port`, on a fresh connection. */
export function viaNginx(port: number): Promise<string> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
      let body = ''
      response.on('data', (chunk) => (body += chunk))
      response.on('end', () => resolve(`${response.statusCode} ${body}`))
    })
    request.on('error', (error) => resolve(`no answer: ${error.message}`))
  })
}

/** A switch, then the wait for nginx's hand-over that the deploy does before it relies on the new port alone. */
export async function switchAndHandOver(
  env: NodeJS.ProcessEnv | undefined,
  params: SwitchParams,
): Promise<Awaited<ReturnType<typeof runScript>>> {
  const run = await runScript(switchScript(params), { env })
  if (run.code === 0) {
    const handover = await runScript(handoverScript(run.answer.facts.old_workers ?? '', 5), { env })
    if (handover.code !== 0)
      throw new Error(`the wait for nginx's hand-over failed (exit ${handover.code}): ${handover.stdout}${handover.stderr}`)
  }
  return run
}
