#!/usr/bin/env bash
# Installs what the test suite needs beyond npm packages, once: Debian packages for the real
# Alertmanager, promtool, kcat, headless Chromium, poppler-utils, Redis, openssl, tmux and statsmodels (the independent
# reference for the fairness intervals), and the Kafka broker jars (Maven Central).
# Quick when everything is already there; called by `npm test`, so a fresh clone needs nothing by hand.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# Debian's interpreter, where Debian's python3-* packages install (a python3 first on PATH may differ);
# python3-statsmodels pulls in python3-numpy and python3-scipy.
/usr/bin/python3 -c 'import statsmodels.stats.proportion, scipy.stats' >/dev/null 2>&1 || need+=(python3-statsmodels)
# Certificates of the TLS/SASL_SSL tests (deploy/tls/dev-certs.ts).
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# A pseudo-terminal for the terminal-transcript test of `npm start`.
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# pdftotext and pdfinfo: the review pack test reads the PDF Chromium printed.
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)

if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-tools: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "install-test-tools: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The Debian packages start their daemons through systemd where it exists; tests start their own.
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

command -v java >/dev/null 2>&1 || { echo "install-test-tools: java (17+) is required for the Kafka broker" >&2; exit 1; }
command -v mvn >/dev/null 2>&1 || { echo "install-test-tools: mvn is required to resolve the Kafka jars" >&2; exit 1; }
npx tsx deploy/kafka/run.ts --resolve-only
