#!/usr/bin/env bash
# Makes the secrets of the docker-compose stack, once: one random file per secret in deploy/secrets/
# (or $AIMS_SECRETS_DIR). Existing files are kept, so running it again changes nothing.
# The folder is private (0700); the files compose mounts are 0644 inside it because the containers read
# them as their own users (ClickHouse, Redis, Grafana, Prometheus, the services' uid 1000).
#
# HTTP authentication: an admin API token is made too. Its SHA-256 goes into http_tokens (the processor's
# HTTP_TOKENS_FILE, `name roles sha256` lines); the token itself is printed once and kept, for the
# operator only, in http_admin_token (mode 0600, mounted into no container).
set -euo pipefail
cd "$(dirname "$0")/../.."

dir="${AIMS_SECRETS_DIR:-deploy/secrets}"
mkdir -p "$dir"
chmod 0700 "$dir"

# $1 characters of [A-Za-z0-9]: safe in every consumer's syntax (Redis config, ClickHouse XML, Grafana,
# an HTTP Authorization header).
random_string() {
  local value
  value="$(head -c 1024 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')"
  [ "${#value}" -ge "$1" ] || { echo "make-secrets: not enough randomness" >&2; exit 1; }
  printf '%s' "${value:0:$1}"
}

sha256_hex() {
  if command -v sha256sum > /dev/null; then sha256sum | cut -d' ' -f1; else shasum -a 256 | cut -d' ' -f1; fi
}

# Passwords and keys, 32 characters (the services need >= 24 for metrics_token, >= 32 for
# http_session_secret, which signs the review page's session cookies).
for name in clickhouse_password grafana_clickhouse_password redis_password grafana_admin_password \
  metrics_token http_session_secret; do
  file="$dir/$name"
  if [ -s "$file" ]; then
    echo "make-secrets: $file exists, kept"
    continue
  fi
  random_string 32 > "$file"
  chmod 0644 "$file"
  echo "make-secrets: wrote $file"
done

# The admin API token: `aims_` and 32 random bytes in base64url, as `npm run token` makes them.
token_file="$dir/http_admin_token"
tokens_file="$dir/http_tokens"
new_token=""
if [ -s "$tokens_file" ]; then
  echo "make-secrets: $tokens_file exists, kept (add tokens with \`npm run token\`)"
else
  if [ -s "$token_file" ]; then
    token="$(cat "$token_file")"
  else
    token="aims_$(head -c 32 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_')"
    (umask 077 && printf '%s\n' "$token" > "$token_file")
    chmod 0600 "$token_file"
    new_token="$token"
  fi
  {
    echo '# API tokens of the processor (HTTP_TOKENS_FILE): name roles sha256; `npm run token` makes more lines.'
    printf 'admin admin %s\n' "$(printf '%s' "$token" | sha256_hex)"
  } > "$tokens_file"
  chmod 0644 "$tokens_file"
  echo "make-secrets: wrote $tokens_file"
fi

if [ -n "$new_token" ]; then
  echo "make-secrets: admin API token, shown once (also in $token_file, mode 0600, for you only):"
  echo "  $new_token"
  echo "make-secrets: paste it on ${AIMS_PUBLIC_BASE_URL:-http://127.0.0.1:8080}/login, or send it as 'Authorization: Bearer <token>'"
elif [ -s "$token_file" ]; then
  echo "make-secrets: the admin API token is in $token_file"
fi
