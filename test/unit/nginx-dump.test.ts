/** Reading `nginx -T` (src/deploy/nginx-dump.ts), on dumps written by hand. Real dumps: remote/traffic-nginx.test.ts. */
import { describe, expect, it } from 'vitest'
import { dumpCommand, httpFileMissing, readNginxDump } from '../../src/deploy/nginx-dump.js'

const INCLUDE = '/etc/nginx/snippets/shop.inc'
const HTTP_FILE = '/etc/nginx/conf.d/zdd-shop.conf'
const where = { include: INCLUDE, httpFile: HTTP_FILE }

/** A dump as nginx -T prints it: each file after its "# configuration file" line. */
function dump(files: Record<string, string>): string {
  return Object.entries(files)
    .map(([path, text]) => `# configuration file ${path}:\n${text}\n`)
    .join('')
}

/** Debian's nginx.conf, shortened, with a site that includes the include. */
function debian(site: string, http = '\taccess_log /var/log/nginx/access.log;\n'): string {
  return dump({
    '/etc/nginx/nginx.conf': `user www-data;\nevents {\n\tworker_connections 768;\n}\nhttp {\n\tsendfile on;\n${http}\tinclude /etc/nginx/conf.d/*.conf;\n\tinclude /etc/nginx/sites-enabled/*;\n}\n`,
    '/etc/nginx/sites-enabled/default': site,
    [INCLUDE]: 'set $service_url http://127.0.0.1:8081;',
  })
}

describe('dumpCommand', () => {
  it('makes the -t word -T, and nothing else', () => {
    expect(dumpCommand('sudo -n nginx -t')).toBe('sudo -n nginx -T')
    expect(dumpCommand('/usr/sbin/nginx -p /srv/ng/ -c /srv/ng/nginx.conf -t -q')).toBe(
      '/usr/sbin/nginx -p /srv/ng/ -c /srv/ng/nginx.conf -T -q',
    )
    expect(dumpCommand('nginx -tq')).toBeUndefined()
    expect(dumpCommand('docker exec web nginx-test')).toBeUndefined()
  })
})

