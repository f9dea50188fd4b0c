import type { KpiDefinition } from './catalog.js'
import { criticalValue } from './fairness/intervals.js'
import { RATE_DEFINITIONS, type RateName } from './fairness/rates.js'
import { METRIC_RATES, type Reference } from './fairness/spec.js'
import { type ResolverConfig, resolveFairnessSettings } from './thresholds.js'

/**
 * The fairness KPIs as SQL over the groups of each attribute's latest evaluation: the reference definition
 * the live engine (shared/kpi/fairness via engine/model.ts) is checked against, written from the same
 * definitions (shared/kpi/fairness/README.md). It shares with the module only data: which rates a metric
 * compares, which need labels, which direction is better, and the critical value z of the level.
 *
 * Input: a relation with the scope columns (model_id, environment, model_version, attribute), `gs` the
 * groups sorted by name, each (name, tp, fp, tn, fn, selected, total), and `cells` (the intersection's
 * attributes, [] for a plain attribute). Output per KPI and series: value (the same IEEE-754 operations as
 * the module: one division per rate, then the difference or quotient), the exact value as "num/den" (Int128
 * / Int256 integer arithmetic; every comparison of rates is exact), n, the interval (Wilson, Newcombe,
 * Katz, MOVER with the same formulas; log/exp may differ from V8's in the last bits), the reason code
 * ('' when estimable; `excluded_groups` when estimable with groups left out), and for the reference forms
 * every group's comparison (exact, interval) as the breach judge reads them.
 *
 * Exactness bound: Int256 holds the cross-products for counts up to ~4e12 per group (the contract's cap)
 * except when ordering average odds differences between groups, exact up to ~3e9 per rate denominator.
 */

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

/** Per rate: numerator and denominator of a group tuple `c` (see the module's rates.ts). */
const RATE_SQL: Record<RateName, { x: string; n: string }> = {
  selection_rate: { x: 'if(c.7 > 0, c.6, c.2 + c.3)', n: 'if(c.7 > 0, c.7, c.2 + c.3 + c.4 + c.5)' },
  tpr: { x: 'c.2', n: 'c.2 + c.5' },
  fpr: { x: 'c.3', n: 'c.3 + c.4' },
  fnr: { x: 'c.5', n: 'c.2 + c.5' },
  ppv: { x: 'c.2', n: 'c.2 + c.3' },
  fdr: { x: 'c.3', n: 'c.2 + c.3' },
  for: { x: 'c.5', n: 'c.4 + c.5' },
  npv: { x: 'c.4', n: 'c.4 + c.5' },
  accuracy: { x: 'c.2 + c.4', n: 'c.2 + c.3 + c.4 + c.5' },
}
const LABELLED = 'c.2 + c.3 + c.4 + c.5 > 0'

/** A double literal that reads back as the same double. */
const lit = (x: number) => {
  const s = String(x)
  return /[.e]/.test(s) ? s : `${s}.0`
}

/** Wilson interval of x of n (doubles); `low`/`high` as the module computes them. */
function wilson(x: string, n: string, z: string): { low: string; high: string } {
  const p = `(${x} / ${n})`
  const z2 = `(${z} * ${z})`
  const denom = `(1 + ${z2} / ${n})`
  const center = `((${p} + ${z2} / (2 * ${n})) / ${denom})`
  const dist = `((${z} * sqrt((${p} * (1 - ${p})) / ${n} + ${z2} / ((4 * ${n}) * ${n}))) / ${denom})`
  return {
    low: `if(${x} = 0, 0., greatest(0., ${center} - ${dist}))`,
    high: `if(${x} = ${n}, 1., least(1., ${center} + ${dist}))`,
  }
}

const sq = (e: string) => `pow(${e}, 2)`

/** Newcombe's hybrid score interval of x1/n1 − x2/n2. */
function newcombe(x1: string, n1: string, x2: string, n2: string, z: string): { low: string; high: string } {
  const p1 = `(${x1} / ${n1})`
  const p2 = `(${x2} / ${n2})`
  const w1 = wilson(x1, n1, z)
  const w2 = wilson(x2, n2, z)
  const d = `(${p1} - ${p2})`
  return {
    low: `(${d} - sqrt(${sq(`${p1} - ${w1.low}`)} + ${sq(`${w2.high} - ${p2}`)}))`,
    high: `(${d} + sqrt(${sq(`${p2} - ${w2.low}`)} + ${sq(`${w1.high} - ${p1}`)}))`,
  }
}

