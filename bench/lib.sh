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

# ten_periodic_files WORK BASE: the served files of a device with ten periodic files under WORK/root (the
# ini, a CLI script, the periodic image and seven template files), the ini pointing at BASE.
ten_periodic_files() {
  local work=$1 base=$2
  mkdir -p "$work/root/t" "$work/root/fw"
  cat > "$work/root/dev.ini" <<INI
IniFileURL = '$base/dev.ini'
CliScriptURL = '$base/s.cli'
AutoCmpFileUrl = '$base/fw/Mediant_7.20A.250.001.cmp'
TemplateUrl = '$base/t/<FILE>'
AupdFilesList = 'fk', 'cpt', 'prt', 'vp', 'dialplan', 'usrinf', 'tlsroot'
AUPDCheckIfIniChanged = 1
INI
  printf 'configure system\n automatic-update\n  tftp-block-size 1428\n' > "$work/root/s.cli"
  head -c 65536 /dev/urandom > "$work/root/fw/Mediant_7.20A.250.001.cmp"
  echo "S/N4837234 key" > "$work/root/t/Mediant_fk.txt"
  for f in cpt.dat prt.dat vp.dat dialplan.txt usrinf.txt; do
    head -c 4096 /dev/urandom > "$work/root/t/Mediant_$f"
  done
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/ca.key" -out "$work/root/t/Mediant_root.pem" \
    -days 2 -subj '/CN=bench CA' 2>/dev/null
}
