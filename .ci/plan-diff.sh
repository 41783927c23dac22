#!/usr/bin/env bash
# plan-diff.sh BASE HEAD: for every stack, `hyperscaler render` the stack's spec in two built checkouts
# (from the stack's captured host snapshot, hyperscaler:hostSnapshot, when it has one; never the live
# host) and print the differences as Markdown for the pull-request comment. Needs no secrets and no libvirt.
set -euo pipefail
base=$(cd "$1" && pwd); head=$(cd "$2" && pwd)
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
setting() { sed -n "s/^ *hyperscaler:$2: *//p" "$1" | head -n1; }

render() { # side stack -> writes $out/side/stack (or ERROR.txt)
  local root=$1 side=$2 stack=$3 file="$1/stacks/Pulumi.$3.yaml" dir="$out/$2/$3"
  mkdir -p "$dir"
  [ -f "$file" ] || { echo "stack $stack does not exist on $side" > "$dir/ERROR.txt"; return; }
  local spec snapshot args=()
  spec=$(setting "$file" clusterFile); snapshot=$(setting "$file" hostSnapshot)
  [ -n "$snapshot" ] && args+=(--host "$root/$snapshot")
  if ! node "$root/bin/hyperscaler.js" render "$root/$spec" --out "$dir/files" "${args[@]}" > "$dir/render.log" 2>&1; then
    sed "s|$root/||g" "$dir/render.log" > "$dir/ERROR.txt"; rm -rf "$dir/files"
  fi
  rm -f "$dir/render.log"
}

echo "### Plan and render diff (from captured host snapshots; no secrets, no libvirt)"
stacks=$( (ls "$base"/stacks/Pulumi.*.yaml "$head"/stacks/Pulumi.*.yaml 2>/dev/null || true) | sed 's|.*/Pulumi\.\(.*\)\.yaml|\1|' | sort -u)
for stack in $stacks; do
  render "$base" base "$stack"; render "$head" head "$stack"
  changes=$(cd "$out" && diff -ruN "base/$stack" "head/$stack" || true)
  if [ -z "$changes" ]; then
    echo; echo "**$stack**: no change in the plan or any generated file."
  else
    echo; echo "<details><summary><b>$stack</b>: $(printf '%s\n' "$changes" | grep -c '^diff ') file(s) change</summary>"; echo
    echo '```diff'; printf '%s\n' "$changes" | head -c 50000; echo '```'; echo "</details>"
  fi
done
