#!/usr/bin/env bash
# Submits jobs through the Api of a running Flotilla (dotnet run --project AppHost), waits
# for them, and prints how many each node ran.   Usage: AppHost/scripts/demo.sh [jobs] [api-url]
set -euo pipefail
count="${1:-200}"
api="${2:-http://localhost:5080}"

echo "Submitting ${count} echo jobs to ${api} ..."
body=$(python3 -c "import json,sys; print(json.dumps([{'workflow':'echo','payload':{'n':i}} for i in range(int(sys.argv[1]))]))" "$count")
ids=$(curl -sf -X POST "${api}/jobs/batch" -H 'content-type: application/json' -d "$body" \
  | python3 -c "import json,sys; print(' '.join(j['job_id'] for j in json.load(sys.stdin)))")

declare -A ran=()
pending="$ids"
for _ in $(seq 1 120); do
  still=""
  for id in $pending; do
    job=$(curl -sf "${api}/jobs/${id}")
    status=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['status'])" "$job")
    if [ "$status" = "completed" ] || [ "$status" = "failed" ]; then
      node=$(python3 -c "import json,sys; j=json.loads(sys.argv[1]); print(j['completed_by'] or j['claimed_by'] or '?')" "$job")
      ran[$node]=$(( ${ran[$node]:-0} + 1 ))
    else
      still="$still $id"
    fi
  done
  pending="$still"
  [ -z "${pending// /}" ] && break
  sleep 0.5
done

echo "Jobs run per node:"
for node in "${!ran[@]}"; do printf '  %-8s %s\n' "$node" "${ran[$node]}"; done | sort
left=$(wc -w <<< "$pending")
[ "$left" -eq 0 ] || echo "  (${left} not finished yet)"
