# Helpers for the benchmark scripts: a free port and an nginx started from bench/nginx-bench.conf.in.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx PREFIX ROOT PORT: starts nginx in the foreground as a child; sets NGINX_PID.
start_nginx() {
  local prefix=$1 root=$2 port=$3 here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  mkdir -p "$prefix/tmp"
  sed -e "s#@PREFIX@#$prefix#g" -e "s#@ROOT@#$root#g" -e "s#@PORT@#$port#g" "$here/nginx-bench.conf.in" > "$prefix/nginx.conf"
  nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
  NGINX_PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nginx did not start" >&2
  return 1
}
