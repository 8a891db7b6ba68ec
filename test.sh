#!/usr/bin/env bash
# Runs every test of the solution. Exits non-zero when anything fails to build or a test fails.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# What the tests run besides .NET: say at once what is missing and the one command that installs it
# (.ci/run installs it itself), rather than failing browser and cluster tests minutes later.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "test.sh: missing ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
dotnet build Ferry.slnx -c Release -nologo -clp:ErrorsOnly
# One test assembly at a time: the browser tests load both cores, and the exact-delivery move tests should not share them.
dotnet test Ferry.slnx -c Release --no-build -nologo -m:1 --logger "console;verbosity=minimal" "$@"
