#!/usr/bin/env bash
# Fuzzes request decoding and tensor conversion on stable Rust for a bounded
# time: runs the proptest harness (tests/fuzz_decode.rs) again and again,
# each round with a fresh random seed and many cases per property, until the
# time is up. Prints "N executions, M crashes" and exits non-zero if any
# round failed (a failed property, a panic, or a round that hung).
#
#   scripts/fuzz.sh [SECONDS]        default 60; building is not counted
#
# Environment:
#   FUZZ_CASES=N       cases per property per round (default 1000)
#   FUZZ_RELEASE=1     build and run with --release (more executions/s)
#   FUZZ_SEED=N        run a single round with this seed (reproduce a failure)
#
# executions = cases per property x properties x completed rounds. A round
# that fails is counted as one crash (proptest stops a property at its first
# failure and shrinks it); its seed and proptest's minimal failing input are
# printed, and proptest saves the case under proptest-regressions/ so that a
# plain `cargo test --test fuzz_decode` replays it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

budget="${1:-60}"
cases="${FUZZ_CASES:-1000}"
if ! [[ "$budget" =~ ^[0-9]+$ && "$cases" =~ ^[0-9]+$ && "$cases" -gt 0 ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS]   (FUZZ_CASES must be a positive integer)" >&2
  exit 2
fi
profile=()
[ "${FUZZ_RELEASE:-0}" = 1 ] && profile=(--release)

# Build once; find the test executable from cargo's JSON messages.
echo "==> building tests/fuzz_decode.rs ${profile[*]:-(debug)}"
bin=$(cargo test "${profile[@]}" --no-run --test fuzz_decode --message-format=json 2>/dev/null |
  grep '"name":"fuzz_decode"' | grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
  echo "could not build tests/fuzz_decode.rs; run: cargo test --no-run --test fuzz_decode" >&2
  exit 2
fi

# Only the proptest properties; the strategy-coverage check is a plain test.
skip=(--skip strategies_cover)
properties=$("$bin" --list "${skip[@]}" 2>/dev/null | grep -c ': test$')
echo "==> $properties properties, $cases cases each per round, ${budget}s budget"

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
random_seed() { od -An -N8 -tu8 /dev/urandom | tr -d ' '; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT
executions=0
crashes=0
rounds=0
start=$(now_ms)
deadline=$((start + budget * 1000))
last_ms=0

while :; do
  now=$(now_ms)
  remaining=$((deadline - now))
  round_cases=$cases
  if [ -n "${FUZZ_SEED:-}" ]; then
    [ "$rounds" -gt 0 ] && break
    seed=$FUZZ_SEED
  else
    [ "$remaining" -le 0 ] && break
    # Shrink the last round so that it fits in what is left.
    if [ "$last_ms" -gt 0 ] && [ $((last_ms * 3 / 2)) -gt "$remaining" ]; then
      # (with a margin: a round's time varies with the sizes drawn)
      round_cases=$((cases * remaining * 2 / 3 / last_ms))
      [ "$round_cases" -lt 100 ] && break
    fi
    seed=$(random_seed)
  fi
  # A round far slower than expected is a hang: give it 3x the last round's
  # time (at least 120 s), then kill it.
  limit=$(( (last_ms * round_cases / cases) * 3 / 1000 ))
  [ "$limit" -lt 120 ] && limit=120
  round_start=$(now_ms)
  set +e
  PROPTEST_CASES=$round_cases PROPTEST_RNG_SEED=$seed RUST_BACKTRACE=1 \
    timeout --kill-after=10 "$limit" "$bin" "${skip[@]}" --test-threads "$(nproc)" >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(($(now_ms) - round_start))
  rounds=$((rounds + 1))
  if [ "$rc" -eq 0 ]; then
    executions=$((executions + round_cases * properties))
    [ "$round_cases" -eq "$cases" ] && last_ms=$elapsed
    printf 'round %d: seed %s, %d cases x %d properties, ok (%d.%03d s)\n' \
      "$rounds" "$seed" "$round_cases" "$properties" $((elapsed / 1000)) $((elapsed % 1000))
  else
    # The properties that passed in this round, and the cases the failing
    # one got through before its failure, ran too.
    passed=$(grep -o 'test result: FAILED\. [0-9]* passed' "$log" | grep -o '[0-9]* passed' | cut -d' ' -f1 || true)
    successes=$(grep -o 'successes: [0-9]*' "$log" | awk '{ s += $2 } END { print s + 0 }')
    executions=$((executions + ${passed:-0} * round_cases + ${successes:-0}))
    crashes=$((crashes + 1))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      what="HUNG (killed after ${limit}s)"
    else
      what="FAILED (exit $rc)"
    fi
    printf 'round %d: seed %s, %d cases: %s\n' "$rounds" "$seed" "$round_cases" "$what"
    grep -E '^test .* FAILED|minimal failing input|panicked at|Test failed' "$log" | head -n 20 | sed 's/^/    /' || true
    echo "    reproduce: FUZZ_SEED=$seed FUZZ_CASES=$round_cases scripts/fuzz.sh"
    if [ "$crashes" -eq 1 ]; then
      echo "    log (last 60 lines):"
      tail -n 60 "$log" | sed 's/^/    | /'
    fi
  fi
done

echo "$executions executions, $crashes crashes"
[ "$crashes" -eq 0 ]
