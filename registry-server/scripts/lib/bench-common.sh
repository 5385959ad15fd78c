# Helpers shared by bench.sh and bench-s3.sh (sourced). Both scripts set `work` (the
# scratch dir holding blob-<size>.bin), `oras` and the `digests` map before calling them.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 300); do curl -fs "http://127.0.0.1:$1/v2/" >/dev/null && return; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }
now() { date +%s.%N; }
median() { python3 -c "import sys; v=sorted(map(float, sys.argv[1:])); print(f'{v[len(v)//2]:.1f}')" "$@"; }

# How many times one curl client GETs the blob (one process, one connection), so that at
# least about 100 MB is fetched and process start-up does not dominate small blobs.
per_client() { [ "$2" = curl ] && echo $(( $1 >= 100 ? 1 : 100 / $1 )) || echo 1; }

# unique_blob SIZE REP I: the name (in $work) of client I's blob of repetition REP, random
# bytes made once and pushed to every deployment (each has a store of its own).
unique_blob() {
  local f="blob-$1-u$2-$3.bin"
  [ -f "$work/$f" ] || head -c "$(($1 * 1024 * 1024))" /dev/urandom >"$work/$f"
  echo "$f"
}

# run_parallel PORT OP SIZE N REP: N concurrent clients, one repository each. OP is push or
# pull (oras) or curl (GETs of the blob into /dev/null); upush is push with content of each
# client's own (unique_blob), which no registry can have stored before.
run_parallel() {
  local port=$1 op=$2 size=$3 n=$4 rep=$5 i repo k args jobs=()
  for i in $(seq "$n"); do
    repo="bench/r$rep-s$size-c$n-$i"
    case "$op" in
      push) (cd "$work" && "$oras" push --plain-http --no-tty "127.0.0.1:$port/$repo:v1" "blob-$size.bin:application/octet-stream" >/dev/null) & ;;
      upush)
        repo="bench/u$rep-s$size-c$n-$i"
        (cd "$work" && "$oras" push --plain-http --no-tty "127.0.0.1:$port/$repo:v1" "$(unique_blob "$size" "$rep" "$i"):application/octet-stream" >/dev/null) & ;;
      pull)
        mkdir -p "$work/pull-$port-$size-$n-$i"
        "$oras" pull --plain-http --no-tty -o "$work/pull-$port-$size-$n-$i" "127.0.0.1:$port/$repo:v1" >/dev/null & ;;
      curl)
        args=()
        for k in $(seq "$(per_client "$size" curl)"); do args+=(-o /dev/null "http://127.0.0.1:$port/v2/$repo/blobs/${digests[$size]}"); done
        curl -fsS "${args[@]}" & ;;
    esac
    jobs+=($!)
  done
  local failed=0
  for j in "${jobs[@]}"; do wait "$j" || failed=1; done
  [ "$failed" = 0 ] || echo "warning: a client failed ($op $size MB x$n on port $port)" >&2
}