describe('readNginxDump', () => {
  it("Debian's layout: conf.d/*.conf at http level reads the http-level file, even before it exists; the http level's log is repeated", () => {
    const layout = readNginxDump(
      debian(`server {\n\tlisten 80;\n\tlocation / {\n\t\tinclude ${INCLUDE};\n\t\tproxy_pass $service_url;\n\t}\n}\n`),
      where,
    )
    expect(layout).toEqual({ httpFileIncluded: true, accessLogs: ['access_log /var/log/nginx/access.log;'], problems: [], addHeaders: [] })
  })

  it('the innermost level that names access logs is repeated, verbatim and whole (several, with their options)', () => {
    const site = `server {\n  listen 80;\n  access_log /var/log/nginx/shop.log   main\n      buffer=32k flush=5s;\n  access_log "/var/log/nginx/shop $host.json" json if=$loggable;\n  location / { include ${INCLUDE}; proxy_pass $service_url; }\n}\n`
    expect(readNginxDump(debian(site), where).accessLogs).toEqual([
      'access_log /var/log/nginx/shop.log main buffer=32k flush=5s;',
      'access_log "/var/log/nginx/shop $host.json" json if=$loggable;',
    ])
  })

  it("nothing to repeat where the innermost level says off, or where the include's own block has logs (they stay in force)", () => {
    const off = `server {\n  access_log off;\n  location / { include ${INCLUDE}; proxy_pass $service_url; }\n}\n`
    expect(readNginxDump(debian(off), where)).toEqual({ httpFileIncluded: true, accessLogs: [], problems: [], addHeaders: [] })
    const same = `server {\n  location / {\n    include ${INCLUDE};\n    proxy_pass $service_url;\n    access_log /var/log/nginx/shop.log;\n  }\n}\n`
    expect(readNginxDump(debian(same), where)).toEqual({ httpFileIncluded: true, accessLogs: [], problems: [], addHeaders: [] })
  })

  it("an off in the include's own block silences the traffic log too: a problem", () => {
    const site = `server {\n  location / {\n    access_log off;\n    include ${INCLUDE};\n    proxy_pass $service_url;\n  }\n}\n`
    expect(readNginxDump(debian(site), where).problems).toEqual([expect.stringMatching(/location \/ says "access_log off;"/)])
  })

  it('no level names a log: the compiled default, as nginx -V says or nginx builds it', () => {
    const site = `server {\n  location / { include ${INCLUDE}; proxy_pass $service_url; }\n}\n`
    expect(readNginxDump(debian(site, ''), where).accessLogs).toEqual(['access_log logs/access.log combined;'])
    expect(readNginxDump(debian(site, ''), { ...where, compiledAccessLog: '/var/log/nginx/access.log' }).accessLogs).toEqual([
      'access_log /var/log/nginx/access.log combined;',
    ])
  })

  it("the include's own lines (an observing include left by a run) are not the user's", () => {
    const text = debian(`server {\n  location / { include ${INCLUDE}; proxy_pass $service_url; }\n}\n`).replace(
      'set $service_url http://127.0.0.1:8081;',
      '# zero-downtime-deploy: observed 8081\nset $service_url http://127.0.0.1:8081;\naccess_log "/srv/shop/run/traffic.log" zdd_shop;\naccess_log /var/log/nginx/access.log;',
    )
    expect(readNginxDump(text, where)).toEqual({
      httpFileIncluded: true,
      accessLogs: ['access_log /var/log/nginx/access.log;'],
      problems: [],
      addHeaders: [],
    })
  })

  it("logs from a file the block includes count as that block's; a glob includes the include; relative paths are under the main file's directory", () => {
    const text = dump({
      '/opt/ng/nginx.conf':
        'events {}\nhttp {\n  include zdd/*.conf;\n  server {\n    include logs.conf;\n    location / { include snippets/*.inc; }\n  }\n}\n',
      '/opt/ng/logs.conf': 'access_log /opt/ng/site.log combined;\n',
      '/opt/ng/snippets/shop.inc': 'set $service_url http://127.0.0.1:8081;',
    })
    expect(readNginxDump(text, { include: '/opt/ng/snippets/shop.inc', httpFile: '/opt/ng/zdd/zdd-shop.conf' })).toEqual({
      httpFileIncluded: true,
      accessLogs: ['access_log /opt/ng/site.log combined;'],
      problems: [],
      addHeaders: [],
    })
  })

  it('the http-level file read after the include: its log format would come too late', () => {
    const text = debian(`server { location / { include ${INCLUDE}; } }\n`).replace(
      '\tinclude /etc/nginx/conf.d/*.conf;\n\tinclude /etc/nginx/sites-enabled/*;\n',
      '\tinclude /etc/nginx/sites-enabled/*;\n\tinclude /etc/nginx/conf.d/*.conf;\n',
    )
    const layout = readNginxDump(text, where)
    expect(layout.httpFileIncluded).toBe(true)
    expect(layout.problems).toEqual([expect.stringMatching(/reads \/etc\/nginx\/conf\.d\/zdd-shop\.conf after .*log format/)])
  })

  it('the http-level file is not read: no http-level include matches it, or one inside server does', () => {
    const site = `server {\n  include /etc/nginx/conf.d/*.conf;\n  location / { include ${INCLUDE}; }\n}\n`
    const text = debian(site).replace('\tinclude /etc/nginx/conf.d/*.conf;\n', '')
    expect(readNginxDump(text, where).httpFileIncluded).toBe(false)
    const { problem, fix } = httpFileMissing(HTTP_FILE, 'canary-steps ask the action to split and observe the traffic')
    expect(problem).toBe(
      'nginx does not read /etc/nginx/conf.d/zdd-shop.conf (nginx-http-include) inside its http block, and canary-steps ask the action to split and observe the traffic: that file holds the split of the clients and the log format.',
    )
    // Both facts: where the include goes, and that the file must exist first (or nginx -t fails).
    expect(fix).toMatch(
      /^Add "include \/etc\/nginx\/conf\.d\/zdd-shop\.conf;" inside the http block of nginx's configuration, above the server blocks/,
    )
    expect(fix).toContain(
      'after creating the file, empty ("sudo touch /etc/nginx/conf.d/zdd-shop.conf": nginx -t fails on an include of a missing file)',
    )
    expect(readNginxDump(text, { ...where, httpFile: '/etc/nginx/sites-enabled/zdd-shop' }).httpFileIncluded).toBe(true)
  })

  it('problems: never included; included in places with different logs; an inner location with its own logs', () => {
    expect(readNginxDump(debian('server { listen 80; }\n'), where).problems).toEqual([
      `nginx does not read ${INCLUDE}: no include directive of its configuration names it`,
    ])
    const two = `server { listen 80; location / { include ${INCLUDE}; } }\nserver { listen 443; access_log /var/log/nginx/tls.log; location / { include ${INCLUDE}; } }\n`
    const layout = readNginxDump(debian(two), where)
    expect(layout.accessLogs).toEqual([])
    expect(layout.problems).toEqual([expect.stringMatching(/included in 2 places with different access logs/)])
    const same = `server { listen 80; location / { include ${INCLUDE}; } }\nserver { listen 443; location / { include ${INCLUDE}; } }\n`
    expect(readNginxDump(debian(same), where)).toMatchObject({ accessLogs: ['access_log /var/log/nginx/access.log;'], problems: [] })
    const inner = `server { listen 80; include ${INCLUDE}; location /api { access_log /var/log/nginx/api.log; proxy_pass $service_url; } }\n`
    expect(readNginxDump(debian(inner), where).problems).toEqual([
      expect.stringMatching(/location \/api has access_log directives of its own/),
    ])
  })

  it("add_header in force for the maintenance include: the innermost level's, none where the include's own block has some", () => {
    const server = `server {\n  add_header Strict-Transport-Security "max-age=63072000" always;\n  add_header X-Frame-Options DENY;\n  location / { include ${INCLUDE}; }\n}\n`
    expect(readNginxDump(debian(server), where).addHeaders).toEqual([
      'add_header Strict-Transport-Security "max-age=63072000" always;',
      'add_header X-Frame-Options DENY;',
    ])
    const own = `server {\n  add_header X-Frame-Options DENY;\n  location / { add_header X-Own 1; include ${INCLUDE}; }\n}\n`
    expect(readNginxDump(debian(own), where).addHeaders).toEqual([])
  })

  it('quotes, comments, ${var} and escapes do not confuse it', () => {
    const site = `server {\n  # location / { include ${INCLUDE}; }\n  set $x "a;b{c}";\n  set $y '\\'}';\n  set $z \${x}_y;\n  location ~ "^/(a|b){2}" { include ${INCLUDE}; }\n}\n`
    expect(readNginxDump(debian(site), where)).toEqual({
      httpFileIncluded: true,
      accessLogs: ['access_log /var/log/nginx/access.log;'],
      problems: [],
      addHeaders: [],
    })
  })

  it('an empty or broken dump says so', () => {
    expect(readNginxDump('', where).problems).toEqual(['nginx -T printed no configuration file'])
    expect(readNginxDump(dump({ '/etc/nginx/nginx.conf': 'http { server {' }), where).problems).toEqual([
      expect.stringMatching(/^nginx does not read .*could not be read: \/etc\/nginx\/nginx\.conf: a "\{" without its "\}"/),
    ])
  })

  it("a file it cannot follow elsewhere (a Lua block's code) does not stand in the way", () => {
    const lua = debian(`server { location / { include ${INCLUDE}; } }\n`).replace(
      '# configuration file /etc/nginx/sites-enabled/default:',
      "# configuration file /etc/nginx/conf.d/lua.conf:\ninit_by_lua_block { local t = { a = '}' } -- it's\n}\n# configuration file /etc/nginx/sites-enabled/default:",
    )
    expect(readNginxDump(lua, where)).toMatchObject({
      httpFileIncluded: true,
      accessLogs: ['access_log /var/log/nginx/access.log;'],
      problems: [],
    })
  })
})