/** Katz log interval of (x1/n1) / (x2/n2), x2 > 0; at x1 = 0 the lower bound 0, the upper log-adjusted. */
function katz(x1: string, n1: string, x2: string, n2: string, z: string): { low: string; high: string } {
  const log = (a: string, m: string, b: string, k: string) => {
    const ratio = `(${a} / ${m} / (${b} / ${k}))`
    const d = `(${z} * sqrt(1 / ${a} - 1 / ${m} + 1 / ${b} - 1 / ${k}))`
    return { low: `exp(log(${ratio}) - ${d})`, high: `exp(log(${ratio}) + ${d})` }
  }
  const plain = log(x1, n1, x2, n2)
  const adjusted = log('0.5', `(${n1} + 0.5)`, `(${x2} + 0.5)`, `(${n2} + 0.5)`)
  return { low: `if(${x1} = 0, 0., ${plain.low})`, high: `if(${x1} = 0, ${adjusted.high}, ${plain.high})` }
}

/** A comparison as a named tuple (value, num, den, n, lo, hi): num/den the exact value (Int256). */
const COMPARISON_TYPE = 'Tuple(value Float64, num Int256, den Int256, n UInt64, lo Float64, hi Float64)'

/** Group g against group r on one rate, by difference (g − r) or ratio (g / r). */
function compareSql(form: 'difference' | 'ratio', R: string, g: string, r: string, z: string): string {
  const x = (i: string) => `toFloat64(X${R}[${i}])`
  const n = (i: string) => `toFloat64(N${R}[${i}])`
  const xi = (i: string) => `toInt256(X${R}[${i}])`
  const ni = (i: string) => `toInt256(N${R}[${i}])`
  const size = `toUInt64(N${R}[${g}] + N${R}[${r}])`
  if (form === 'difference') {
    const ci = newcombe(x(g), n(g), x(r), n(r), z)
    return `CAST(tuple(${x(g)} / ${n(g)} - ${x(r)} / ${n(r)}, ${xi(g)} * ${ni(r)} - ${xi(r)} * ${ni(g)}, ${ni(g)} * ${ni(r)}, ${size}, ${ci.low}, ${ci.high}), '${COMPARISON_TYPE}')`
  }
  const ci = katz(x(g), n(g), x(r), n(r), z)
  return `CAST(tuple((${x(g)} / ${n(g)}) / (${x(r)} / ${n(r)}), ${xi(g)} * ${ni(r)}, ${ni(g)} * ${xi(r)}, ${size}, ${ci.low}, ${ci.high}), '${COMPARISON_TYPE}')`
}

/** The first comparison of `arr` furthest from parity (|difference|, or ratio on the log scale; 0 worst). */
function worstOf(form: 'difference' | 'ratio', arr: string): string {
  const worse =
    form === 'difference'
      ? // |a.num| / a.den > |b.num| / b.den
        (a: string, b: string) => `abs(${a}.num) * ${b}.den > abs(${b}.num) * ${a}.den`
      : // fold r = num/den to p/q >= 1; a ratio of 0 is the worst
        (a: string, b: string) => {
          const p = (c: string) => `if(${c}.num >= ${c}.den, ${c}.num, ${c}.den)`
          const q = (c: string) => `if(${c}.num >= ${c}.den, ${c}.den, ${c}.num)`
          return `if(${a}.num = 0 OR ${b}.num = 0, ${a}.num = 0 AND ${b}.num != 0, ${p(a)} * ${q(b)} > ${p(b)} * ${q(a)})`
        }
  return `arrayFirst(a -> NOT arrayExists(b -> ${worse('b', 'a')}, ${arr}), ${arr})`
}

/** Per-rate arrays by stage: X, N (Int128); usable U; participants P. Suffix R names the rate. */
function rateArrays(rate: RateName, R: string, minSamples: string): [string[], string[], string[]] {
  const { x, n } = RATE_SQL[rate]
  return [
    [`arrayMap(c -> toInt128(${x}), gs) AS X${R}`, `arrayMap(c -> toInt128(${n}), gs) AS N${R}`],
    [`arrayMap(i -> N${R}[i] > 0 AND N${R}[i] >= ${minSamples}, I) AS U${R}`],
    [`arrayFilter(i -> U${R}[i], I) AS P${R}`],
  ]
}

/** The first group of P with the largest exact rate (ties: the first listed). */
const highest = (R: string) =>
  `arrayFirst(i -> arrayAll(j -> X${R}[j] * N${R}[i] <= X${R}[i] * N${R}[j], P${R}), P${R})`
