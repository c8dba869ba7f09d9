// The bench's report: from what scripts/bench.mjs measured, the figures, their verdicts against
// the targets, the printed table and the JSON result. Pure: the same measurements give the same report.
import os from 'node:os'
import { fmt, fmtSpread, higherRateP, median, renderTable, spread, verdict } from './bench-report.mjs'
import { TRAFFIC_TITLE } from './bench-traffic.mjs'

export const TARGETS = {
  failedNewConnections: 0,
  overheadSeconds: 1.0,
  ratioToClassic: 0.25,
  actionStartupMs: 300,
  fatPeakRssMb: 150,
}

export const LINK_TITLE = 'Delta upload over a 20 Mbit/s link'

/**
 * @typedef {object} RunRecord
 * @property {string} label
 * @property {'deploy' | 'crash' | 'rollback'} kind
 * @property {string} jar 'small' | 'fat'
 * @property {string} load 'none' | 'new-connection' | 'keep-alive' | 'none, 50 ms round trip'
 * @property {boolean} asExpected
 * @property {number | null} code
 * @property {boolean} timedOut
 * @property {number} durationMs wall time of the action's process
 * @property {number | undefined} peakRssKb
 * @property {number | undefined} cpuMs user + system CPU time of the action's process
 * @property {string | undefined} outcome
 * @property {Record<string, number>} phases
 * @property {number} uploadedBytes
 * @property {string | undefined} release
 * @property {string | undefined} error
 * @property {string | undefined} served what nginx answered right after the run
 * @property {number | undefined} firstSshByteMs spawn -> first byte on the SSH port
 * @property {number | undefined} acceptMs spawn -> TCP connection accepted on the SSH port
 * @property {number} startOffsetMs relative to the start of its phase
 * @property {number} endOffsetMs
 */

/**
 * @typedef {{ total: number, failed: number } & Record<string, unknown>} TrafficFigures
 * @typedef {object} Measured what scripts/bench.mjs measured
 * @property {RunRecord[]} runs every run of the action
 * @property {string[]} plan the kinds of run in each load phase
 * @property {{ traffic: TrafficFigures }} phaseA new connection per request
 * @property {{ traffic: TrafficFigures, runs: RunRecord[] }} phaseB keep-alive
 * @property {{ reloads: number, traffic: TrafficFigures }} baseline bare reloads under keep-alive
 * @property {{ reloads: number, traffic: TrafficFigures }} [startingJvmBaseline] bare reloads under
 *   keep-alive, each as a hand-started JVM turns healthy (absent from runs made before it existed)
 * @property {Array<{ ok: boolean, totalMs: number, switchLagMs?: number }>} classicRuns
 * @property {TrafficFigures | undefined} classicTraffic
 * @property {number[]} startupLoadMs T under load
 * @property {number[]} startupIdleMs T without load
 * @property {Record<string, number[]>} diagnostics
 * @property {Array<{ at: string, load1: number }>} loadSamples
 * @property {{ table?: string, error?: string, skipped?: string, rows?: Array<{ label: string, pass?: boolean }>, figures?: Record<string, any> }} link
 * @property {{ table?: string, error?: string, skipped?: string, rows?: any[], runs?: any[], seconds?: number }} [trafficControl]
 *   the bad-release section (scripts/lib/bench-traffic.mjs; absent from runs made before it existed)
 * @property {string[]} problems
 * @property {Record<string, any>} config
 * @property {{ distSha256: string, head: string, distModified: boolean }} provenance
 * @property {string} startedAtIso
 * @property {number} smallJarBytes
 * @property {number} fatJarBytes
 * @property {number} wallSeconds
 */

/**
 * @param {Measured} m
 * @returns {{ table: string, result: Record<string, unknown> }}
 */
