/** One line of `<deploy-dir>/history`. */
export interface HistoryEntry {
  /** UTC, ISO 8601, when the run on this host ended. */
  time: string
  owner: { repository: string; run: string; actor: string; runner: string }
  command: string
  /**
   * The release this run deployed or tried to: a deploy's new release (null when the run failed
   * before the release got its name), the release a rollback went back to.
   */
  release: string | null
  /** The sha256 of `release`'s jar: a deploy's artifact (also when the release got no name); null when unknown. */
  sha256: string | null
  /** The release that serves once the run is over: after a failed deploy, still the old one. Absent in older entries, whose `release` meant this. */
  serving?: string | null
  ports: { before: number | null; after: number | null }
  outcome: string
  seconds: number
  /** The step that failed, when the run failed. */
  step?: string
}