/** The first group of P but `hi` with the smallest exact rate. */
const lowest = (R: string, hi: string) =>
  `arrayFirst(i -> i != ${hi} AND arrayAll(j -> j = ${hi} OR X${R}[j] * N${R}[i] >= X${R}[i] * N${R}[j], P${R}), P${R})`

/** multiIf over an override list: the last matching override that sets the field wins. */
function scoped<T>(
  kpi: KpiDefinition,
  config: ResolverConfig,
  pick: (o: Record<string, unknown>) => T | undefined,
  base: T,
  toSql: (v: T) => string,
): string {
  const overrides = config?.kpis?.[kpi.id]?.overrides ?? []
  const branches: string[] = []
  for (const o of [...overrides].reverse()) {
    const v = pick(o as Record<string, unknown>)
    if (v === undefined) continue
    const cond = Object.entries(o.match)
      .map(([label, want]) =>
        Array.isArray(want) ? `${label} IN (${want.map(quote).join(', ')})` : `${label} = ${quote(want)}`,
      )
      .join(' AND ')
    branches.push(`${cond}, ${toSql(v)}`)
  }
  return branches.length === 0 ? toSql(base) : `multiIf(${branches.join(', ')}, ${toSql(base)})`
}

const referenceCode = (r: Reference) => quote(typeof r === 'object' ? `group:${r.group}` : r)

/** Output columns of every fairness row (and, with other values, of every model row). */
export const FAIRNESS_ROW_TYPE =
  'Tuple(value Nullable(Float64), exact Nullable(String), n Nullable(UInt64), ci_low Nullable(Float64), ci_high Nullable(Float64), reason String, comparisons Array(Tuple(String, Float64, Float64)))'