export function summarize(m) {
  const { runs, plan, phaseA, phaseB, baseline, startingJvmBaseline, classicRuns, classicTraffic, startupLoadMs, startupIdleMs, diagnostics, loadSamples, link, trafficControl, problems, config, provenance, startedAtIso, smallJarBytes, fatJarBytes, wallSeconds } = m
  // --- figures ------------------------------------------------------------------------------
  const underLoad = (/** @type {RunRecord} */ r) => r.load === 'new-connection' || r.load === 'keep-alive'
  const okSmallUnderLoad = runs.filter((r) => r.kind === 'deploy' && r.jar === 'small' && underLoad(r) && r.asExpected)
  const okSmallNoLoad = runs.filter((r) => r.kind === 'deploy' && r.jar === 'small' && r.load === 'none' && r.label !== 'w0' && r.asExpected)
  const okFat = runs.filter((r) => r.kind === 'deploy' && r.jar === 'fat' && r.asExpected)
  const deploySeconds = spread(okSmallUnderLoad.map((r) => r.durationMs / 1000))
  const startupLoad = spread(startupLoadMs.map((ms) => ms / 1000))
  const startupIdle = spread(startupIdleMs.map((ms) => ms / 1000))
  const overhead = deploySeconds.median !== undefined && startupLoad.median !== undefined ? deploySeconds.median - startupLoad.median : undefined
  const deployNoLoad = spread(okSmallNoLoad.map((r) => r.durationMs / 1000))
  const overheadNoLoad = deployNoLoad.median !== undefined && startupIdle.median !== undefined ? deployNoLoad.median - startupIdle.median : undefined
  const okFar = runs.filter((r) => r.kind === 'deploy' && r.load === `none, ${config.roundTripMs} ms round trip` && r.asExpected)
  const deployFar = spread(okFar.map((r) => r.durationMs / 1000))
  const overheadFar = deployFar.median !== undefined && startupIdle.median !== undefined ? deployFar.median - startupIdle.median : undefined
  const classicOk = classicRuns.filter((r) => r.ok)
  const classicSeconds = spread(classicOk.map((r) => r.totalMs / 1000))
  const ratio = deploySeconds.median !== undefined && classicSeconds.median ? deploySeconds.median / classicSeconds.median : undefined
  const firstByteSmall = spread(okSmallNoLoad.map((r) => r.firstSshByteMs).filter((x) => x !== undefined))
  const firstByteLoaded = spread(okSmallUnderLoad.map((r) => r.firstSshByteMs).filter((x) => x !== undefined))
  const firstByteFat = spread(okFat.map((r) => r.firstSshByteMs).filter((x) => x !== undefined))
  const rssMb = (/** @type {RunRecord[]} */ rs) => spread(rs.map((r) => r.peakRssKb).filter((x) => x !== undefined).map((kb) => kb / 1024))
  const rssSmall = rssMb(runs.filter((r) => r.jar === 'small' && r.label !== 'w0'))
  const rssFat = rssMb(okFat)
  const reloadsByAction = phaseB.runs.filter((r) => r.kind !== 'crash' && r.asExpected).length
  const cpuSmall = spread(okSmallUnderLoad.map((r) => r.cpuMs).filter((x) => x !== undefined).map((ms) => ms / 1000))
  const cpuFat = spread(okFat.map((r) => r.cpuMs).filter((x) => x !== undefined).map((ms) => ms / 1000))
  const classicLag = spread(classicOk.map((r) => r.switchLagMs).filter((x) => x !== undefined))
  const sshTrue = spread(diagnostics.sshTrueMs.map((ms) => ms / 1000))
  const loads = loadSamples.map((l) => l.load1)

  /** @type {Record<string, { median?: number, min?: number, max?: number, n: number }>} */
  const phases = {}
  const PHASES = ['connect', 'lock', 'inspect', 'upload', 'stop_idle', 'start', 'switch', 'stop_previous', 'cleanup']
  for (const p of PHASES) phases[p] = spread(okSmallUnderLoad.map((r) => r.phases[p]).filter((x) => x !== undefined))
  const outside = spread(okSmallUnderLoad.map((r) => r.durationMs / 1000 - PHASES.reduce((s, p) => s + (r.phases[p] ?? 0), 0)))
  const startMinusT = startupLoad.median !== undefined && phases.start.median !== undefined ? phases.start.median - startupLoad.median : undefined

  // Both count nginx's own closing of idle keep-alive connections at a reload, a few per reload: a
  // higher count for ours is only a finding if chance explains it poorly.
  const oursPerReload = phaseB.traffic.failed / Math.max(1, reloadsByAction)
  const baselinePerReload = baseline.traffic.failed / Math.max(1, baseline.reloads)
  const resetsP = higherRateP(phaseB.traffic.failed, Math.max(1, reloadsByAction), baseline.traffic.failed, Math.max(1, baseline.reloads))
  const resetsVerdict = oursPerReload <= baselinePerReload ? 'PASS' : resetsP >= 0.05 ? 'PASS (noise)' : 'MISS'
  const jvm = startingJvmBaseline
  const jvmPerReload = jvm ? jvm.traffic.failed / Math.max(1, jvm.reloads) : undefined
  const resetsPJvm = jvm ? higherRateP(phaseB.traffic.failed, Math.max(1, reloadsByAction), jvm.traffic.failed, Math.max(1, jvm.reloads)) : undefined

  // --- the table ----------------------------------------------------------------------------
  const n = plan.length
  const kinds = `${plan.filter((k) => k === 'deploy').length} ok + 1 crash + 1 rollback`
  const mainRows = [
    [`Failed requests, new connection per request, ${n} runs (${kinds})`, `${phaseA.traffic.failed} of ${phaseA.traffic.total}`, '== 0', verdict(phaseA.traffic.failed, '==', TARGETS.failedNewConnections)],
    [`Keep-alive resets, ours: ${n} runs (${reloadsByAction} nginx reloads)`, `${phaseB.traffic.failed} of ${phaseB.traffic.total}`, 'report', ''],
    [`Keep-alive resets, baseline: ${baseline.reloads} bare nginx -s reload, same spacing`, `${baseline.traffic.failed} of ${baseline.traffic.total}`, 'report', ''],
    [`Keep-alive resets per reload, ours vs baseline`, `${fmt(oursPerReload)} vs ${fmt(baselinePerReload)}`, 'not above', resetsVerdict],
    [`  chance of ours being that high or higher at the baseline's rate (one-sided p)`, fmt(resetsP), '', ''],
    ...(jvm
      ? [
          [`Keep-alive resets, ${jvm.reloads} bare reloads, each as a hand-started JVM turns healthy`, `${jvm.traffic.failed} of ${jvm.traffic.total}`, 'report', ''],
          [`  per reload, ours vs those`, `${fmt(oursPerReload)} vs ${fmt(jvmPerReload)}`, '', ''],
          [`  chance of ours being that high or higher at their rate (one-sided p)`, fmt(resetsPJvm), '', ''],
        ]
      : []),
    [`Deploy time, small jar, no load, s (n=${deployNoLoad.n})`, fmtSpread(deployNoLoad), '', ''],
    [`Service start-up T by hand, after each of those, s (n=${startupIdle.n})`, fmtSpread(startupIdle), '', ''],
    ['Overhead above service start-up, no load (median - T), s', fmt(overheadNoLoad), `<= ${TARGETS.overheadSeconds}`, verdict(overheadNoLoad, '<=', TARGETS.overheadSeconds)],
    [`Deploy time, small jar, no load, SSH with a ${config.roundTripMs} ms round trip, s (n=${deployFar.n})`, fmtSpread(deployFar), '', ''],
    [`  overhead above T (no load) there, s`, fmt(overheadFar), '', ''],
    [`Deploy time, small jar, under load, s (n=${deploySeconds.n})`, fmtSpread(deploySeconds), '', ''],
    [`Service start-up T by hand, between those deploys, s (n=${startupLoad.n})`, fmtSpread(startupLoad), '', ''],
    ['Overhead above service start-up, under load (median - T), s', fmt(overhead), `<= ${TARGETS.overheadSeconds}`, verdict(overhead, '<=', TARGETS.overheadSeconds)],
    [`Classic scp+ssh script, s (n=${classicSeconds.n})`, fmtSpread(classicSeconds), '', ''],
    ['Classic: failed requests (new connection per request)', classicTraffic ? `${classicTraffic.failed} of ${classicTraffic.total}` : '-', '', ''],
    ['Classic: old version still served after the script returned, ms', fmtSpread(classicLag, 0), '', ''],
    ['Ours / classic (medians)', fmt(ratio), `<= ${TARGETS.ratioToClassic}`, verdict(ratio, '<=', TARGETS.ratioToClassic)],
    [`Action start-up to first SSH byte, small jar, no load, ms (n=${firstByteSmall.n})`, fmtSpread(firstByteSmall, 0), `< ${TARGETS.actionStartupMs}`, verdict(firstByteSmall.median, '<', TARGETS.actionStartupMs)],
    [`  same, small jar, deploys under load, ms (n=${firstByteLoaded.n})`, fmtSpread(firstByteLoaded, 0), '', ''],
    [`  same, 40 MB jar (hashed before connecting), no load, ms (n=${firstByteFat.n})`, fmtSpread(firstByteFat, 0), '', ''],
    [`Peak RSS of the action, small jar, MB (n=${rssSmall.n})`, fmtSpread(rssSmall, 1), '', ''],
    [`Peak RSS of the action, 40 MB jar upload, MB (n=${rssFat.n})`, fmtSpread(rssFat, 1), `< ${TARGETS.fatPeakRssMb}`, verdict(rssFat.max, '<', TARGETS.fatPeakRssMb)],
  ]
  const phaseRows = [
    ...PHASES.map((p) => [p, fmt(phases[p].median), fmt(phases[p].min), fmt(phases[p].max), phases[p].n ? '' : 'not run']),
    ['outside phases (node start, hash, outputs, exit)', fmt(outside.median), fmt(outside.min), fmt(outside.max), ''],
    ['action process wall time', fmt(deploySeconds.median), fmt(deploySeconds.min), fmt(deploySeconds.max), ''],
    ['start phase - T (health polling, spawn)', fmt(startMinusT), '', '', ''],
  ]
  /** @param {string} name @param {number} bytes @param {RunRecord[]} rs */
  const sizeRow = (name, bytes, rs) => {
    const d = spread(rs.map((r) => r.durationMs / 1000))
    const up = spread(rs.map((r) => r.phases.upload).filter((x) => x !== undefined))
    const rss = rssMb(rs)
    const fb = spread(rs.map((r) => r.firstSshByteMs).filter((x) => x !== undefined))
    return [name, `${(bytes / 1024 / 1024).toFixed(bytes > 1024 * 1024 ? 1 : 3)} MiB`, String(rs.length), fmtSpread(d), fmt(up.median), fmt(rss.max, 1), fmt(fb.median, 0)]
  }
  const sizeRows = [sizeRow('small jar', smallJarBytes, okSmallNoLoad), sizeRow('fat jar', fatJarBytes, okFat)]
  const diagRows = [
    [`ssh <host> true with the system client (handshake + login shell), s (n=${sshTrue.n})`, fmtSpread(sshTrue)],
    [`/proc/net/tcp + tcp6 entries (every socket, TIME_WAIT included)`, fmt(median(diagnostics.procNetTcpEntries), 0)],
    [`  grep all of them for a listener (port_in_use reads only the listeners at their top), ms`, fmtSpread(spread(diagnostics.procNetTcpGrepMs), 0)],
    [`  ss -Htn state listening 'sport = :P' (filtered in the kernel), ms`, fmtSpread(spread(diagnostics.ssFilterMs), 0)],
    [`  sh -c true (what spawning alone costs here), ms`, fmtSpread(spread(diagnostics.shTrueMs), 0)],
    [`scp of the 40 MB jar, system OpenSSH client, no load, s`, fmtSpread(spread(diagnostics.scpFatMs.map((ms) => ms / 1000)))],
    [`Bare Node 24 start-up (node -e 0), no load, ms`, fmtSpread(spread(diagnostics.bareNodeMs), 0)],
    [`Action CPU time (user+sys), small jar deploy under load, s`, fmtSpread(cpuSmall)],
    [`Action CPU time (user+sys), 40 MB jar deploy, s`, fmtSpread(cpuFat)],
    [`1-min load average at phase starts (2 cores), min-max`, `${fmt(Math.min(...loads))}-${fmt(Math.max(...loads))}`],
  ]

  const healthIntervalUsed = config.healthInterval ?? '0.5 (action default)'
  const table = [
    `zero-downtime-deploy bench, ${startedAtIso}, ${os.cpus().length} cores, ${wallSeconds.toFixed(0)} s wall, dist/*.js ${provenance.distSha256.slice(0, 12)} (HEAD ${provenance.head.slice(0, 10)}${provenance.distModified ? ', dist modified' : ''})`,
    `sample start delay ${config.startDelayMs} ms (env input), health-interval ${healthIntervalUsed}, ${config.concurrency} request loops, ${plan.length} runs per load phase`,
    '',
    renderTable(['Metric', 'Value', 'Target', ''], mainRows),
    '',
    `Deploy phases, small jar under load, seconds, n=${deploySeconds.n} successful deploys (report's phases):`,
    renderTable(['Phase', 'median', 'min', 'max', ''], phaseRows),
    '',
    'Jar sizes, no load:',
    renderTable(['Jar', 'size', 'deploys', 'wall s median (min-max)', 'upload s', 'peak RSS MB', 'first SSH byte ms'], sizeRows),
    '',
    'Diagnostics (under the new-connection load unless said otherwise):',
    renderTable(['What', 'Value'], diagRows),
    '',
    link.table ?? `${LINK_TITLE}: ${link.error ? `failed (${link.error.split('\n')[0]})` : `skipped (${link.skipped})`}`,
    ...(trafficControl
      ? ['', trafficControl.table ?? `${TRAFFIC_TITLE}: ${trafficControl.error ? `failed (${trafficControl.error.split('\n')[0]})` : `skipped (${trafficControl.skipped})`}`]
      : []),
    ...(problems.length ? ['', 'Problems:', ...problems.map((p) => `- ${p}`)] : []),
  ].join('\n')

  const result = {
    startedAt: startedAtIso,
    finishedAt: new Date().toISOString(),
    wallSeconds,
    action: provenance,
    machine: { cpus: os.cpus().length, loadavgAtEnd: os.loadavg(), node: process.version, platform: `${os.platform()} ${os.release()}` },
    config: { ...config, healthInterval: healthIntervalUsed },
    targets: TARGETS,
    plan,
    summary: {
      failedNewConnection: phaseA.traffic.failed,
      keepAliveResetsOurs: phaseB.traffic.failed,
      keepAliveReloadsOurs: reloadsByAction,
      keepAliveResetsBaseline: baseline.traffic.failed,
      keepAliveResetsOursHigherP: resetsP,
      keepAliveReloadsBaseline: baseline.reloads,
      keepAliveResetsStartingJvm: jvm?.traffic.failed,
      keepAliveReloadsStartingJvm: jvm?.reloads,
      keepAliveResetsOursHigherPStartingJvm: resetsPJvm,
      serviceStartupUnderLoadS: startupLoad,
      serviceStartupIdleS: startupIdle,
      deployS: deploySeconds,
      overheadS: overhead,
      deployNoLoadS: deployNoLoad,
      overheadNoLoadS: overheadNoLoad,
      deployRoundTripS: deployFar,
      overheadRoundTripS: overheadFar,
      roundTripMs: config.roundTripMs,
      phasesS: phases,
      outsidePhasesS: outside,
      classicS: classicSeconds,
      classicFailedRequests: classicTraffic?.failed,
      ratioToClassic: ratio,
      firstSshByteMsSmall: firstByteSmall,
      firstSshByteMsSmallUnderLoad: firstByteLoaded,
      firstSshByteMsFat: firstByteFat,
      peakRssMbSmall: rssSmall,
      peakRssMbFat: rssFat,
      smallJarBytes,
      fatJarBytes,
      actionCpuSSmall: cpuSmall,
      actionCpuSFat: cpuFat,
      classicSwitchLagMs: classicLag,
      verdicts: Object.fromEntries(mainRows.filter((r) => r[3]).map((r) => [r[0], r[3]])),
      linkUploadTimeRatio: link.figures?.uploadTimeRatio,
      linkDeltaPercent: link.figures?.deltaPercent,
      badRelease: trafficControl?.rows?.map((r) => ({ figure: r.label.trim(), ...r.values, ...(r.target ? { target: r.target, pass: r.pass } : {}) })),
      linkVerdicts: Object.fromEntries((link.rows ?? []).filter((r) => r.pass !== undefined).map((r) => [r.label.trim(), r.pass ? 'PASS' : 'MISS'])),
    },
    link,
    badRelease: trafficControl,
    traffic: { newConnection: phaseA.traffic, keepAlive: phaseB.traffic, keepAliveBaseline: baseline.traffic, keepAliveStartingJvmBaseline: jvm?.traffic, classic: classicTraffic },
    startupMs: { idle: startupIdleMs, underLoad: startupLoadMs },
    diagnostics,
    loadSamples,
    runs,
    classicRuns,
    problems,
    table,
  }
  return { table, result }
}
