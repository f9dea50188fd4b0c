import { colour, type Screen } from '../../shared/terminal.js'

/**
 * Start-up as a person sees it: one line per step. On a terminal the running step is a live line with
 * its elapsed time (so a 40 s first-run download or a 30 s wait for a consumer group never looks like a
 * hang) and turns into `✔ step (1.2 s) detail` when done. Off a terminal a step prints its done line,
 * and a "still running" line every 10 s while it lasts.
 */

export interface Step {
  /** What the step is doing now (shown after its label while it runs). */
  note(detail: string): void
  /** Ends the step with its duration and an optional result. */
  done(result?: string): void
  /** Ends the step as failed. */
  fail(reason?: string): void
}

export interface StepHint {
  /** Shown once the step has run this long. */
  afterMs: number
  text: string
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const TICK_MS = 250
const PLAIN_REPORT_MS = 10_000

export interface Startup {
  step(label: string, hints?: StepHint[]): Step
  /** Seconds since start-up began. */
  elapsedS(): number
}

export function createStartup(out: Screen, now: () => number = () => performance.now()): Startup {
  const began = now()
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  return {
    elapsedS: () => (now() - began) / 1000,
    step(label: string, hints: StepHint[] = []): Step {
      const started = now()
      let detail = ''
      let frame = 0
      let lastPlain = started
      const hint = (elapsed: number) =>
        hints
          .filter((h) => elapsed >= h.afterMs)
          .map((h) => h.text)
          .pop()
      const draw = () => {
        const elapsed = now() - started
        const extra = hint(elapsed)
        const text = `${label}${detail ? `: ${detail}` : ''}${extra ? ` (${extra})` : ''}`
        if (out.tty) {
          frame = (frame + 1) % SPINNER.length
          out.status(
            `${colour.dim(SPINNER[frame]!)} ${text} ${colour.dim(`· ${Math.floor(elapsed / 1000)} s`)}`,
          )
        } else if (now() - lastPlain >= PLAIN_REPORT_MS) {
          lastPlain = now()
          out.line(`… ${text}: still running after ${Math.round(elapsed / 1000)} s`)
        }
      }
      draw()
      const timer = setInterval(draw, out.tty ? TICK_MS : 1_000)
      timer.unref()
      let ended = false
      const end = (mark: string, result: string | undefined) => {
        if (ended) return
        ended = true
        clearInterval(timer)
        out.status(undefined)
        out.line(
          `${mark} ${label} ${colour.dim(`(${seconds(now() - started)})`)}${result ? ` ${result}` : ''}`,
        )
      }
      return {
        note(d: string) {
          detail = d
          if (out.tty) draw()
        },
        done: (result) => end(out.tty ? colour.green('✔') : '✔', result),
        fail: (reason) => end(out.tty ? colour.red('✖') : '✖', reason),
      }
    },
  }
}
