// Figures and tables for the bench: medians, spreads, PASS/MISS against a target, aligned text.

/**
 * @param {number[]} xs
 * @returns {number | undefined}
 */
export function median(xs) {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/**
 * @param {number[]} xs
 * @returns {{ n: number, median?: number, min?: number, max?: number }}
 */
export function spread(xs) {
  if (xs.length === 0) return { n: 0 }
  return { n: xs.length, median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }
}

/**
 * @param {number | undefined} x
 * @param {number} [digits]
 */
export function fmt(x, digits = 2) {
  return x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits)
}

/** @param {{ median?: number, min?: number, max?: number }} s @param {number} [digits] */
export function fmtSpread(s, digits = 2) {
  return s.median === undefined ? '-' : `${fmt(s.median, digits)} (${fmt(s.min, digits)}-${fmt(s.max, digits)})`
}

/**
 * @param {number | undefined} value
 * @param {'<=' | '<' | '=='} op
 * @param {number} target
 */
export function verdict(value, op, target) {
  if (value === undefined || Number.isNaN(value)) return 'n/a'
  const ok = op === '<=' ? value <= target : op === '<' ? value < target : value === target
  return ok ? 'PASS' : 'MISS'
}

/**
 * Aligned plain-text table.
 * @param {string[]} headers
 * @param {string[][]} rows
 */
export function renderTable(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (/** @type {string[]} */ cells) =>
    cells
      .map((c, i) => (i === 0 ? (c ?? '').padEnd(widths[i]) : (c ?? '').padStart(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/**
 * The first host's entry of a run's `report` output, or undefined when there is none.
 * @param {Record<string, string>} outputs
 * @returns {any}
 */
export function firstHostReport(outputs) {
  try {
    return JSON.parse(outputs.report ?? '[]')[0]
  } catch {
    return undefined
  }
}

/**
 * The chance of `a` or more of the a + b events falling in the first sample if both samples had the
 * same rate per unit (`ta` and `tb` units): the one-sided p of "the first rate is higher"
 * (conditional binomial test for two Poisson counts).
 * @param {number} a @param {number} ta @param {number} b @param {number} tb
 */
export function higherRateP(a, ta, b, tb) {
  const n = a + b
  const p = ta / (ta + tb)
  if (p >= 1) return 1
  let pmf = (1 - p) ** n
  let tail = 0
  for (let k = 0; k <= n; k++) {
    if (k >= a) tail += pmf
    pmf = (pmf * (n - k) * p) / ((k + 1) * (1 - p))
  }
  return Math.min(1, tail)
}
