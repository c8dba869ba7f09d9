// A throwaway deploy target on loopback: a private sshd and nginx inside one temp dir,
// plus two free ports for the blue/green app instances. Nothing outside the dir is
// touched except /run/sshd, which sshd insists on when started as root.
// With `netns`, sshd and nginx (and so every process a deploy starts over SSH) run inside
// that network namespace (see netns.mjs), listening on `listenAddress`. With `machineDir` as
// well, the target is a machine of its own: own mount and PID namespaces, its dir seen at
// `machineDir`, so that several targets have the same paths, as several hosts would (machineDir
// is created if missing; its removal is left to the caller, as several targets share it).
import { execFile as execFileCb, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { childOf, freePorts, isAlive, processesOf, readOr, readPid, shQuote, signal, waitForListenerIn, waitForListenerOf, waitForPort } from './target-processes.mjs'

const execFile = promisify(execFileCb)

const SSHD = '/usr/sbin/sshd' // sshd re-execs itself, so it refuses a relative path
const NGINX = '/usr/sbin/nginx'
const PASSPHRASE = 'correct horse'

/**
 * @typedef {object} Target
 * @property {string} dir temp dir holding everything below
 * @property {string} host 127.0.0.1, or `listenAddress` when given
 * @property {string | undefined} netns the network namespace sshd and nginx run in, if any
 * @property {{ dir: string, deployDir: string, includePath: string, httpIncludePath: string }} remote the paths as the
 *   host's own processes (and so the action) see them: `machineDir` based for a machine, else
 *   the same as `dir`, `deployDir` and `includePath` (which are always the runner's view)
 * @property {number} sshPort
 * @property {string} user the current OS user (sshd lets it log in)
 * @property {string} privateKey unencrypted ed25519 client key (OpenSSH format)
 * @property {string} privateKeyPath
 * @property {string} encryptedKey ed25519 client key encrypted with `passphrase`
 * @property {string} encryptedKeyPath
 * @property {string} passphrase
 * @property {string[]} hostFingerprints 'SHA256:...' of every sshd host key
 * @property {string} knownHosts known_hosts lines for every host key
 * @property {string} knownHostsPath the same, as a file
 * @property {number} nginxPort
 * @property {string} url http://<host>:<nginxPort>
 * @property {string} includePath file nginx includes to learn the live upstream
 * @property {string} httpIncludePath a file nginx reads inside http (its http block includes
 *   http.d/*.conf): where traffic control's http-level file of app "sample" goes
 * @property {string} nginxConfPath
 * @property {string} nginxTestCommand shell command: nginx -t for this nginx (run on the host)
 * @property {string} nginxReloadCommand shell command: nginx -s reload for this nginx (run on the host)
 * @property {[number, number]} appPorts
 * @property {string} deployDir where the action should deploy to (not created)
 * @property {string} sshdLogPath
 * @property {string} nginxErrorLogPath
 * @property {string} nginxAccessLogPath
 * @property {number | undefined} machinePid the machine's init as the runner sees it (with machineDir)
 * @property {() => Promise<void>} stop kills everything started in `dir`, removes it; idempotent
 */

/**
 * Starts sshd and nginx in a fresh temp dir. Call `stop()` when done.
 * @param {{ netns?: string, listenAddress?: string, authorizedKeys?: string,
 *   sessionEnv?: Record<string, string>, machineDir?: string, sshPort?: number,
 *   nginxPort?: number, appPorts?: [number, number], passwordAuth?: boolean, homeAuthorizedKeys?: boolean }} [options]
 *   passwordAuth: let sshd accept passwords (checked against the system's shadow file).
 *   homeAuthorizedKeys: also accept each user's ~/.ssh/authorized_keys (a user a test creates).
 *   netns: run sshd and nginx with `ip netns exec <netns>` (needs root), so the target and all
 *   it starts live in that namespace. listenAddress: where sshd and nginx listen (default
 *   127.0.0.1); with netns, an address of that namespace. authorizedKeys: more public key lines
 *   that may log in (e.g. one key shared by several targets). sessionEnv: `SetEnv` for the SSH
 *   sessions (e.g. PATH), as a host's own environment would be.
 *   machineDir (needs root): run the target in mount and PID namespaces of its own, with its dir
 *   bind-mounted at machineDir (created if missing, left for the caller to remove). Several
 *   targets may share one machineDir, each seeing its own files there: a rolling deploy then
 *   gives all of them the same deploy-dir, nginx-include and nginx commands (see `remote`), and
 *   nginx on one target never sees the other targets' nginx in /proc, as on separate hosts.
 *   sshPort, nginxPort, appPorts: fixed ports instead of free ones (e.g. 22, 80 and 8081/8082
 *   inside a namespace of the target's own).
 * @returns {Promise<Target>}
 */
export async function startTarget(options = {}) {
  const { netns, listenAddress = '127.0.0.1', authorizedKeys = '', sessionEnv = {}, machineDir, passwordAuth = false, homeAuthorizedKeys = false } = options
  if (machineDir !== undefined && (!path.isAbsolute(machineDir) || /[\s'"\\]/.test(machineDir))) {
    throw new Error(`machineDir ${JSON.stringify(machineDir)}: expected an absolute path without spaces or quotes`)
  }
  if (!/^[0-9.]+$/.test(listenAddress)) throw new Error(`listenAddress ${JSON.stringify(listenAddress)}: expected an IPv4 address`)
  for (const [name, value] of Object.entries(sessionEnv)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || /[\s"\\]/.test(value)) throw new Error(`sessionEnv ${name}: expected a NAME and a value without spaces, quotes or backslashes`)
  }
  /** Runs a daemon's start command, inside the namespace when there is one. */
  const launch = (/** @type {string} */ command, /** @type {string[]} */ args, /** @type {import('node:child_process').ExecFileOptions} */ opts) =>
    netns ? execFile('ip', ['netns', 'exec', netns, command, ...args], opts) : execFile(command, args, opts)
  const host = listenAddress
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zdd-target-'))
  /** Where the target's own processes see `dir`. */
  const remoteDir = machineDir ?? dir
  /** @type {Promise<void> | undefined} */
  let stopping
  /** A machine's init (sshd -D, PID 1 of its PID namespace), as the runner sees its pid. */
  /** @type {number | undefined} */
  let initPid

  const sshdPidPath = path.join(dir, 'sshd.pid')
  const nginxPidPath = path.join(dir, 'nginx.pid')
  const deployDir = path.join(dir, 'app')

  const stop = () => {
    stopping ??= (async () => {
      if (machineDir) {
        // A machine's pid files hold pids of its own PID namespace: never signal those from here.
        // Killing the namespace's init makes the kernel kill every process in it.
        if (initPid) signal(initPid, 'SIGKILL')
      } else {
        // Deployed app instances first: they are what might still be serving.
        const runDir = path.join(deployDir, 'run')
        const pidFiles = (await readdir(runDir).catch(() => /** @type {string[]} */ ([]))).filter((f) => f.endsWith('.pid'))
        const ours = pidFiles.length > 0 ? await processesOf(dir) : []
        for (const f of pidFiles) {
          const pid = await readPid(path.join(runDir, f))
          // A stale pid file could name an unrelated process by now; only kill our own.
          if (pid && ours.includes(pid)) signal(pid, 'SIGKILL')
        }
        // nginx workers exit with their master on TERM; SIGKILL on the master would orphan them.
        const nginxPid = await readPid(nginxPidPath)
        if (nginxPid) signal(nginxPid, 'SIGTERM')
        const sshdPid = await readPid(sshdPidPath)
        if (sshdPid) signal(sshdPid, 'SIGTERM')
      }

      const deadline = Date.now() + 3000
      for (;;) {
        const left = []
        for (const pid of await processesOf(dir)) if (await isAlive(pid)) left.push(pid)
        if (left.length === 0) break
        // Grace for the polite signals, then force whatever remains.
        const force = Date.now() > deadline - 2000
        for (const pid of left) signal(pid, force ? 'SIGKILL' : 'SIGTERM')
        if (Date.now() > deadline) break
        await sleep(100)
      }
      await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {})
    })().catch(() => {})
    return stopping
  }

  try {
    // ssh, nginx and the two app slots, reserved together so they are distinct.
    const reserved = await freePorts(4)
    const sshPort = options.sshPort ?? reserved[0]
    const nginxPort = options.nginxPort ?? reserved[1]
    const [appA, appB] = options.appPorts ?? [reserved[2], reserved[3]]

    // --- keys -------------------------------------------------------------------------
    const keyDir = path.join(dir, 'keys')
    await mkdir(keyDir, { mode: 0o700 })
    const hostKeyPaths = ['ed25519', 'ecdsa'].map((t) => path.join(keyDir, `ssh_host_${t}_key`))
    const privateKeyPath = path.join(keyDir, 'id_ed25519')
    const encryptedKeyPath = path.join(keyDir, 'id_ed25519_encrypted')
    await Promise.all([
      execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zdd-host', '-f', hostKeyPaths[0]]),
      execFile('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-C', 'zdd-host', '-f', hostKeyPaths[1]]),
      execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'zdd-client', '-f', privateKeyPath]),
      execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-C', 'zdd-client-enc', '-f', encryptedKeyPath]),
    ])
    const authorizedKeysPath = path.join(keyDir, 'authorized_keys')
    await writeFile(
      authorizedKeysPath,
      (await readFile(`${privateKeyPath}.pub`, 'utf8')) +
        (await readFile(`${encryptedKeyPath}.pub`, 'utf8')) +
        (authorizedKeys.trim() ? `${authorizedKeys.trim()}\n` : ''),
      { mode: 0o600 },
    )

    const hostFingerprints = []
    const knownHostLines = []
    for (const key of hostKeyPaths) {
      const { stdout } = await execFile('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`])
      hostFingerprints.push(stdout.trim().split(/\s+/)[1])
      const [type, blob] = (await readFile(`${key}.pub`, 'utf8')).trim().split(/\s+/)
      // known_hosts names a host on port 22 by its bare name.
      knownHostLines.push(`${sshPort === 22 ? host : `[${host}]:${sshPort}`} ${type} ${blob}`)
    }
    const knownHosts = knownHostLines.join('\n') + '\n'
    const knownHostsPath = path.join(keyDir, 'known_hosts')
    await writeFile(knownHostsPath, knownHosts)

    // --- sshd -------------------------------------------------------------------------
    const sshdConfigPath = path.join(dir, 'sshd_config')
    const sshdLogPath = path.join(dir, 'sshd.log')
    await writeFile(
      sshdConfigPath,
      [
        // Port must come before ListenAddress, which otherwise binds port 22.
        `Port ${sshPort}`,
        `ListenAddress ${host}`,
        ...hostKeyPaths.map((k) => `HostKey ${k}`),
        `PidFile ${sshdPidPath}`,
        `AuthorizedKeysFile ${authorizedKeysPath}${homeAuthorizedKeys ? ' .ssh/authorized_keys' : ''}`,
        // The temp dir is not a home directory; StrictModes would reject its permissions chain.
        'StrictModes no',
        'UsePAM no',
        'Subsystem sftp internal-sftp',
        // OpenSSH's default, stated because a target may serve as a jump host (ssh -J, forwardOut).
        'AllowTcpForwarding yes',
        ...Object.entries(sessionEnv).map(([name, value]) => `SetEnv ${name}=${value}`),
        'PermitRootLogin yes',
        `PasswordAuthentication ${passwordAuth ? 'yes' : 'no'}`,
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        // Deploys open many channels/connections in parallel; defaults (10:30:100, 10) throttle them.
        'MaxStartups 50',
        'MaxSessions 50',
        'PrintMotd no',
        'PrintLastLog no',
        'UseDNS no',
        'LogLevel VERBOSE',
        '',
      ].join('\n'),
    )
    // Privilege separation dir; sshd refuses to start as root without it. Non-root cannot
    // create it and does not need it, hence no error here (the sshd log would say why).
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => {})
    if (machineDir) {
      // The machine: `unshare` makes the mount and PID namespaces, its child (PID 1 there) binds
      // dir at machineDir and becomes `sshd -D`, which reaps orphans like an init. /proc is
      // remounted for the new PID namespace: the host's processes see only their own machine.
      // The user's home there is an empty dir of its own: the runner's dotfiles (a ~/.bashrc
      // that bash runs for every SSH command) stay out of the machine's sessions.
      await mkdir(machineDir, { recursive: true })
      await mkdir(path.join(dir, 'home'), { mode: 0o700 })
      const machineLog = path.join(dir, 'machine.log')
      const logFd = await open(machineLog, 'a')
      const boot = '{ [ -z "$6" ] || mount --bind "$1/home" "$6"; } && mount --bind "$1" "$2" && exec "$3" -D -f "$4" -E "$5"'
      const userHome = os.userInfo().homedir
      const home = userHome && path.isAbsolute(userHome) && existsSync(userHome) ? userHome : ''
      const unshare = ['unshare', '--pid', '--mount', '--fork', '--mount-proc', '--propagation', 'private', 'sh', '-c', boot, 'sh', dir, machineDir, SSHD, sshdConfigPath, sshdLogPath, home]
      const [command, ...args] = netns ? ['ip', 'netns', 'exec', netns, ...unshare] : unshare
      const child = spawn(command, args, { cwd: dir, detached: true, stdio: ['ignore', logFd.fd, logFd.fd] })
      child.unref()
      await logFd.close()
      initPid = child.pid === undefined ? undefined : await childOf(child.pid, 10_000)
      if (!initPid || !(await waitForListenerIn(initPid, sshPort, 10_000))) {
        throw new Error(`the machine's sshd did not listen on ${host}:${sshPort} within 10s\n${await readOr(machineLog)}\n${await readOr(sshdLogPath)}`)
      }
    } else {
      // Without -D sshd daemonizes: execFile returns once the listener is set up.
      try {
        await launch(SSHD, ['-f', sshdConfigPath, '-E', sshdLogPath], { cwd: dir })
      } catch (err) {
        throw new Error(`sshd failed to start: ${/** @type {Error} */ (err).message}\n${await readOr(sshdLogPath)}`, {
          cause: err,
        })
      }
      if (!(netns ? await waitForListenerOf(sshdPidPath, sshPort, 10_000) : await waitForPort(sshPort, 10_000, host))) {
        throw new Error(`sshd did not listen on ${host}:${sshPort} within 10s\n${await readOr(sshdLogPath)}`)
      }
    }

    // --- nginx ------------------------------------------------------------------------
    const nginxConfPath = path.join(dir, 'nginx.conf')
    const nginxErrorLogPath = path.join(dir, 'error.log')
    const nginxAccessLogPath = path.join(dir, 'access.log')
    const includePath = path.join(dir, 'nginx', 'service-url.inc')
    await mkdir(path.dirname(includePath))
    await writeFile(includePath, `set $service_url http://127.0.0.1:${appA};\n`)
    // Read inside http as a distribution's conf.d/*.conf is: where traffic control's http-level file goes.
    const httpIncludeDir = path.join(dir, 'http.d')
    await mkdir(httpIncludeDir)
    const temp = (/** @type {string} */ name) => path.join(dir, 'nginx-temp', name)
    await mkdir(path.join(dir, 'nginx-temp'))
    await writeFile(
      nginxConfPath,
      [
        // As root, workers would switch to nobody/www-data and could not use temp dirs under a 0700 dir.
        ...(process.getuid?.() === 0 ? ['user root;'] : []),
        'worker_processes 1;',
        'daemon on;',
        `pid ${nginxPidPath};`,
        `error_log ${nginxErrorLogPath};`,
        'events { worker_connections 1024; }',
        'http {',
        // $upstream_addr shows which slot served each request, handy when a test fails.
        `  log_format zdd '$remote_addr [$time_local] "$request" $status $body_bytes_sent upstream=$upstream_addr rt=$request_time';`,
        `  access_log ${nginxAccessLogPath} zdd;`,
        `  include ${path.join(remoteDir, 'http.d')}/*.conf;`,
        `  client_body_temp_path ${temp('client_body')};`,
        `  proxy_temp_path ${temp('proxy')};`,
        `  fastcgi_temp_path ${temp('fastcgi')};`,
        `  uwsgi_temp_path ${temp('uwsgi')};`,
        `  scgi_temp_path ${temp('scgi')};`,
        '  server {',
        `    listen ${host}:${nginxPort};`,
        '    location / {',
        `      include ${path.join(remoteDir, 'nginx', 'service-url.inc')};`,
        '      proxy_pass $service_url;',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
    )
    // As the host runs it: for a machine, with its own paths, so that its master's command line
    // names the -c path that nginx-reload-command names.
    const remoteConfPath = path.join(remoteDir, 'nginx.conf')
    const nginxBase = `${NGINX} -p ${shQuote(remoteDir)} -c ${shQuote(remoteConfPath)}`
    try {
      // `daemon on`: the master forks and this call returns once it is listening.
      if (initPid) {
        // Into the machine's namespaces; nsenter forks, so nginx lands in its PID namespace.
        await execFile('nsenter', ['--target', String(initPid), '--net', '--mount', '--pid', '--', NGINX, '-p', remoteDir, '-c', remoteConfPath], { cwd: dir })
      } else {
        await launch(NGINX, ['-p', dir, '-c', nginxConfPath], { cwd: dir })
      }
    } catch (err) {
      const e = /** @type {Error & { stderr?: string }} */ (err)
      throw new Error(`nginx failed to start: ${e.message}\n${e.stderr ?? ''}\n${await readOr(nginxErrorLogPath)}`, { cause: err })
    }
    const nginxListens = initPid
      ? await waitForListenerIn(initPid, nginxPort, 10_000)
      : netns
        ? await waitForListenerOf(nginxPidPath, nginxPort, 10_000)
        : await waitForPort(nginxPort, 10_000, host)
    if (!nginxListens) {
      throw new Error(`nginx did not listen on ${host}:${nginxPort}\n${await readOr(nginxErrorLogPath)}`)
    }

    return {
      dir,
      host,
      netns,
      /** The machine's init as the runner sees it (with machineDir), for commands run on the host. */
      machinePid: initPid,
      remote: {
        dir: remoteDir,
        deployDir: path.join(remoteDir, 'app'),
        includePath: path.join(remoteDir, 'nginx', 'service-url.inc'),
        httpIncludePath: path.join(remoteDir, 'http.d', 'zdd-sample.conf'),
      },
      sshPort,
      user: os.userInfo().username,
      privateKey: await readFile(privateKeyPath, 'utf8'),
      privateKeyPath,
      encryptedKey: await readFile(encryptedKeyPath, 'utf8'),
      encryptedKeyPath,
      passphrase: PASSPHRASE,
      hostFingerprints,
      knownHosts,
      knownHostsPath,
      nginxPort,
      url: `http://${host}:${nginxPort}`,
      includePath,
      httpIncludePath: path.join(httpIncludeDir, 'zdd-sample.conf'),
      nginxConfPath,
      nginxTestCommand: `${nginxBase} -t`,
      nginxReloadCommand: `${nginxBase} -s reload`,
      appPorts: [appA, appB],
      deployDir,
      sshdLogPath,
      nginxErrorLogPath,
      nginxAccessLogPath,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * One GET on a fresh connection (no pooling, so nothing leaks between tests).
 * @param {string} url
 * @param {{ timeoutMs?: number }} [options]
 * @returns {Promise<{ status: number, body: string }>}
 */
export function get(url, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      /** @type {Buffer[]} */
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        clearTimeout(timer)
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })
      })
      res.on('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
    })
    // A deadline for the whole exchange; the socket `timeout` option only catches idleness.
    const timer = setTimeout(() => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)), timeoutMs)
    req.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}
