/**
 * readNginxDump on what a real `nginx -T` prints (run through nginxDumpScript, as the deploy runs
 * it), for layouts users have: Debian's conf.d and sites-enabled, logs in a snippet, relative
 * includes, the http-level file named by its own include, and the wrong order.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { dumpCommand, readNginxDump } from '../../../src/deploy/nginx-dump.js'
import { parseAnswer } from '../../../src/remote/protocol.js'
import { nginxDumpScript, readDumpAnswer } from '../../../src/remote/traffic.js'
import { cleanUpAfterAll, runScript, tempDir } from './local-host.js'
import { NGINX } from './private-nginx.js'

cleanUpAfterAll()

/** Writes the files (paths under a new directory, DIR in the text standing for it) and dumps them with nginx -T. */
async function dumpOf(files: Record<string, string>) {
  const dir = tempDir('zdd-dump-')
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text.replaceAll('DIR', dir))
  }
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const test = `${NGINX} -p ${dir}/ -c ${dir}/nginx.conf -e ${dir}/logs/error.log -t`
  const run = await runScript(nginxDumpScript(dumpCommand(test)!))
  expect(run.code, run.stdout).toBe(0)
  const answer = readDumpAnswer(run.answer)
  return { dir, dump: answer.dump!, httpLogPath: answer.httpLogPath }
}

const MAIN = (httpBody: string) => `pid DIR/nginx.pid;
events { worker_connections 64; }
http {
  client_body_temp_path DIR/tb; proxy_temp_path DIR/tp; fastcgi_temp_path DIR/tf; uwsgi_temp_path DIR/tu; scgi_temp_path DIR/ts;
${httpBody}
}
`
const SITE = `server {
  listen 127.0.0.1:1;
  include DIR/snippets/logs.conf;
  location / {
    include DIR/snippets/service.inc;
    proxy_pass $service_url;
  }
  location /health { access_log off; return 200; }
}
`
const FILES = {
  'snippets/logs.conf': 'access_log "DIR/logs/shop access.log" combined buffer=4k\n    flush=1s;\naccess_log DIR/logs/shop.json;\n',
  'snippets/service.inc': 'set $service_url http://127.0.0.1:8081;\n',
  'conf.d/zdd-shop.conf': "log_format zdd_shop '$msec|$status|$upstream_addr|$upstream_response_time|zdd';\n",
  'sites-enabled/shop': SITE,
}

describe.skipIf(!NGINX).concurrent('readNginxDump on a real nginx -T', () => {
  it("Debian's layout, the site's logs in a snippet: repeated verbatim on one line each; conf.d read first", async () => {
    const { dir, dump, httpLogPath } = await dumpOf({
      'nginx.conf': MAIN('  access_log DIR/logs/access.log;\n  include DIR/conf.d/*.conf;\n  include DIR/sites-enabled/*;'),
      ...FILES,
    })
    expect(httpLogPath).toMatch(/access\.log$/)
    expect(readNginxDump(dump, { include: join(dir, 'snippets/service.inc'), httpFile: join(dir, 'conf.d/zdd-shop.conf') })).toEqual({
      httpFileIncluded: true,
      accessLogs: [`access_log "${dir}/logs/shop access.log" combined buffer=4k flush=1s;`, `access_log ${dir}/logs/shop.json;`],
      problems: [],
      addHeaders: [],
    })
    // A file conf.d does not have yet is read once written: the glob matches it.
    expect(
      readNginxDump(dump, { include: join(dir, 'snippets/service.inc'), httpFile: join(dir, 'conf.d/zdd-cart.conf') }).httpFileIncluded,
    ).toBe(true)
  })

  it('relative includes, the http-level file by its own include, no log anywhere: the compiled default', async () => {
    const { dir, dump, httpLogPath } = await dumpOf({
      'nginx.conf': MAIN(
        '  include conf.d/zdd-shop.conf;\n  server { listen 127.0.0.1:1; location / { include snippets/*.inc; proxy_pass $service_url; } }',
      ),
      ...FILES,
    })
    expect(
      readNginxDump(dump, {
        include: join(dir, 'snippets/service.inc'),
        httpFile: join(dir, 'conf.d/zdd-shop.conf'),
        compiledAccessLog: httpLogPath,
      }),
    ).toEqual({
      httpFileIncluded: true,
      accessLogs: [`access_log ${httpLogPath} combined;`],
      problems: [],
      addHeaders: [],
    })
  })

  it('sites before conf.d: the log format would come after the access_log that names it', async () => {
    const { dir, dump } = await dumpOf({
      'nginx.conf': MAIN('  include DIR/sites-enabled/*;\n  include DIR/conf.d/*.conf;'),
      ...FILES,
    })
    const layout = readNginxDump(dump, { include: join(dir, 'snippets/service.inc'), httpFile: join(dir, 'conf.d/zdd-shop.conf') })
    expect(layout.httpFileIncluded).toBe(true)
    expect(layout.problems).toEqual([expect.stringMatching(/log format it defines must come first/)])
  })

  it('conf.d included inside the server only: not read at http level', async () => {
    const { dir, dump } = await dumpOf({
      'nginx.conf': MAIN(
        '  server { listen 127.0.0.1:1; include DIR/conf.d/*.inc; location / { include DIR/snippets/service.inc; proxy_pass $service_url; } }',
      ),
      ...FILES,
    })
    expect(
      readNginxDump(dump, { include: join(dir, 'snippets/service.inc'), httpFile: join(dir, 'conf.d/zdd-shop.inc') }).httpFileIncluded,
    ).toBe(false)
  })
})

describe.skipIf(!NGINX || process.getuid?.() !== 0)('nginxDumpScript as a user without sudo rights, with a PATH that has no sbin', () => {
  it('says what sudo refused, and still finds nginx -V and the home', () => {
    const result = spawnSync('runuser', ['-u', 'nobody', '--', 'env', 'PATH=/usr/bin:/bin', 'HOME=/nonexistent', 'sh', '-s'], {
      input: nginxDumpScript('sudo -n nginx -T'),
      encoding: 'utf8',
      cwd: '/',
    })
    expect(result.status).toBe(1)
    const answer = readDumpAnswer(parseAnswer(result.stdout))
    expect(answer.dump).toBeUndefined()
    expect(answer.error).toMatch(/sudo/)
    expect(answer.home).toBe('/nonexistent')
    expect(answer.httpLogPath).toMatch(/access\.log$/)
  })
})
