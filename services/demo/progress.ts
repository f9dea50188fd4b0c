/**
 * A small terminal progress bar. On a TTY it redraws one line in place (at most ~12 times a second);
 * anywhere else (CI logs, pipes) it stays silent until `done`, which prints one plain line.
 * A total of 0 means "unknown": the bar then shows a running count and rate instead of a percentage.
 */

export interface ProgressBar {
  /** Sets the progress; `total` may change (e.g. once an open-ended run learns its size). */
  update(done: number, total?: number): void
  /** Draws the final state and ends the line; `note` is appended (e.g. "3.2 s, 1520/s"). */
  done(note?: string): void
}

export interface ProgressStream {
  write(chunk: string): boolean
  isTTY?: boolean
  columns?: number
}

const REDRAW_MS = 80

export function createProgressBar(
  label: string,
  total: number,
  stream: ProgressStream = process.stderr,
): ProgressBar {
  const tty = stream.isTTY === true
  const startedAt = performance.now()
  let current = 0
  let size = Math.max(0, total)
  let lastDraw = 0
  let finished = false

  const elapsedS = () => (performance.now() - startedAt) / 1000

  function line(): string {
    const elapsed = elapsedS()
    // A rate over the first instants is noise; show it once there is something to average.
    const rate = elapsed >= 0.25 ? ` ${Math.round(current / elapsed).toLocaleString('en-US')}/s` : ''
    const stats = `${current.toLocaleString('en-US')}${size > 0 ? `/${size.toLocaleString('en-US')}` : ''}${rate}`
    if (size <= 0) return `${label} ${stats}`
    const ratio = Math.min(1, current / size)
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - label.length - stats.length - 12))
    const filled = Math.round(ratio * width)
    const pct = `${Math.floor(ratio * 100)}`.padStart(3)
    return `${label} [${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${pct}% ${stats}`
  }

  function draw(): void {
    lastDraw = performance.now()
    // \r + clear-to-end-of-line so a shorter line leaves no leftovers.
    stream.write(`\r${line()}\x1b[K`)
  }

  return {
    update(done: number, newTotal?: number): void {
      if (finished) return
      current = done
      if (newTotal !== undefined) size = Math.max(0, newTotal)
      if (tty && performance.now() - lastDraw >= REDRAW_MS) draw()
    },
    done(note?: string): void {
      if (finished) return
      finished = true
      const suffix = note ? ` (${note})` : ` (${elapsedS().toFixed(1)} s)`
      if (tty) stream.write(`\r${line()}${suffix}\x1b[K\n`)
      else
        stream.write(
          `${label}: ${current.toLocaleString('en-US')}${size > 0 ? `/${size.toLocaleString('en-US')}` : ''} done${suffix}\n`,
        )
    },
  }
}
