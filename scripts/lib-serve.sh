# Sourced by the benchmark scripts (overload.sh, bench-shadow.sh): build the
# release binary, then serve a repository on ephemeral loopback ports.
#
#   source scripts/lib-serve.sh
#   build_release             # sets $bin (the server) and $bench_bin (the load generator)
#   start_server REPO LOG     # sets $server (pid), $grpc_url, $metrics_addr once the initial load is done
#   stop_server               # in the caller's EXIT trap

build_release() {
  scripts/install-ort.sh >/dev/null
  cargo build --release --quiet --bin switchyard --bin switchyard-bench
  bin="$PWD/target/release/switchyard"
  bench_bin="$PWD/target/release/switchyard-bench"
}

start_server() {
  local repo="$1" log="$2" listening
  "$bin" serve --model-repo "$repo" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 2>"$log" &
  server=$!
  for _ in $(seq 300); do
    grep -q '"initial repository load done"' "$log" && break
    sleep 0.1
  done
  if ! grep -q '"initial repository load done"' "$log"; then
    echo "switchyard did not finish loading in 30 s:" >&2
    tail -5 "$log" >&2
    return 1
  fi
  listening="$(grep -m1 '"listening"' "$log")"
  grpc_url="http://$(sed 's/.*"grpc_addr":"\([^"]*\)".*/\1/' <<<"$listening")"
  metrics_addr="$(sed 's/.*"metrics_addr":"\([^"]*\)".*/\1/' <<<"$listening")"
}

stop_server() {
  if [ -n "${server:-}" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
}
