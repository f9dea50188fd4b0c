import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Debian's package installs it here; `--chromium` (CLI) chooses another. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium'

/**
 * Prints a pack's HTML to PDF with headless Chromium (`--print-to-pdf`), in a throwaway profile folder so
 * it never touches a user's browser profile. The page is self-contained (no script, no network).
 */
export async function renderPdf(html: string, chromium = DEFAULT_CHROMIUM): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'aims-review-pack-'))
  try {
    const page = join(dir, 'pack.html')
    const pdf = join(dir, 'pack.pdf')
    await writeFile(page, html)
    await run(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        `--user-data-dir=${join(dir, 'profile')}`,
        '--no-pdf-header-footer',
        `--print-to-pdf=${pdf}`,
        `file://${page}`,
      ],
      { timeout: 600_000, maxBuffer: 4 * 1024 * 1024 },
    )
    try {
      return await readFile(pdf)
    } catch {
      throw new Error(`${chromium} exited without writing the PDF (is it a working headless Chromium?)`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
