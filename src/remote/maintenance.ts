/** Reading the maintenance page the user keeps on the host (maintenance-page). */
import { shellScript } from './quote.js'
import { MAINTENANCE_PAGE_SH } from './sh/generated.js'

export const MAINTENANCE_PAGE_EXIT = 70

/** The page in a section `@@page`; a file larger than `limit` bytes, or none, is an error= answer. */
export function maintenancePageScript(p: { page: string; limit: number }): string {
  return shellScript({ PAGE: p.page, LIMIT: p.limit, EXIT_NO_PAGE: MAINTENANCE_PAGE_EXIT }, MAINTENANCE_PAGE_SH)
}

/** The page's text from the script's answer (each line was sent after a "|"). */
export function pageText(section: string | undefined): string {
  return (section ?? '')
    .split('\n')
    .map((line) => (line.startsWith('|') ? line.slice(1) : line))
    .join('\n')
}
