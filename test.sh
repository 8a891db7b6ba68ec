#!/usr/bin/env bash
# Runs every test of the solution. Exits non-zero when anything fails to build or a test fails.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet build Ferry.slnx -c Release -nologo -clp:ErrorsOnly
# One test assembly at a time: the browser tests load both cores, and the exact-delivery move tests should not share them.
dotnet test Ferry.slnx -c Release --no-build -nologo -m:1 --logger "console;verbosity=minimal" "$@"
