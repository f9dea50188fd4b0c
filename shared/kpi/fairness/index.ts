/**
 * Trustworthy group fairness from counts: the parity set with exact threshold comparisons, confidence
 * intervals and explicit "not estimable" outcomes. Pure functions, no I/O. See README.md beside this
 * file. The evaluator (../engine/model.ts) and the reference SQL (../fairness-sql.ts) use it.
 */
export * from './exact.js'
export * from './intersectional.js'
export * from './intervals.js'
export * from './judge.js'
export * from './overall.js'
export * from './parity.js'
export * from './rates.js'
export * from './spec.js'
