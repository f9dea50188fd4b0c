import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { REPO_ROOT } from './pipeline.js'

/**
 * The README's own commands, for the tests that run them as written: the shell lines of the first
 * ```sh block under a heading, with trailing `# comments` removed.
 */
export function readmeCommands(heading: string): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
  const at = readme.indexOf(`\n${heading}\n`)
  if (at < 0) throw new Error(`README.md has no heading ${JSON.stringify(heading)}`)
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))
  if (!block) throw new Error(`no sh block under ${heading}`)
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '')
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

/**
 * The commands with the README's fixed ports swapped for free ones, so a test never collides with a
 * pipeline a developer runs on the documented ports. Only whole port numbers after `:`, `=` or
 * `--port ` are replaced.
 */
export function withPorts(command: string, ports: ReadonlyMap<number, number>): string {
  return command.replace(/(:|=|--port )(\d{2,5})\b/g, (match, before: string, port: string) => {
    const swapped = ports.get(Number(port))
    return swapped === undefined ? match : `${before}${swapped}`
  })
}
