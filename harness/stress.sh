#!/usr/bin/env bash
# make stress: run the whole test suite N times (default 20) on an idle
# machine, then N times with a CPU hog on every core, and say how many runs
# passed and gave identical scores and snapshots.
#
# Each run records every grade the suite computed (lab, solution, score,
# failed checks) and every transcript it compared with a snapshot, through
# IOLAB_RECORD (see harness/tests/common/mod.rs); a run is identical when
# its records are byte for byte those of the first run. Exit status 0 only
# when every run of both rounds passed and was identical.
#
# Usage: harness/stress.sh [N]        (STRESS_BACKEND=strace for strace;
#        STRESS_ROUNDS=hogs or =idle for one round only)
set -u

N=${1:-20}
CARGO=${CARGO:-cargo}
BACKEND=${STRESS_BACKEND:-native}
CORES=$(nproc)
OUT=${STRESS_DIR:-target/stress}
rm -rf "$OUT"
mkdir -p "$OUT"

echo "stress: building once"
$CARGO build --all-targets --quiet || exit 2

hogs=()
stop_hogs() {
  for p in "${hogs[@]}"; do kill "$p" 2>/dev/null; done
  wait "${hogs[@]}" 2>/dev/null
  hogs=()
}
trap stop_hogs EXIT

# digest DIR: one hash of every record file under DIR, in name order.
digest() {
  (cd "$1" 2>/dev/null && find . -type f | LC_ALL=C sort | xargs -r cat | sha256sum | cut -c1-16)
}

status=0
round() {
  local name=$1 label=$2
  local passed=0 scores=0 snaps=0 first_scores="" first_snaps=""
  local started=$(date +%s)
  for i in $(seq 1 "$N"); do
    local dir="$OUT/$name/$i"
    mkdir -p "$dir/scores" "$dir/snapshots"
    local record
    record=$(cd "$dir" && pwd)
    local t0=$(date +%s)
    if IOLAB_RECORD="$record" IOLAB_BACKEND=$BACKEND INSTA_UPDATE=no \
      $CARGO test --quiet >"$dir/log.txt" 2>&1; then
      passed=$((passed + 1))
      local ok=pass
    else
      local ok=FAIL
    fi
    local s=$(digest "$dir/scores") p=$(digest "$dir/snapshots")
    [ -z "$first_scores" ] && first_scores=$s && first_snaps=$p
    [ "$s" = "$first_scores" ] && scores=$((scores + 1))
    [ "$p" = "$first_snaps" ] && snaps=$((snaps + 1))
    printf '  %s run %2d/%d: %s in %3ds, scores %s, snapshots %s (%d grades, %d transcripts)\n' \
      "$name" "$i" "$N" "$ok" $(($(date +%s) - t0)) "$s" "$p" \
      "$(ls "$dir/scores" | wc -l)" "$(ls "$dir/snapshots" | wc -l)"
    if [ "$ok" = FAIL ]; then
      grep -E "^test .* FAILED|panicked|^failures:" "$dir/log.txt" | head -20 | sed 's/^/      /'
    fi
  done
  local line
  line=$(printf '%s: %d/%d passed, scores %d/%d identical, snapshots %d/%d identical (%s, %ds)' \
    "$label" "$passed" "$N" "$scores" "$N" "$snaps" "$N" "$BACKEND" $(($(date +%s) - started)))
  echo "$line"
  echo "$line" >>"$OUT/summary.txt"
  if [ "$passed" -ne "$N" ] || [ "$scores" -ne "$N" ] || [ "$snaps" -ne "$N" ]; then
    status=1
  fi
}

ROUNDS=${STRESS_ROUNDS:-idle hogs}
case " $ROUNDS " in *" idle "*)
  echo "stress: round 1 of 2, idle machine, $N runs of cargo test"
  round idle "round 1 (idle)"
esac

case " $ROUNDS " in *" hogs "*)
  echo "stress: round 2 of 2, a CPU hog (yes) on each of $CORES cores, $N runs"
  for _ in $(seq 1 "$CORES"); do
    yes >/dev/null &
    hogs+=($!)
  done
  round hogs "round 2 ($CORES CPU hogs)"
  stop_hogs
esac

echo
cat "$OUT/summary.txt"
# The first runs must also agree across the rounds.
if [ -d "$OUT/idle/1" ] && [ -d "$OUT/hogs/1" ] && {
  [ "$(digest "$OUT/idle/1/scores")" != "$(digest "$OUT/hogs/1/scores")" ] ||
    [ "$(digest "$OUT/idle/1/snapshots")" != "$(digest "$OUT/hogs/1/snapshots")" ]
}; then
  echo "the two rounds' records differ: diff -r $OUT/idle/1 $OUT/hogs/1"
  status=1
fi
exit $status