/** The SELECT of one fairness KPI over `source` (see the module comment): columns scope…, res (FAIRNESS_ROW_TYPE). */
export function fairnessKpiSql(kpi: KpiDefinition, source: string, config: ResolverConfig): string {
  const spec = kpi.fairness!
  const base = resolveFairnessSettings(kpi, {}, config)
  const z = lit(criticalValue(base.level))
  const minS = scoped(kpi, config, (o) => o.minSamples as number | undefined, base.minSamples, String)
  const belowMin = scoped(
    kpi,
    config,
    (o) => o.belowMinimum as string | undefined,
    base.belowMinimum as string,
    quote,
  )
  const ref = scoped(kpi, config, (o) => o.reference as Reference | undefined, base.reference, referenceCode)
  const rates = METRIC_RATES[spec.metric]
  const needsLabels = rates.some((r) => RATE_DEFINITIONS[r].needsLabels)
  const odds = rates.length === 2
  const form = spec.form
  // Stages: each a SELECT over the one before, so an alias is a column, not text pasted into its users
  // (ClickHouse expands aliases, and the nesting here would grow the query tree past its limit).
  const stages: string[][] = Array.from({ length: 10 }, () => [])
  stages[0]!.push(
    'arrayEnumerate(gs) AS I',
    // Group size, for the majority reference: predictions when the selection rate reads them.
    spec.metric === 'demographic_parity'
      ? 'arrayMap(c -> toInt128(if(c.7 > 0, c.7, c.2 + c.3 + c.4 + c.5)), gs) AS S'
      : 'arrayMap(c -> toInt128(c.2 + c.3 + c.4 + c.5), gs) AS S',
    `${ref} AS mode`,
  )
  const suffixes = odds ? ['T', 'F'] : ['']
  rates.forEach((r, i) => {
    rateArrays(r, suffixes[i]!, `(${minS})`).forEach((defs, k) => {
      stages[k]!.push(...defs)
    })
  })
  const anyExcluded = suffixes.map((R) => `arrayExists(i -> NOT U${R}[i], I)`).join(' OR ')
  const head = [
    `notEmpty(cells) AND length(gs) > ${base.maxCells}`,
    "'too_many_cells'",
    ...(needsLabels ? [`NOT arrayAll(c -> ${LABELLED}, gs)`, "'labels_missing'"] : []),
    `(${belowMin}) = 'not_estimable' AND (${anyExcluded})`,
    "'below_minimum'",
  ]
  const names = 'arrayMap(c -> c.1, gs)'

  // Reference forms: the reference group by mode, then every other participant against it.
  const refIndex = (better: (j: string, i: string) => string, P: string) =>
    `multiIf(mode = 'majority', arrayFirst(i -> arrayAll(j -> S[j] <= S[i], I), I), mode = 'best', arrayFirst(i -> NOT arrayExists(j -> ${better('j', 'i')}, ${P}), ${P}), indexOf(${names}, substring(mode, 7)))`
  const refReasons = (P: string, usableRef: string) => [
    `mode = 'best' AND empty(${P})`,
    "'too_few_groups'",
    `mode LIKE 'group:%' AND ref = 0`,
    "'reference_missing'",
    `NOT (${usableRef})`,
    "'reference_not_estimable'",
    'empty(O)',
    "'too_few_groups'",
  ]

  let spread: { reasons: string[]; headline: string } | null = null
  let against: { reasons: string[]; headline: string; comparisons: string } | null = null
  const at = (k: number, ...defs: string[]) => stages[k]!.push(...defs)

  if (!odds) {
    const rate = rates[0]!
    const sign = RATE_DEFINITIONS[rate].higherIsBetter ? '' : '-'
    const better = (j: string, i: string) =>
      `${sign}(X[${j}] * N[${i}] - X[${i}] * N[${j}]) > 0 OR (X[${j}] * N[${i}] = X[${i}] * N[${j}] AND N[${j}] > N[${i}])`
    // spread: the extreme pair (max − min, or min / max)
    const pair =
      form === 'difference'
        ? compareSql('difference', '', 'hi', 'lo', z)
        : compareSql('ratio', '', 'lo', 'hi', z)
    at(3, `${highest('')} AS hi`)
    at(4, `${lowest('', 'hi')} AS lo`)
    at(5, `${pair} AS pair`)
    spread = {
      reasons: [
        'length(P) < 2',
        "'too_few_groups'",
        ...(form === 'ratio' ? ['X[hi] = 0', "'zero_reference_rate'"] : []),
      ],
      headline: 'pair',
    }
    const comps = `arrayMap(i -> ${compareSql(form, '', 'i', 'ref', z)}, O)`
    at(3, `${refIndex(better, 'P')} AS ref`)
    at(4, 'arrayFilter(i -> i != ref, P) AS O')
    at(5, `${comps} AS CMP`)
    against = {
      reasons: [
        ...refReasons('P', 'U[ref]'),
        ...(form === 'ratio' ? ['X[ref] = 0', "'zero_reference_rate'"] : []),
      ],
      headline: worstOf(form, 'CMP'),
      comparisons: 'CMP',
    }
  } else {
    // TPR and FPR together: participants have both.
    const youden = (i: string) => `(toInt256(XT[${i}]) * NF[${i}] - toInt256(XF[${i}]) * NT[${i}])`
    const youdenDen = (i: string) => `(toInt256(NT[${i}]) * NF[${i}])`
    const better = (j: string, i: string) =>
      `${youden(j)} * ${youdenDen(i)} > ${youden(i)} * ${youdenDen(j)} OR (${youden(j)} * ${youdenDen(i)} = ${youden(i)} * ${youdenDen(j)} AND S[${j}] > S[${i}])`
    const refStages = () => {
      at(2, 'arrayFilter(i -> UT[i] AND UF[i], I) AS P2')
      at(3, `${refIndex(better, 'P2')} AS ref`)
      at(4, 'arrayFilter(i -> i != ref, P2) AS O')
      at(
        5,
        `arrayMap(i -> ${compareSql('difference', 'T', 'i', 'ref', z)}, O) AS CT`,
        `arrayMap(i -> ${compareSql('difference', 'F', 'i', 'ref', z)}, O) AS CF`,
      )
    }
    const reasons = refReasons('P2', 'UT[ref] AND UF[ref]')
    if (spec.metric === 'average_odds') {
      // AIF360: ½[(FPR_g − FPR_ref) + (TPR_g − TPR_ref)]; MOVER over the two differences, halved.
      const avg = (t: string, f: string) => {
        const num = `(${t}.num * ${f}.den + ${f}.num * ${t}.den)`
        const den = `(2 * ${t}.den * ${f}.den)`
        const g = `gcd(${num}, ${den})`
        const sum = `(${t}.value + ${f}.value)`
        const low = `((${sum} - sqrt(${sq(`${t}.value - ${t}.lo`)} + ${sq(`${f}.value - ${f}.lo`)})) / 2)`
        const high = `((${sum} + sqrt(${sq(`${t}.hi - ${t}.value`)} + ${sq(`${f}.hi - ${f}.value`)})) / 2)`
        return `CAST(tuple(${sum} / 2, intDiv(${num}, ${g}), intDiv(${den}, ${g}), ${t}.n + ${f}.n, ${low}, ${high}), '${COMPARISON_TYPE}')`
      }
      refStages()
      at(6, `arrayMap((t, f) -> ${avg('t', 'f')}, CT, CF) AS CMP`)
      against = {
        reasons,
        headline: worstOf('difference', 'CMP'),
        comparisons: 'CMP',
      }
    } else {
      // Equalized odds.
      if (form === 'difference') {
        const flat = 'arrayFlatten(arrayMap((t, f) -> [t, f], CT, CF)) AS CMP'
        const lowAbs =
          'greatest(0., arrayMax(arrayMap(k -> if(k.lo > 0, k.lo, if(k.hi < 0, -k.hi, 0.)), CMP)))'
        const highAbs = 'greatest(0., arrayMax(arrayMap(k -> greatest(abs(k.lo), abs(k.hi)), CMP)))'
        refStages()
        at(6, flat)
        at(7, `${worstOf('difference', 'CMP')} AS leadA`)
        against = {
          reasons,
          headline: `CAST(tuple(abs(leadA.value), abs(leadA.num), leadA.den, leadA.n, ${lowAbs}, ${highAbs}), '${COMPARISON_TYPE}')`,
          comparisons: '[]',
        }
      }
      // Spread: the TPR and FPR spreads, combined (max for the difference, min for the ratio).
      const pairs = (R: string) =>
        form === 'difference'
          ? compareSql('difference', R, `hi${R}`, `lo${R}`, z)
          : compareSql('ratio', R, `lo${R}`, `hi${R}`, z)
      const pick = form === 'difference' ? 'greatest' : 'least'
      const tFirst =
        form === 'difference' ? 'pT.num * pF.den >= pF.num * pT.den' : 'pT.num * pF.den <= pF.num * pT.den'
      at(3, `${highest('T')} AS hiT`, `${highest('F')} AS hiF`)
      at(4, `${lowest('T', 'hiT')} AS loT`, `${lowest('F', 'hiF')} AS loF`)
      at(5, `${pairs('T')} AS pT`, `${pairs('F')} AS pF`)
      at(6, `if(${tFirst}, pT, pF) AS leadS`)
      spread = {
        reasons: [
          'length(PT) < 2',
          "'too_few_groups'",
          ...(form === 'ratio' ? ['XT[hiT] = 0', "'zero_reference_rate'"] : []),
          'length(PF) < 2',
          "'too_few_groups'",
          ...(form === 'ratio' ? ['XF[hiF] = 0', "'zero_reference_rate'"] : []),
        ],
        headline: `CAST(tuple(${pick}(pT.value, pF.value), leadS.num, leadS.den, leadS.n, ${pick}(pT.lo, pF.lo), ${pick}(pT.hi, pF.hi)), '${COMPARISON_TYPE}')`,
      }
    }
  }

  const exclusions = [`(${anyExcluded})`, "'excluded_groups'"]
  const reasonOf = (own: string[]) => `multiIf(${[...head, ...own, ...exclusions].join(', ')}, '')`
  // Assemble: the headlines and reasons, then the row of the spread or the reference form by mode.
  if (spread) at(8, `${spread.headline} AS hs`, `${reasonOf(spread.reasons)} AS reason_s`)
  if (against) at(8, `${against.headline} AS ha`, `${reasonOf(against.reasons)} AS reason_a`)
  const row = (h: string, reason: string, comparisons: string) =>
    `if(${reason} IN ('', 'excluded_groups'), CAST(tuple(${h}.value, concat(toString(${h}.num), '/', toString(${h}.den)), ${h}.n, ${h}.lo, ${h}.hi, ${reason}, ${comparisons}), '${FAIRNESS_ROW_TYPE}'), CAST(tuple(NULL, NULL, NULL, NULL, NULL, ${reason}, []), '${FAIRNESS_ROW_TYPE}'))`
  const spreadRow = spread ? row('hs', 'reason_s', '[]') : null
  const againstRow = against
    ? row(
        'ha',
        'reason_a',
        against.comparisons === '[]'
          ? '[]'
          : `arrayMap(k -> (concat(toString(k.num), '/', toString(k.den)), k.lo, k.hi), ${against.comparisons})`,
      )
    : null
  at(
    9,
    `${spreadRow && againstRow ? `if(mode = 'spread', ${spreadRow}, ${againstRow})` : (spreadRow ?? againstRow)!} AS res`,
  )
  let sql = `SELECT * FROM ${source}`
  for (const defs of stages) if (defs.length > 0) sql = `SELECT *, ${defs.join(',\n    ')}\n  FROM (${sql})`
  return `SELECT model_id, environment, model_version, attribute, res FROM (${sql})`
}
