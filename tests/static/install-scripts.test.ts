import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/pipeline.js'

/**
 * npm 11 runs a dependency's install scripts only when package.json's `allowScripts` approves it, and
 * warns at every install about the packages it has no entry for. Every installed package with an
 * install script must have an explicit entry, so installs are quiet and the decision is written down.
 */

const LIFECYCLE = ['preinstall', 'install', 'postinstall'] as const

function installedPackages(dir: string): { name: string; scripts: Record<string, string> }[] {
  const out: { name: string; scripts: Record<string, string> }[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    if (entry.name.startsWith('@')) {
      out.push(...installedPackages(path))
      continue
    }
    try {
      const pkg = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'))
      out.push({ name: pkg.name, scripts: pkg.scripts ?? {} })
    } catch {
      // not a package folder
    }
    try {
      out.push(...installedPackages(join(path, 'node_modules')))
    } catch {
      // no nested node_modules
    }
  }
  return out
}

describe('install scripts', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'))
  const allow = (pkg.allowScripts ?? {}) as Record<string, boolean>

  it('every dependency with an install script has an allowScripts entry', () => {
    const withScripts = installedPackages(join(REPO_ROOT, 'node_modules'))
      .filter((p) => LIFECYCLE.some((s) => s in p.scripts))
      .map((p) => p.name)
    expect(withScripts.length, 'the scan finds the known ones (esbuild, chdb, …)').toBeGreaterThan(0)
    const uncovered = [...new Set(withScripts)].filter((name) => !(name in allow))
    expect(uncovered).toEqual([])
  })

  it('entries are explicit booleans (a decision, not a placeholder)', () => {
    for (const [name, value] of Object.entries(allow)) expect(typeof value, name).toBe('boolean')
  })
})
