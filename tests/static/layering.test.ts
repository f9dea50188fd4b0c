import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/pipeline.js'

/**
 * The layout is the architecture: `shared/` holds contracts, config and factories that every service
 * uses, so it must never reach into a service (or the tests). Every module specifier of every file under
 * shared/ (static imports, re-exports, dynamic `import()`) is resolved and checked.
 */

const SHARED = join(REPO_ROOT, 'shared')
const FORBIDDEN = ['services', 'tests']

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return /\.(ts|js|mjs|cjs)$/.test(entry.name) ? [path] : []
  })
}

/** `from '…'`, `import '…'`, `import('…')` and `require('…')` specifiers of one file. */
function specifiers(source: string): string[] {
  const found: string[] = []
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) found.push(m[1]!)
  return found
}

/** The top-level folder of the repository a relative specifier lands in (undefined for packages). */
function topFolder(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined
  const target = relative(REPO_ROOT, resolve(dirname(file), specifier))
  return target.split(/[\\/]/)[0]
}

describe('layering', () => {
  it('finds the specifiers it is meant to check', () => {
    // Guards the scanner itself: a regex that matched nothing would make the next test pass vacuously.
    const sample = [
      "import { a } from '../../services/x.js'",
      "export * from './y.js'",
      "const m = await import('../services/z.js')",
      "import './side-effect.js'",
    ].join('\n')
    expect(specifiers(sample).sort()).toEqual(
      ['../../services/x.js', './y.js', '../services/z.js', './side-effect.js'].sort(),
    )
    expect(topFolder(join(SHARED, 'alerts', 'routing.ts'), '../../services/alerter/x.js')).toBe('services')
  })

  it('shared/ never imports from services/ or tests/', () => {
    const files = sourceFiles(SHARED)
    expect(files.length).toBeGreaterThan(20)
    const offending: string[] = []
    for (const file of files) {
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        const top = topFolder(file, spec)
        if (top !== undefined && FORBIDDEN.includes(top))
          offending.push(`${relative(REPO_ROOT, file)} → ${spec}`)
      }
    }
    expect(offending, 'shared/ must not depend on a service; move the code to shared/ instead').toEqual([])
  })
})
