/**
 * What a terminal shows after some writes, for unit tests of terminal output: carriage return moves to
 * the start of the line, ESC[K clears to its end, newline starts the next one; colours are dropped.
 */
export function renderTerminal(writes: readonly string[]): string[] {
  const lines: string[] = []
  let line: string[] = []
  let cursor = 0
  const text = writes.join('')
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '\x1b') {
      const end = text.slice(i).search(/[A-Za-z]/)
      const seq = text.slice(i, i + end + 1)
      if (seq === '\x1b[K') line = line.slice(0, cursor)
      i += end
    } else if (ch === '\r') cursor = 0
    else if (ch === '\n') {
      lines.push(line.join(''))
      line = []
      cursor = 0
    } else {
      line[cursor++] = ch
    }
  }
  if (line.length > 0) lines.push(line.join(''))
  return lines
}
