#!/usr/bin/env bash
# Makes the passwords of the docker-compose stack, once: one random file per secret in deploy/secrets/
# (or $AIMS_SECRETS_DIR). Existing files are kept, so running it again changes nothing.
# The folder is private (0700); the files are 0644 inside it because the containers read them as their
# own users (ClickHouse, Redis, Grafana, the services' uid 1000).
set -euo pipefail
cd "$(dirname "$0")/../.."

dir="${AIMS_SECRETS_DIR:-deploy/secrets}"
mkdir -p "$dir"
chmod 0700 "$dir"
for name in clickhouse_password grafana_clickhouse_password redis_password grafana_admin_password; do
  file="$dir/$name"
  if [ -s "$file" ]; then
    echo "make-secrets: $file exists, kept"
    continue
  fi
  # 32 characters of [A-Za-z0-9]: safe in every consumer's syntax (Redis config, ClickHouse XML, Grafana).
  value="$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')"
  [ "${#value}" -ge 32 ] || { echo "make-secrets: not enough randomness for $name" >&2; exit 1; }
  printf '%s' "${value:0:32}" > "$file"
  chmod 0644 "$file"
  echo "make-secrets: wrote $file"
done
