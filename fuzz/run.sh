#!/usr/bin/env bash
# Fuzzes one target with afl-fuzz (Debian's afl++) through SharpFuzz for a given time, then prints
# what it did and how many crashes and hangs it saved (docs/fuzzing.md).
#   fuzz/run.sh TARGET SECONDS      e.g. fuzz/run.sh stun 300
#   fuzz/run.sh --list              the targets
# Output: fuzz/out/TARGET/afl (afl's queue, crashes/, hangs/, fuzzer_stats). A second run of the same
# target starts again from fuzz/corpus/TARGET plus what the previous run queued.
# Needs: apt-get install -y afl++. The SharpFuzz.CommandLine tool is installed into fuzz/.tools.
# NO_BUILD=1 skips the build (several targets in a row after one build).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

build() { [ "${NO_BUILD:-}" = 1 ] || dotnet build fuzz/Ferry.Fuzz -c Release -nologo -clp:ErrorsOnly >&2; }
bin=fuzz/Ferry.Fuzz/bin/Release/net10.0
if [ "${1:-}" = "--list" ]; then build; dotnet "$bin/Ferry.Fuzz.dll" --list; exit 0; fi
target=${1:?usage: fuzz/run.sh TARGET SECONDS}
seconds=${2:?usage: fuzz/run.sh TARGET SECONDS}
command -v afl-fuzz >/dev/null || { echo "afl-fuzz missing: apt-get install -y afl++" >&2; exit 1; }
[ -d "fuzz/corpus/$target" ] || { echo "no corpus fuzz/corpus/$target (fuzz/run.sh --list)" >&2; exit 1; }

tools=fuzz/.tools
[ -x "$tools/sharpfuzz" ] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >&2
build

# Instrument a copy: the build output stays as it is for the replay tests.
out=fuzz/out/$target
rm -rf "$out/bin"
mkdir -p "$out"
cp -r "$bin" "$out/bin"
# Each entry: an assembly, and optionally the one class of it to instrument.
case $target in
  relayframe) assemblies="Ferry.dll" ;;
  protoo) assemblies="Ferry.Server.dll Ferry.dll Ferry.Fuzz.dll:Ferry.Fuzz.ProtooTarget" ;;
  *) assemblies="Ferry.Protocols.dll" ;;
esac
for a in $assemblies; do
  # shellcheck disable=SC2086
  "$tools/sharpfuzz" "$out/bin/${a%%:*}" $([ "${a#*:}" != "$a" ] && echo "${a#*:}") >&2
done

# The previous run's queue seeds this one: afl keeps one output folder per run.
input=$out/in
rm -rf "$input"
mkdir -p "$input"
cp "fuzz/corpus/$target"/* "$input"/
if [ -d "$out/afl/default/queue" ]; then
  find "$out/afl/default/queue" -maxdepth 1 -type f -name 'id:*' -exec cp {} "$input"/ \;
  rm -rf "$out/afl.previous"
  mv "$out/afl" "$out/afl.previous"
fi

# afl's own checks that do not apply: dotnet is not an afl-instrumented binary (SharpFuzz reports
# coverage itself), and the cores are shared (no pinning, no cpufreq governor).
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
dictionary=()
[ -f "fuzz/dict/$target.dict" ] && dictionary=(-x "fuzz/dict/$target.dict")
set +e
nice -n 10 afl-fuzz -i "$input" -o "$out/afl" "${dictionary[@]}" -t 5000 -m none -V "$seconds" -- dotnet "$out/bin/Ferry.Fuzz.dll" "$target" >"$out/afl.log" 2>&1
status=$?
set -e
stats=$out/afl/default/fuzzer_stats
if [ ! -f "$stats" ]; then
  echo "afl-fuzz did not start (exit $status); see $out/afl.log" >&2
  tail -20 "$out/afl.log" >&2
  exit 1
fi
stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
crashes=$(find "$out/afl/default/crashes" -type f -name 'id:*' | wc -l)
hangs=$(find "$out/afl/default/hangs" -type f -name 'id:*' | wc -l)
echo "$target: $(stat run_time) s, $(stat execs_done) executions ($(stat execs_per_sec)/s), $(stat corpus_count) paths, $crashes crashes, $hangs hangs"
for f in "$out/afl/default/crashes"/id:* "$out/afl/default/hangs"/id:*; do
  [ -f "$f" ] && echo "  $f"
done
echo "crashes: $crashes"
