/**
 * A private nginx laid out as traffic control meets it on a host (loopback only): the user's
 * `access_log user.log` in the server block, the include in `location /`, and conf.d/*.conf read
 * at http level, as on Debian, so that the http-level file is read once written.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { trafficLogPath } from '../../../src/remote/traffic.js'
import { freePort, tempDir, waitUntil } from './local-host.js'
import { NGINX } from './private-nginx.js'

export const TEMPLATE = 'set $service_url http://127.0.0.1:{port};'
export const APP = 'shop'

export interface Site {
  dir: string
  port: number
  include: string
  httpFile: string
  userLog: string
  trafficLog: string
  testCommand: string
  reloadCommand: string
  stop(): void
}

/**
 * nginx with the user's `access_log user.log` in the server block and the include in `location /`;
 * conf.d/*.conf is read at http level, as on Debian, so the http-level file is read once written.
 */
export async function startSite(backend: number): Promise<Site> {
  const dir = tempDir('zdd-traffic-nginx-')
  for (const sub of ['conf.d', 'snippets', 'logs', 'app/run']) mkdirSync(join(dir, sub), { recursive: true })
  const port = await freePort()
  const include = join(dir, 'snippets', 'service.inc')
  writeFileSync(include, `${TEMPLATE.replace('{port}', String(backend))}\n`)
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log;
events { worker_connections 256; }
http {
  client_body_temp_path ${dir}/tmp-body; proxy_temp_path ${dir}/tmp-proxy; fastcgi_temp_path ${dir}/tmp-fcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi; scgi_temp_path ${dir}/tmp-scgi;
  include conf.d/*.conf;
  server {
    listen 127.0.0.1:${port};
    access_log ${dir}/logs/user.log;
    add_header Strict-Transport-Security "max-age=60" always;
    location / {
      include ${include};
      proxy_pass $service_url;
      proxy_read_timeout 1s;
    }
  }
}
`,
  )
  const args = ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', `${dir}/logs/error.log`]
  execFileSync(NGINX!, args, { stdio: 'ignore' })
  if (!(await waitUntil(() => existsSync(join(dir, 'nginx.pid'))))) throw new Error(`nginx in ${dir} did not start`)
  return {
    dir,
    port,
    include,
    httpFile: join(dir, 'conf.d', `zdd-${APP}.conf`),
    userLog: join(dir, 'logs', 'user.log'),
    trafficLog: trafficLogPath(join(dir, 'app')),
    testCommand: `${NGINX} ${args.join(' ')} -t`,
    reloadCommand: `${NGINX} ${args.join(' ')} -s reload`,
    stop: () => {
      try {
        process.kill(Number(readFileSync(join(dir, 'nginx.pid'), 'utf8')), 'SIGQUIT')
      } catch {
        // not started, or gone
      }
    },
  }
}
