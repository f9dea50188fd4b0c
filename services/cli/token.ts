import { parseArgs } from 'node:util'
import { parseRoles, ROLES } from '../../shared/http/auth/roles.js'
import { checkTokenName, generateToken, hashToken, tokenLine } from '../../shared/http/auth/tokens.js'

const USAGE = `Usage: npm run token -- --name NAME --role ROLE[,ROLE...]

Makes a random API token and prints it once, with the line to add to the tokens file (HTTP_TOKENS_FILE).
The file holds only the token's SHA-256: keep the token itself where its user keeps secrets; a lost
token cannot be recovered, only replaced. Restart the processes that read the file to apply a change.

  --name   Who or what uses the token (letters, digits, . _ @ -), e.g. grafana-ops, alice@example.com.
  --role   One or more of: ${ROLES.join(', ')}.
  --help   Show this text.

Exit status: 0 done; 2 usage error.`

function main(argv: string[]): number {
  let values: { name?: string; role?: string; help?: boolean }
  try {
    values = parseArgs({
      args: argv,
      options: { name: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }).values
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`)
    return 2
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const problems: string[] = []
  if (!values.name) problems.push('--name: required')
  else {
    const bad = checkTokenName(values.name)
    if (bad) problems.push(`--name: ${bad}`)
  }
  let roles: ReturnType<typeof parseRoles> = []
  if (!values.role) problems.push('--role: required')
  else {
    try {
      roles = parseRoles(values.role)
    } catch (err) {
      problems.push(`--role: ${(err as Error).message}`)
    }
  }
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n\n${USAGE}\n`)
    return 2
  }
  const token = generateToken()
  const line = tokenLine({ name: values.name!, roles, sha256: hashToken(token) })
  process.stdout.write(
    [
      `token (shown once; send it as "Authorization: Bearer <token>", or paste it on the review page's sign-in):`,
      `  ${token}`,
      `line for the tokens file (HTTP_TOKENS_FILE):`,
      `  ${line}`,
      '',
    ].join('\n'),
  )
  return 0
}

process.exitCode = main(process.argv.slice(2))
